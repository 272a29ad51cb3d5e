import Glibc
import GraftFoundation
import GraftKernels

extension ImageDataset {
    /// Keras's `image_dataset_from_directory(directory, ...)` for one subset
    /// (or the whole folder when `options.subset` is nil).
    public static func fromDirectory(_ directory: String, options: DatasetOptions) throws -> ImageDataset {
        try checkCommon(options)
        try checkSplit(options, allowingBoth: false)
        let (listing, seed) = try shuffledListing(directory, options)
        return try make(listing, subset: options.subset, seed: seed, options: options)
    }

    /// `subset="both"`: the training and the validation subsets of one
    /// listing, as Keras returns them.
    public static func fromDirectorySplit(_ directory: String, options: DatasetOptions) throws
        -> (training: ImageDataset, validation: ImageDataset) {
        try checkCommon(options)
        try checkSplit(options, allowingBoth: true)
        let (listing, seed) = try shuffledListing(directory, options)
        return (try make(listing, subset: .training, seed: seed, options: options),
                try make(listing, subset: .validation, seed: seed, options: options))
    }

    /// A dataset of `count` RGB images of height × width already in memory,
    /// copied (the caller's buffers may be released afterwards). Classes are
    /// named "0", "1", …; `options.imageHeight/Width` are not used.
    public static func fromMemory(bytes: UnsafePointer<UInt8>?, floats: UnsafePointer<Float>?,
                                  labels: UnsafePointer<Int32>, count: Int, height: Int, width: Int,
                                  classCount: Int, options: DatasetOptions) throws -> ImageDataset {
        var options = options
        options.imageHeight = height
        options.imageWidth = width
        try checkCommon(options)
        guard count >= 1 else { throw GraftError.invalidArgument("image count must be at least 1, not \(count)") }
        guard classCount >= 1 else { throw GraftError.invalidArgument("class count must be at least 1, not \(classCount)") }
        guard options.validationSplit == nil && options.subset == nil else {
            throw GraftError.invalidArgument("validation_split and subset apply to folders; split in-memory arrays yourself")
        }
        guard options.colorMode == .rgb else {
            throw GraftError.invalidArgument("in-memory images are RGB: color_mode must be \"rgb\", not \"\(options.colorMode.rawValue)\"")
        }
        let perImage = height * width * 3
        guard count <= Int.max / (perImage * 4) else {
            throw GraftError.invalidArgument("image count \(count) is larger than any buffer can be")
        }
        let labelArray = Array(UnsafeBufferPointer(start: labels, count: count))
        if let bad = labelArray.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw GraftError.invalidArgument("label \(labelArray[bad]) of image \(bad) is outside 0..<\(classCount)")
        }
        let source: Source
        if let bytes {
            source = .bytes(Array(UnsafeBufferPointer(start: bytes, count: count * perImage)))
        } else if let floats {
            source = .floats(Array(UnsafeBufferPointer(start: floats, count: count * perImage)))
        } else {
            throw GraftError.invalidArgument("images are NULL")
        }
        let seed = options.seed ?? UInt32.random(in: 0...999_999)
        return ImageDataset(classNames: (0..<classCount).map(String.init), filePaths: [], labels: labelArray,
                            imageHeight: height, imageWidth: width, options: options,
                            epochSeed: UInt64(seed), source: source)
    }

    // MARK: - Keras's checks and split

    static func checkCommon(_ o: DatasetOptions) throws {
        guard o.imageHeight >= 1 && o.imageWidth >= 1 && o.imageHeight <= 16384 && o.imageWidth <= 16384 else {
            throw GraftError.invalidArgument(
                "image_size must be two sizes from 1 to 16384, received: (\(o.imageHeight), \(o.imageWidth))")
        }
        guard o.batchSize >= 1 else {
            throw GraftError.invalidArgument("batch_size must be at least 1, received: \(o.batchSize)")
        }
        // Keras crops with its own resize, which offers fewer methods than tf.image.resize.
        let croppable: [Interpolation] = [.bilinear, .nearest, .lanczos3, .lanczos5, .bicubic, .area]
        guard !o.cropToAspectRatio || croppable.contains(o.interpolation) else {
            throw GraftError.invalidArgument(
                "Invalid value for argument `interpolation`. Expected of one "
                + "\(DirectoryListing.pythonList(croppable.map(\.rawValue), tuple: true)). "
                + "Received: interpolation=\(o.interpolation.rawValue) (with crop_to_aspect_ratio=True, as Keras)")
        }
        guard !(o.cropToAspectRatio && o.padToAspectRatio) else {
            throw GraftError.invalidArgument(
                "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`.")
        }
        guard o.threads >= 0 else {
            throw GraftError.invalidArgument("threads must be 0 (one per core) or more, not \(o.threads)")
        }
        try ImageDecoder.checkPixelLimit(o.pixelLimit)
    }

    static func checkSplit(_ o: DatasetOptions, allowingBoth: Bool) throws {
        if let split = o.validationSplit {
            guard split > 0 && split < 1 else {
                throw GraftError.invalidArgument("`validation_split` must be between 0 and 1, received: \(split)")
            }
        }
        let hasSubset = o.subset != nil || allowingBoth
        guard (o.validationSplit != nil) == hasSubset else {
            throw GraftError.invalidArgument("If `subset` is set, `validation_split` must be set, and inversely.")
        }
        if o.validationSplit != nil && o.shuffle && o.seed == nil {
            throw GraftError.invalidArgument(
                "If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
                + "to make sure that there is no overlap between the training and validation subset.")
        }
    }

    /// The listing, shuffled once with numpy's RandomState(seed) when
    /// shuffling (Keras draws a seed when none is given), and the seed.
    static func shuffledListing(_ directory: String, _ o: DatasetOptions) throws -> (DirectoryListing, UInt32) {
        let listing = try DirectoryListing.list(directory: directory, labels: o.labels, classNames: o.classNames,
                                                followLinks: o.followLinks)
        if o.labelMode == .binary && o.labels != .none && listing.classNames.count != 2 {
            throw GraftError.invalidArgument(
                "When passing `label_mode=\"binary\"`, there must be exactly 2 class_names. Received: "
                + "class_names=\(DirectoryListing.pythonList(listing.classNames))")
        }
        let seed = o.seed ?? UInt32.random(in: 0...999_999)
        guard o.shuffle else { return (listing, seed) }
        var paths = listing.filePaths, labels = listing.labels
        var random = NumpyRandomState(seed: seed)
        random.shuffle(&paths)
        random = NumpyRandomState(seed: seed)
        random.shuffle(&labels)
        return (DirectoryListing(classNames: listing.classNames, filePaths: paths, labels: labels), seed)
    }

    /// Keras's split: the last int(validation_split · N) images of the
    /// (shuffled) listing are the validation subset, the rest training. A
    /// split that leaves either side empty is refused (Keras would hand out
    /// an empty training set and every image for validation).
    static func make(_ listing: DirectoryListing, subset: Subset?, seed: UInt32,
                     options: DatasetOptions) throws -> ImageDataset {
        var paths = listing.filePaths, labels = listing.labels
        if let subset, let split = options.validationSplit {
            let validationCount = Int(split * Double(paths.count))
            let cut = paths.count - validationCount
            guard validationCount > 0 && cut > 0 else {
                throw GraftError.invalidArgument(
                    "validation_split \(split) of \(paths.count) images leaves \(cut) for training and \(validationCount) for validation: both need at least one")
            }
            switch subset {
            case .training:
                paths = Array(paths[..<cut])
                labels = Array(labels[..<cut])
            case .validation:
                paths = Array(paths[cut...])
                labels = Array(labels[cut...])
            }
        }
        // The two subsets reshuffle each epoch independently of each other.
        let epochSeed = UInt64(seed) << 1 | (subset == .validation ? 1 : 0)
        let fit: ImageFit = options.cropToAspectRatio ? .crop : options.padToAspectRatio ? .pad : .stretch
        return ImageDataset(classNames: listing.classNames, filePaths: paths, labels: labels,
                            imageHeight: options.imageHeight, imageWidth: options.imageWidth,
                            options: options, epochSeed: epochSeed, source: .files(fit: fit))
    }
}
