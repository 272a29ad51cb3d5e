import Glibc
import GraftFoundation
import GraftKernels

/// One batch: `count` images (count × height × width × 3 floats, RGB 0…255)
/// and their labels, plus each image's index in the dataset's listing.
/// Iterated by shard (`DataShard`), a process's part of the batch:
/// `position` is the place of its first image in the whole batch.
public struct Batch {
    /// The iterator's buffer, kept alive by the batch; the iterator refills
    /// it two calls of `next()` later.
    private let storage: Tensor
    public let labels: [Int32]
    public let indices: [Int]
    public let position: Int

    init(storage: Tensor, labels: [Int32], indices: [Int], position: Int = 0) {
        self.storage = storage
        self.labels = labels
        self.indices = indices
        self.position = position
    }

    public var images: UnsafePointer<Float> { UnsafePointer(storage.data) }
    public var count: Int { labels.count }
}

/// One process's part of every batch, in data-parallel training: process
/// `rank` of `size` takes images `range(of:)` of each batch, contiguous and
/// near-equal, so that the processes' parts are disjoint and cover the batch.
public struct DataShard: Equatable, Sendable {
    public let rank: Int
    public let size: Int

    public init(rank: Int, size: Int) {
        precondition(size >= 1 && (0..<size).contains(rank), "rank \(rank) of \(size)")
        self.rank = rank
        self.size = size
    }

    /// This process's images of a batch of `count`.
    public func range(of count: Int) -> Range<Int> {
        (count * rank / size)..<(count * (rank + 1) / size)
    }
}

/// One pass over a dataset. While the caller works on batch k, batch k+1 is
/// decoded and resized on worker threads into the other of two buffers: the
/// pipeline never holds more than two batches, whatever the dataset's size.
///
/// A batch's images stay valid until the next call to `next()`.
///
/// The batches are prepared on `BackgroundTask`s, which fork() waits for: a
/// pass goes on in a child forked in the middle of it.
public final class BatchIterator {
    public let dataset: ImageDataset
    public let order: [Int]
    /// Images whose pixels the caller does not need (see makeIterator).
    private let skip: ((Int) -> Bool)?
    private var buffers: [Tensor]
    private var nextBatch: Int
    /// The batches of the pass this iterator hands out.
    private let batches: Range<Int>
    /// Applied to each image loaded, with the draws of this pass.
    private let augmentation: (layers: Augmentation, pass: Int)?
    /// Images decoded by an earlier pass, and where this one stores them.
    private let decoded: DecodedImageCache?
    /// The part of each batch this iterator hands out, or nil: all of it.
    private let shard: DataShard?
    private var pending: Pending?

    /// A batch being prepared in the background.
    private final class Pending: @unchecked Sendable {
        let batch: Int
        var task: BackgroundTask?
        let position: Int
        var indices: [Int] = []
        var error: Error?
        init(batch: Int, position: Int) {
            self.batch = batch
            self.position = position
        }
    }

    init(dataset: ImageDataset, order: [Int], skip: ((Int) -> Bool)?, batches: Range<Int>,
         augmentation: (layers: Augmentation, pass: Int)?, decoded: DecodedImageCache?, shard: DataShard?) {
        if let augmentation {
            let size = augmentation.layers.outputSize(height: dataset.imageHeight, width: dataset.imageWidth)
            precondition(size.height == dataset.imageHeight && size.width == dataset.imageWidth,
                         "the augmentation changes the image size")
        }
        self.dataset = dataset
        self.order = order
        self.skip = skip
        self.batches = batches
        self.augmentation = augmentation
        self.decoded = decoded
        self.shard = shard
        nextBatch = batches.lowerBound
        let floats = dataset.batchSize * dataset.imageFloats
        buffers = [Tensor(shape: [floats]), Tensor(shape: [floats])]
        prefetch(nextBatch)
    }

    deinit {
        // A batch may still be loading into our buffers.
        pending?.task?.wait()
    }

    /// The next batch, or nil at the end of the pass. Throws when an image
    /// cannot be read (naming the file), unless the dataset skips such files.
    /// A batch is never empty: one whose every image was skipped is passed
    /// over (an empty batch would read as the end of the pass). A shard can
    /// be: every process gets one part of each batch, so that they step
    /// together.
    public func next() throws -> Batch? {
        while let current = pending {
            current.task?.wait()
            pending = nil
            if let error = current.error { throw error }
            nextBatch = current.batch + 1
            prefetch(nextBatch)
            guard !current.indices.isEmpty || shard != nil else { continue }
            let labels = current.indices.map { dataset.labels[$0] }
            return Batch(storage: buffers[current.batch % 2], labels: labels, indices: current.indices,
                         position: current.position)
        }
        return nil
    }

    private func prefetch(_ batch: Int) {
        let start = batch * dataset.batchSize
        guard batches.contains(batch) && start < order.count else { return }
        let whole = start..<min(start + dataset.batchSize, order.count)
        let part = shard?.range(of: whole.count) ?? 0..<whole.count
        let job = Pending(batch: batch, position: part.lowerBound)
        pending = job
        let indices = Array(order[(whole.lowerBound + part.lowerBound)..<(whole.lowerBound + part.upperBound)])
        // Asked here, on the caller's thread, not on the loading one.
        let needed = indices.map { skip?($0) != true }
        let buffer = buffers[batch % 2]
        let (dataset, augmentation, decoded) = (self.dataset, self.augmentation, self.decoded)
        job.task = BackgroundTask {
            do {
                job.indices = try BatchIterator.load(indices, needed: needed, of: dataset, decoded: decoded,
                                                     augmentation: augmentation, into: buffer.data)
            } catch {
                job.error = error
            }
        }
    }

    /// Loads the `needed` images in parallel (copied from `decoded` when
    /// stored there, else decoded and stored), each augmented by the thread
    /// that loaded it (the others' slots are left as they are); returns the
    /// indices kept (all of them unless unreadable files are skipped),
    /// packed in order.
    private static func load(_ indices: [Int], needed: [Bool], of dataset: ImageDataset, decoded: DecodedImageCache?,
                             augmentation: (layers: Augmentation, pass: Int)?,
                             into buffer: UnsafeMutablePointer<Float>) throws -> [Int] {
        let floats = dataset.imageFloats
        var errors = [Error?](repeating: nil, count: indices.count)
        let scratch = AugmentationScratch.perThread(augmentation == nil ? 0 : dataset.threads)
        errors.withUnsafeMutableBufferPointer { errors in
            Parallel.forEach(indices.count, threads: dataset.threads) { i, worker in
                guard needed[i] else { return }
                do {
                    let image = buffer + i * floats
                    if decoded?.copy(indices[i], to: image) != true {
                        try dataset.loadImage(indices[i], into: image)
                        decoded?.store(indices[i], from: image)
                    }
                    augmentation?.layers.apply(inPlace: image, height: dataset.imageHeight,
                                               width: dataset.imageWidth, channels: dataset.colorMode.channels,
                                               scratch: scratch[worker], epoch: augmentation!.pass, index: indices[i])
                } catch {
                    errors[i] = error
                }
            }
        }
        if !dataset.skipCorruptFiles, let error = errors.compactMap({ $0 }).first { throw error }
        var kept: [Int] = []
        for (i, index) in indices.enumerated() {
            if let error = errors[i] {
                fputs("graft: warning: skipping an unreadable image: \(error)\n", stderr)
                continue
            }
            if kept.count != i { (buffer + kept.count * floats).update(from: buffer + i * floats, count: floats) }
            kept.append(index)
        }
        return kept
    }
}
