import Glibc
import GraftFoundation
import GraftKernels

/// The frozen base's output per image (and per flip variant), computed once
/// and reused in every later epoch: while the base is frozen it is a pure
/// function of the image, so the numbers are the ones a recomputation gives.
///
/// The slots live in memory up to `memoryLimit` bytes; a larger cache lives
/// in an unlinked temporary file mapped into memory, so that the kernel can
/// page it out instead of the process running out of memory.
final class FeatureCache {
    let featureFloats: Int
    let images: Int
    let variants: Int
    private let storage: UnsafeMutablePointer<Float>
    private let bytes: Int
    private let mapped: Bool
    private var filled: [Bool]

    init(images: Int, variants: Int, featureFloats: Int, memoryLimit: Int) throws {
        self.images = images
        self.variants = variants
        self.featureFloats = featureFloats
        let (count, overflow) = images.multipliedReportingOverflow(by: variants * featureFloats)
        guard !overflow, count < Int.max / 4 else {
            throw GraftError(.outOfMemory, "the feature cache for \(images) images would not fit in memory")
        }
        bytes = max(count * 4, 4)
        filled = Array(repeating: false, count: images * variants)
        if bytes <= memoryLimit {
            storage = try tryAllocateFloats(count)
            mapped = false
            return
        }
        var template = Array("/tmp/graft-features-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw GraftError.io("cannot create a temporary file for the feature cache: \(systemErrorText(errno))") }
        defer { close(fd) }
        unlink(&template)
        guard ftruncate(fd, off_t(bytes)) == 0,
              let region = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
              region != MAP_FAILED else {
            throw GraftError.io("cannot map \(bytes) bytes for the feature cache: \(systemErrorText(errno))")
        }
        storage = region.bindMemory(to: Float.self, capacity: count)
        mapped = true
    }

    deinit {
        if mapped { munmap(storage, bytes) } else { free(storage) }
    }

    private func slot(_ image: Int, _ variant: Int) -> Int { image * variants + variant }

    /// The stored features of an image, or nil when not computed yet.
    func features(image: Int, variant: Int) -> UnsafeMutablePointer<Float>? {
        filled[slot(image, variant)] ? storage + slot(image, variant) * featureFloats : nil
    }

    /// Where an image's features go; `markFilled` once they are written.
    func destination(image: Int, variant: Int) -> UnsafeMutablePointer<Float> {
        storage + slot(image, variant) * featureFloats
    }

    func markFilled(image: Int, variant: Int) {
        filled[slot(image, variant)] = true
    }
}
