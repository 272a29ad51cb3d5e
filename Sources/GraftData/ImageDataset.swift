import Glibc
import GraftFoundation
import GraftKernels

/// How labels are handed out, with Keras's names. Batches carry class
/// indices; the other modes are how the Python package formats them.
public enum LabelMode: String, CaseIterable {
    /// Class indices (int32).
    case int
    /// One-hot float32 vectors.
    case categorical
    /// float32 0 or 1, of exactly two classes.
    case binary
}

/// Where a folder's labels come from: Keras's `labels` argument.
public enum LabelSource: Equatable {
    /// One sub-folder per class (`labels="inferred"`).
    case inferred
    /// No labels: every image under the folder (`labels=None`).
    case none
    /// The caller's, one per image under the folder in Keras's file order
    /// (`labels=[...]`); the classes are named after the distinct labels.
    case list([Int32])
}

/// How an image of another aspect ratio than the target's is resized.
public enum ImageFit: Equatable {
    /// Resized whole, its aspect ratio changed (Keras's default).
    case stretch
    /// The largest centred box of the target's aspect ratio, resized
    /// (crop_to_aspect_ratio).
    case crop
    /// Resized whole to fit, centred, padded with zeros (pad_to_aspect_ratio).
    case pad
}

/// Which part of a validation split a dataset holds.
public enum Subset: String, CaseIterable {
    case training, validation
}

/// image_dataset_from_directory's arguments, with Keras's defaults.
public struct DatasetOptions {
    public var imageHeight = 256
    public var imageWidth = 256
    public var batchSize = 32
    public var shuffle = true
    /// Seed of the listing's one-time shuffle (numpy's RandomState, as Keras)
    /// and of Graft's per-epoch reshuffle. Keras needs one with a validation
    /// split; without a split, nil draws one at random.
    public var seed: UInt32?
    /// Fraction of the images held out for validation; nil for no split.
    public var validationSplit: Double?
    public var subset: Subset?
    public var labelMode: LabelMode = .int
    public var labels: LabelSource = .inferred
    /// The classes to keep, in this order (a subset of the folders); nil for all.
    public var classNames: [String]?
    public var cropToAspectRatio = false
    /// Keras's pad_to_aspect_ratio: scaled to fit, centred, padded with zeros.
    public var padToAspectRatio = false
    public var interpolation = Interpolation.bilinear
    /// The channels images are decoded to (Keras's color_mode).
    public var colorMode = ColorMode.rgb
    public var followLinks = false
    /// Graft's addition: drop unreadable images with a warning instead of
    /// failing the pass.
    public var skipCorruptFiles = false
    /// Decoding threads; 0 means one per core.
    public var threads = 0
    /// Graft's addition: images of more pixels are refused before they are
    /// decoded (an error, or skipped with `skipCorruptFiles`).
    public var pixelLimit = ImageDecoder.defaultPixelLimit

    public init() {}
}

/// A set of labelled images, handed out in batches: the files of a folder
/// tree (decoded and resized on worker threads as they are needed, so that a
/// folder of any size needs only a few batches in memory) or images held in
/// memory.
///
/// Thread safety: a dataset's configuration is immutable; iterators are
/// independent objects, one per pass.
public final class ImageDataset {
    public let classNames: [String]
    /// The files in Keras's `file_paths` order (empty for in-memory images).
    public let filePaths: [String]
    /// Whether the images come from class folders, whose names are then the
    /// class names (in-memory images have classes "0", "1", …).
    public var isFromDirectory: Bool { !filePaths.isEmpty }
    /// Class index of each image, in the same order (0 for every image of
    /// a dataset without labels).
    public let labels: [Int32]
    /// Whether the images have labels (not `labels=None`): a dataset
    /// without them has no classes, and can only be predicted on.
    public var hasLabels: Bool { !classNames.isEmpty }
    public let imageHeight: Int, imageWidth: Int
    /// The images' channels: RGB, or from a folder, its color_mode's.
    public let colorMode: ColorMode
    public let batchSize: Int
    public let shuffle: Bool
    public let labelMode: LabelMode
    public let threads: Int
    let skipCorruptFiles: Bool
    let pixelLimit: Int
    let interpolation: Interpolation
    /// Seeds Graft's per-epoch reshuffle.
    let epochSeed: UInt64
    let source: Source
    /// Passes made so far: each gets its own shuffle.
    private let epochs = AtomicCounter()
    /// Tells this dataset from every other made in the process, freed ones
    /// included (an address is reused once its dataset is freed, this
    /// number never is): what caches of data derived from its images are
    /// keyed by.
    public let generation = ImageDataset.generations.increment()
    private static let generations = AtomicCounter()

    enum Source {
        case files(fit: ImageFit)
        /// Images already at (imageHeight, imageWidth), RGB 0…255 (the
        /// dataset's color_mode is RGB).
        case bytes([UInt8])
        case floats([Float])
    }

    public var count: Int { labels.count }
    public var batchCount: Int { (count + batchSize - 1) / batchSize }
    /// Floats of one image.
    public var imageFloats: Int { imageHeight * imageWidth * colorMode.channels }

