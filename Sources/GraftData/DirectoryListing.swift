import Glibc
import GraftFoundation
import GraftKernels

/// The image files of a folder with one sub-folder per class, listed as
/// Keras's image_dataset_from_directory lists them (`labels="inferred"`):
/// - classes: the sub-folders whose names do not start with ".", sorted by
///   code point (upper case before lower case), or the caller's class names
///   (a subset of them, in the caller's order);
/// - files: each class folder walked recursively, folders in code-point order
///   of their paths, the files of each folder in code-point order, kept when
///   the lower-cased name ends with .bmp, .gif, .jpeg, .jpg or .png;
/// - paths: joined onto `directory` as given, as os.path.join does.
public struct DirectoryListing: Equatable {
    public let classNames: [String]
    public let filePaths: [String]
    public let labels: [Int32]

    public static let imageExtensions = [".bmp", ".gif", ".jpeg", ".jpg", ".png"]

    public init(classNames: [String], filePaths: [String], labels: [Int32]) {
        self.classNames = classNames
        self.filePaths = filePaths
        self.labels = labels
    }

    /// The listing for Keras's `labels`: class folders when inferred, else
    /// every image under `directory` (folders walked as a class folder is),
    /// with the caller's labels or none.
    public static func list(directory: String, labels: LabelSource, classNames: [String]? = nil,
                            followLinks: Bool = false) throws -> DirectoryListing {
        if case .inferred = labels {
            return try list(directory: directory, classNames: classNames, followLinks: followLinks)
        }
        guard classNames == nil else {
            throw GraftError.invalidArgument("You can only pass `class_names` if `labels=\"inferred\"`.")
        }
        try checkDirectory(directory)
        let files = try imageFiles(under: directory, followLinks: followLinks)
        guard !files.isEmpty else { throw noImages(in: directory) }
        guard case let .list(given) = labels else {
            return DirectoryListing(classNames: [], filePaths: files, labels: Array(repeating: 0, count: files.count))
        }
        guard given.count == files.count else {
            throw GraftError.invalidArgument(
                "Expected the lengths of `labels` to match the number of files in the target directory. len(labels) "
                + "is \(given.count) while we found \(files.count) files in directory \(directory).")
        }
        // Keras names the classes after the sorted distinct labels; Graft's
        // classes are indices, so those must be 0, 1, ..., k-1.
        let distinct = Set(given).sorted()
        guard distinct.first == 0, distinct.last == Int32(distinct.count - 1) else {
            throw GraftError.invalidArgument(
                "labels must be the class indices 0, 1, ..., k-1 (Graft's classes are indices; Keras takes any "
                + "integers): received the distinct labels \(distinct)")
        }
        return DirectoryListing(classNames: distinct.map { String($0) }, filePaths: files, labels: given)
    }

    /// Keras's listing with `labels="inferred"`.
    public static func list(directory: String, classNames requested: [String]? = nil,
                            followLinks: Bool = false) throws -> DirectoryListing {
        try checkDirectory(directory)
        let isClassFolder = { (name: String, isFolder: Bool) in isFolder && !name.hasPrefix(".") }
        let folders = try entries(of: directory, refusingUndecodable: isClassFolder)
            .filter { isClassFolder($0, isDirectory(join(directory, $0))) }
        guard !folders.isEmpty else {
            throw GraftError.invalidArgument(
                "\(directory) has no class folders: image_dataset_from_directory needs one sub-folder of images per class")
        }
        var classNames = folders
        if let requested {
            // Names are compared as bytes, as Python compares them: an NFC and
            // an NFD "é" are two different folders (Swift's == would merge them).
            let bytes = Set(folders.map { Array($0.utf8) })
            let unknown = requested.filter { !bytes.contains(Array($0.utf8)) }
            let distinct = Set(requested.map { Array($0.utf8) }).count == requested.count
            guard unknown.isEmpty else {
                throw GraftError.invalidArgument(
                    "The `class_names` passed did not match the names of the subdirectories of the target directory. "
                    + "Expected: \(pythonList(folders)) (or a subset of it), but received: class_names=\(pythonList(requested))")
            }
            guard !requested.isEmpty, distinct else {
                throw GraftError.invalidArgument(
                    "class_names must name at least one class folder, each once (Graft refuses what Keras would list "
                    + "as no class or a class twice): received \(pythonList(requested))")
            }
            classNames = requested
        }

        let classFiles = try classNames.map { try imageFiles(under: join(directory, $0), followLinks: followLinks) }
        guard classFiles.contains(where: { !$0.isEmpty }) else { throw noImages(in: directory) }
        var paths: [String] = [], labels: [Int32] = []
        for (label, files) in classFiles.enumerated() {
            guard !files.isEmpty else {
                throw GraftError.invalidArgument(
                    "class folder \(join(directory, classNames[label])) has no images (allowed: "
                    + "\(imageExtensions.joined(separator: " "))): Graft refuses a class without images, "
                    + "which Keras would list")
            }
            paths += files
            labels += Array(repeating: Int32(label), count: files.count)
        }
        return DirectoryListing(classNames: classNames, filePaths: paths, labels: labels)
    }

