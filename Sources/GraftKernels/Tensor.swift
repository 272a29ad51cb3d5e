import Glibc
import GraftFoundation

/// A dense Float32 array with a shape, laid out row-major (activations are
/// NHWC, convolution kernels HWIO as Keras stores them).
///
/// The storage is 64-byte aligned and owned by the tensor. `Tensor` is a class
/// so that large buffers are never copied by accident; kernels work on its
/// `data` pointer directly. The pointer is valid only while the tensor is
/// alive, and Swift may end a local's life at its last use: a tensor whose
/// only use is `t.data` passed to a call must be kept alive across the call
/// (`withExtendedLifetime(t) { … }`).
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>

    /// A zero-filled tensor.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = allocateFloats(count)
        data.initialize(repeating: 0, count: count)
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { free(data) }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: data, count: count)
    }

    public var array: [Float] { Array(buffer) }

    public func copy() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }
}

/// 64-byte aligned, uninitialised Float storage, released with `free`.
/// Traps when memory is exhausted: for small, bounded allocations only; large
/// buffers sized by the caller's input go through `tryAllocateFloats`.
public func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    guard let p = try? tryAllocateFloats(count) else {
        fatalError("out of memory allocating \(count) floats")
    }
    return p
}

/// Buffers of at least this many bytes start on a 2 MiB boundary and ask
/// for transparent huge pages (Linux's default is to give them only where
/// asked): a training step streams about a gigabyte of activations, which
/// 4 KiB pages spread over more TLB entries than exist (bench/HISTORY.md has
/// the measurement). The page at a buffer's end stays small, so peak RSS
/// does not grow.
let hugePageBytes = 1 << 21

/// 64-byte aligned (2 MiB from `hugePageBytes` up), uninitialised Float
/// storage, released with `free`, or an out-of-memory error.
public func tryAllocateFloats(_ count: Int) throws -> UnsafeMutablePointer<Float> {
    var raw: UnsafeMutableRawPointer?
    let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
    let huge = !overflow && bytes >= hugePageBytes
    guard !overflow, posix_memalign(&raw, huge ? hugePageBytes : 64, bytes) == 0, let raw else {
        throw GraftError(.outOfMemory, "out of memory: cannot allocate \(count) floats")
    }
    // A hint only: where the system has no transparent huge pages, small
    // pages serve as before.
    if huge { madvise(raw, bytes, MADV_HUGEPAGE) }
    return raw.bindMemory(to: Float.self, capacity: max(count, 1))
}

/// Whether a pass should write an output of `floats` floats (all of it,
/// over the threads) past the caches, with non-temporal stores: from 4 MiB,
/// twice the L2 of this machine's two cores, the output is gone from cache
/// before the next layer reads it, and streaming it saves reading each of
/// its lines in before writing it (bench/HISTORY.md has the measurement).
public func streamsOutput(floats: Int) -> Bool { floats >= (4 << 20) / MemoryLayout<Float>.stride }
