import Glibc
import GraftFoundation
import GraftKernels

/// A dataset's images as `loadImage` gives them (decoded and resized),
/// kept after the pass that first loads them so that later passes copy them
/// instead of decoding again. Loading is a pure function of the file, so the
/// pixels are the ones a new decoding gives.
///
/// For fits whose augmentation makes new images every epoch, where nothing
/// after the augmentation can be cached. The loading threads of a batch
/// fill distinct images; a batch is loaded only after the one before it
/// finished, so no image is read while it is written.
public final class DecodedImageCache {
    /// The dataset's `generation`.
    public let dataset: Int
    private let imageFloats: Int
    private let storage: UnsafeMutablePointer<Float>
    /// One byte per image: 1 once its pixels are stored.
    private let filled: UnsafeMutablePointer<UInt8>

    /// A cache for `dataset`'s images, or nil when they are not decoded from
    /// files (an in-memory dataset's loading is a copy already) or would take
    /// more than `memoryLimit` bytes (or more memory than is free).
    public init?(for dataset: ImageDataset, memoryLimit: Int) {
        guard case .files = dataset.source else { return nil }
        let (floats, overflow) = dataset.count.multipliedReportingOverflow(by: dataset.imageFloats)
        guard !overflow, floats <= memoryLimit / MemoryLayout<Float>.size,
              let storage = try? tryAllocateFloats(floats) else { return nil }
        self.dataset = dataset.generation
        imageFloats = dataset.imageFloats
        self.storage = storage
        filled = .allocate(capacity: max(dataset.count, 1))
        filled.initialize(repeating: 0, count: max(dataset.count, 1))
    }

    deinit {
        free(storage)
        filled.deallocate()
    }

    /// Copies image `index` to `output` if it is stored; false otherwise.
    func copy(_ index: Int, to output: UnsafeMutablePointer<Float>) -> Bool {
        guard filled[index] != 0 else { return false }
        output.update(from: storage + index * imageFloats, count: imageFloats)
        return true
    }

    /// Stores image `index`, just loaded, from `pixels`.
    func store(_ index: Int, from pixels: UnsafePointer<Float>) {
        (storage + index * imageFloats).update(from: pixels, count: imageFloats)
        filled[index] = 1
    }
}