    static func checkDirectory(_ directory: String) throws {
        guard isDirectory(directory) else {
            throw GraftError.io(access(directory, F_OK) == 0
                ? "\(directory) is not a directory"
                : "directory not found: \(directory)")
        }
    }

    static func noImages(in directory: String) -> GraftError {
        .invalidArgument("No images found in directory \(directory). Allowed formats: \(pythonList(imageExtensions, tuple: true))")
    }

    /// Names as Python prints a list (or tuple) of strings, as Keras's messages show them.
    static func pythonList(_ names: [String], tuple: Bool = false) -> String {
        let items = names.map { "'\($0)'" }.joined(separator: ", ")
        return tuple ? "(\(items))" : "[\(items)]"
    }

    /// Every image file under `root`, in Keras's order: folders sorted by
    /// their full path, files sorted within each folder.
    static func imageFiles(under root: String, followLinks: Bool) throws -> [String] {
        var folders: [(path: String, files: [String])] = []
        var pending = [root]
        while let folder = pending.popLast() {
            var files: [String] = []
            for name in try entries(of: folder, refusingUndecodable: { $1 || hasImageExtension($0) }) {
                let path = join(folder, name)
                if isDirectory(path) {
                    if followLinks || !isSymbolicLink(path) { pending.append(path) }
                } else if hasImageExtension(name) {
                    files.append(name)
                }
            }
            folders.append((folder, files))
        }
        folders.sort { codePointOrder($0.path, $1.path) }
        return folders.flatMap { folder in folder.files.map { join(folder.path, $0) } }
    }

    static func hasImageExtension(_ name: String) -> Bool {
        let lower = name.lowercased()
        return imageExtensions.contains { lower.hasSuffix($0) }
    }

    /// The names in a folder (without "." and ".."), sorted by code point.
    /// A name that is not valid UTF-8 cannot be a String that names the file
    /// again: it is refused when `matters(name, isFolder)` says the listing
    /// would use it (as Keras refuses it), and left out otherwise (a stray
    /// file of another kind).
    static func entries(of folder: String, refusingUndecodable matters: (String, Bool) -> Bool) throws -> [String] {
        guard let dir = opendir(folder) else {
            throw GraftError.io("cannot read directory \(folder): \(systemErrorText(errno))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let bytes = directoryEntryName(entry)
            guard let name = String(validating: bytes, as: UTF8.self) else {
                let shown = String(decoding: bytes, as: UTF8.self)
                var info = stat()
                let rawName = bytes.map { CChar(bitPattern: $0) } + [0]
                let isFolder = fstatat(dirfd(dir), rawName, &info, 0) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
                if matters(shown, isFolder) {
                    throw GraftError.invalidArgument(
                        "\(folder) holds a \(isFolder ? "folder" : "file") whose name is not valid UTF-8 "
                            + "(\(escaped(bytes))): image_dataset_from_directory needs UTF-8 names, as Keras does")
                }
                continue
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted(by: codePointOrder)
    }

    /// A name's bytes as Python shows them: printable ASCII as itself, other
    /// bytes as \xNN.
    static func escaped(_ bytes: [UInt8]) -> String {
        bytes.map { (32..<127).contains($0) && $0 != 92 ? String(UnicodeScalar($0)) : "\\x" + hex($0) }.joined()
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }

    /// Python's string order: by code point, which for UTF-8 is byte order.
    static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// os.path.join for a relative name.
    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }
}
