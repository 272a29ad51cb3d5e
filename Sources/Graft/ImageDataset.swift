import GraftData

/// Labelled RGB images handed out in batches: a folder of class folders read
/// as Keras's `image_dataset_from_directory` reads it (the same files in the
/// same order, the same split for a seed, the same pixels), or arrays in memory.
///
/// Images are decoded and resized on worker threads while the network computes.
public final class ImageDataset {
    let core: GraftData.ImageDataset

    init(_ core: GraftData.ImageDataset) {
        self.core = core
    }

    /// The class names: the folder names in alphabetical order, or "0", "1", ...
    public var classNames: [String] { core.classNames }
    /// How many images the dataset holds.
    public var count: Int { core.count }
    /// The images' files, in the dataset's order (empty for arrays).
    public var filePaths: [String] { core.filePaths }

    /// The images under `directory` (one sub-folder per class), as Keras's
    /// `image_dataset_from_directory(directory, image_size=..., batch_size=...,
    /// shuffle=..., seed=...)`.
    public static func fromDirectory(_ directory: String, imageSize: ImageSize = ImageSize(256),
                                     batchSize: Int = 32, shuffle: Bool = true, seed: UInt32? = nil) throws -> ImageDataset {
        let options = datasetOptions(imageSize: imageSize, batchSize: batchSize, shuffle: shuffle, seed: seed)
        return ImageDataset(try GraftData.ImageDataset.fromDirectory(directory, options: options))
    }

    /// The images under `directory` split into training and validation sets,
    /// as Keras's `image_dataset_from_directory(..., validation_split=...,
    /// subset="both", seed=...)`.
    public static func fromDirectory(_ directory: String, validationSplit: Double, seed: UInt32,
                                     imageSize: ImageSize = ImageSize(256), batchSize: Int = 32)
        throws -> (training: ImageDataset, validation: ImageDataset) {
        var options = datasetOptions(imageSize: imageSize, batchSize: batchSize, shuffle: true, seed: seed)
        options.validationSplit = validationSplit
        let (training, validation) = try GraftData.ImageDataset.fromDirectorySplit(directory, options: options)
        return (ImageDataset(training), ImageDataset(validation))
    }

    /// `labels.count` RGB images of `imageSize` in memory, pixel values 0...255
    /// in NHWC order, copied; labels are class indices below `classCount`.
    public static func fromArrays(images: [UInt8], labels: [Int32], imageSize: ImageSize, classCount: Int,
                                  batchSize: Int = 32, shuffle: Bool = true, seed: UInt32? = nil) throws -> ImageDataset {
        guard !labels.isEmpty else { throw GraftError.invalidArgument("a dataset needs at least one image") }
        guard imageSize.height > 0, imageSize.width > 0,
              images.count / labels.count / 3 / imageSize.height == imageSize.width,
              images.count == labels.count * 3 * imageSize.height * imageSize.width else {
            throw GraftError.invalidArgument("\(images.count) pixel values do not make \(labels.count) images of "
                                             + "\(imageSize.height)x\(imageSize.width)x3")
        }
        let options = datasetOptions(imageSize: imageSize, batchSize: batchSize, shuffle: shuffle, seed: seed)
        let core = try images.withUnsafeBufferPointer { pixels in
            try labels.withUnsafeBufferPointer { labels in
                try GraftData.ImageDataset.fromMemory(bytes: pixels.baseAddress, floats: nil, labels: labels.baseAddress!,
                                                      count: labels.count, height: imageSize.height,
                                                      width: imageSize.width, classCount: classCount, options: options)
            }
        }
        return ImageDataset(core)
    }

    private static func datasetOptions(imageSize: ImageSize, batchSize: Int, shuffle: Bool, seed: UInt32?) -> DatasetOptions {
        var options = DatasetOptions()
        (options.imageHeight, options.imageWidth) = (imageSize.height, imageSize.width)
        (options.batchSize, options.shuffle, options.seed) = (batchSize, shuffle, seed)
        return options
    }
}