    init(classNames: [String], filePaths: [String], labels: [Int32], imageHeight: Int, imageWidth: Int,
         options: DatasetOptions, epochSeed: UInt64, source: Source) {
        self.classNames = classNames
        self.filePaths = filePaths
        self.labels = labels
        self.imageHeight = imageHeight
        self.imageWidth = imageWidth
        self.batchSize = options.batchSize
        self.shuffle = options.shuffle
        self.labelMode = options.labelMode
        self.threads = options.threads == 0 ? Parallel.coreCount : options.threads
        self.skipCorruptFiles = options.skipCorruptFiles
        self.pixelLimit = options.pixelLimit
        self.interpolation = options.interpolation
        if case .files = source { colorMode = options.colorMode } else { colorMode = .rgb }
        self.epochSeed = epochSeed
        self.source = source
    }

    /// The error of a pass that gave no image: every file of a dataset that
    /// skips unreadable ones was unreadable.
    public static func nothingRead(role: String) -> GraftError {
        .format("no image of the \(role) dataset could be read: every file was skipped as unreadable")
    }

    /// The order of one pass: the listing order, or a fresh permutation for
    /// each epoch when shuffling (from the seed, so reproducible).
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard shuffle else { return order }
        var random = SplitMix64(seed: epochSeed ^ (UInt64(truncatingIfNeeded: epoch) &* SeedSalt.epochShuffle))
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        return order
    }

    /// A new pass over the dataset, batches prepared ahead on worker
    /// threads: in the order of `epoch` (fit's epoch index, so that a fit
    /// resumed at epoch k sees what an uninterrupted one saw), or of the
    /// dataset's next pass.
    /// `skip(index)` true: the caller does not need image `index`'s pixels
    /// (it has what it computes from them), so it is not decoded and its
    /// slot in the batch holds unspecified values. Asked on the calling
    /// thread, one batch ahead. `batches`: the pass's batches to hand out
    /// (default: all of them). `augmentation`: layers applied to each
    /// image as it is loaded, on the same worker threads, with the draws of
    /// its index in this pass (they must keep the image's size). `decoded`:
    /// where images are copied from instead of decoded when a pass before
    /// stored them there, and stored when decoded. `shard`: only this
    /// process's part of each batch is loaded and handed out.
    public func makeIterator(epoch: Int? = nil, skip: ((Int) -> Bool)? = nil, batches: Range<Int>? = nil,
                             augmentation: Augmentation? = nil, decoded: DecodedImageCache? = nil,
                             shard: DataShard? = nil) -> BatchIterator {
        precondition(decoded == nil || decoded!.dataset == generation, "the decoded images of another dataset")
        let pass = epoch ?? epochs.increment()
        return BatchIterator(dataset: self, order: order(epoch: pass), skip: skip, batches: batches ?? 0..<batchCount,
                             augmentation: augmentation.map { ($0, pass) }, decoded: decoded, shard: shard)
    }

    /// Writes image `index` (imageHeight × imageWidth × channels floats, 0…255).
    func loadImage(_ index: Int, into output: UnsafeMutablePointer<Float>) throws {
        switch source {
        case .files(let fit):
            let image = try ImageDecoder.decodeFile(filePaths[index], mode: colorMode, pixelLimit: pixelLimit)
            let channels = image.channels
            let whole = ImageRegion.whole(height: image.height, width: image.width)
            image.pixels.withUnsafeBufferPointer { pixels in
                switch fit {
                case .stretch, .crop:
                    let region = fit == .crop
                        ? ImageRegion.centredCrop(height: image.height, width: image.width,
                                                  targetHeight: imageHeight, targetWidth: imageWidth)
                        : whole
                    interpolation.resize(pixels.baseAddress!, height: image.height, width: image.width,
                                         channels: channels, region: region, outHeight: imageHeight,
                                         outWidth: imageWidth, into: output)
                case .pad:
                    let place = PaddedPlacement(height: image.height, width: image.width,
                                                targetHeight: imageHeight, targetWidth: imageWidth)
                    var resized = [Float](repeating: 0, count: place.height * place.width * channels)
                    interpolation.resize(pixels.baseAddress!, height: image.height, width: image.width,
                                         channels: channels, region: whole, outHeight: place.height,
                                         outWidth: place.width, into: &resized)
                    output.update(repeating: 0, count: imageFloats)
                    let rowFloats = place.width * channels
                    for y in 0..<place.height {
                        let start = ((place.top + y) * imageWidth + place.left) * channels
                        resized.withUnsafeBufferPointer {
                            (output + start).update(from: $0.baseAddress! + y * rowFloats, count: rowFloats)
                        }
                    }
                }
            }
        case .bytes(let bytes):
            let start = index * imageFloats
            for i in 0..<imageFloats { output[i] = Float(bytes[start + i]) }
        case .floats(let floats):
            floats.withUnsafeBufferPointer { output.update(from: $0.baseAddress! + index * imageFloats, count: imageFloats) }
        }
    }
}
