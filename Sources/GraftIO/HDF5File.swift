import CHDF5
import Glibc
import GraftFoundation

/// A read-only HDF5 file: the few operations a Keras weight file needs
/// (string attributes, group tests, Float32 datasets), with every failure
/// turned into a `GraftError` that names the file and the object.
///
/// The system's HDF5 is the serial build, which is not thread-safe: every
/// call into it holds `HDF5File.mutex`.
///
/// Files are untrusted: reads stay inside the file (external links, external
/// storage and virtual datasets, which name other files, are refused, and
/// so are filters other than HDF5's built-in ones, which would load plugins),
/// and every size is checked before anything is allocated or read for it.
public final class HDF5File {
    public let path: String
    private let id: hid_t

    static let mutex = Lock()

    public init(readingFrom path: String) throws {
        self.path = path
        guard access(path, F_OK) == 0 else {
            throw GraftError.io("weights file not found: \(path)")
        }
        guard isReadableFile(path) else {
            throw GraftError.io("weights file is not a readable file: \(path)")
        }
        let id: hid_t = HDF5File.locked {
            HDF5File.silenceErrorStack()
            return H5Fopen(path, graft_h5f_acc_rdonly(), graft_h5p_default())
        }
        guard id >= 0 else {
            throw GraftError.format("\(path) is not a valid HDF5 file (corrupt, truncated or of another format)")
        }
        self.id = id
    }

    /// Opens the HDF5 file held in `image` (a member of a `.keras`
    /// archive) in memory; `path` names it in errors.
    public init(image: [UInt8], path: String) throws {
        self.path = path
        let id: hid_t = HDF5File.locked {
            HDF5File.silenceErrorStack()
            let access = H5Pcreate(graft_h5p_file_access())
            guard access >= 0 else { return -1 }
            defer { H5Pclose(access) }
            // HDF5 copies the image into its own buffer: `image` is not kept.
            let ready = image.withUnsafeBytes { bytes in
                H5Pset_fapl_core(access, 1 << 20, false) >= 0
                    && H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) >= 0
            }
            guard ready else { return -1 }
            return H5Fopen(path, graft_h5f_acc_rdonly(), access)
        }
        guard id >= 0 else {
            throw GraftError.format("\(path) is not a valid HDF5 file (corrupt, truncated or of another format)")
        }
        self.id = id
    }

    deinit { _ = HDF5File.locked { H5Fclose(id) } }

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock(body)
    }

    /// Link and dataset access property lists that refuse to traverse an
    /// external link. Made once, under the lock, on first use.
    private static let linkAccess = refusingExternalLinks(graft_h5p_link_access())
    private static let datasetAccess = refusingExternalLinks(graft_h5p_dataset_access())

    private static func refusingExternalLinks(_ propertyClass: hid_t) -> hid_t {
        let list = H5Pcreate(propertyClass)
        guard list >= 0, graft_h5p_refuse_external_links(list) >= 0 else {
            fatalError("HDF5 cannot create a property list: its library is unusable")
        }
        return list
    }

    /// HDF5 prints its error stack to stderr by default; Graft reports errors
    /// itself.
    static func silenceErrorStack() {
        H5Eset_auto2(graft_h5e_default(), nil, nil)
    }

    /// Whether `path` (absolute, "/a/b") names an existing link in the file.
    public func exists(_ path: String) -> Bool {
        HDF5File.locked {
            var prefix = ""
            for part in path.split(separator: "/") {
                prefix += "/" + part
                if H5Lexists(id, prefix, HDF5File.linkAccess) <= 0 { return false }
            }
            return true
        }
    }

    /// The string values of attribute `name` on the object at `object`, or
    /// nil when there is no such attribute. Fixed-length and variable-length
    /// strings are both read; an attribute holding a numeric array (h5py
    /// writes an empty list of names as an empty float64 array) reads as its
    /// element count of empty strings, i.e. [] when it is empty.
    public func stringAttribute(_ name: String, of object: String = "/") throws -> [String]? {
        try HDF5File.locked {
            guard try attributeExists(name, of: object) else { return nil }
            let attr = H5Aopen_by_name(id, object, name, graft_h5p_default(), HDF5File.linkAccess)
            guard attr >= 0 else { throw corrupt("attribute \(name) of \(object)") }
            defer { H5Aclose(attr) }
            let fileType = H5Aget_type(attr)
            defer { H5Tclose(fileType) }
            let count = try elementCount(of: attr, type: fileType, name, object)
            guard H5Tget_class(fileType) == H5T_STRING else {
                return Array(repeating: "", count: count)
            }
            if count == 0 { return [] }

            let memType = H5Tcopy(graft_h5t_c_s1())
            defer { H5Tclose(memType) }
            // HDF5 converts no string between ASCII and UTF-8: read in the file's set.
            H5Tset_cset(memType, H5Tget_cset(fileType))
            if H5Tis_variable_str(fileType) > 0 {
                H5Tset_size(memType, graft_h5t_variable())
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                guard H5Aread(attr, memType, &pointers) >= 0 else {
                    throw corrupt("attribute \(name) of \(object)")
                }
                defer { for p in pointers { H5free_memory(p) } }
                return pointers.map { $0.map { String(cString: $0) } ?? "" }
            }
            let size = H5Tget_size(fileType)
            guard size > 0 else { throw corrupt("attribute \(name) of \(object)") }
            // numpy's |S strings fill the whole field (null-padded, no
            // terminator): read them as such, or HDF5 drops the last byte
            // of the longest name to make room for a terminator.
            H5Tset_size(memType, size)
            H5Tset_strpad(memType, H5T_STR_NULLPAD)
            var bytes = [UInt8](repeating: 0, count: count * size)
            guard H5Aread(attr, memType, &bytes) >= 0 else {
                throw corrupt("attribute \(name) of \(object)")
            }
            return (0..<count).map { i in
                let field = bytes[(i * size)..<((i + 1) * size)]
                let end = field.firstIndex(of: 0) ?? field.endIndex
                return String(decoding: field[field.startIndex..<end], as: UTF8.self)
            }
        }
    }

    /// The values of the numeric attribute `name` of `object` as 64-bit
    /// integers, or nil when there is no such attribute.
    public func integerAttribute(_ name: String, of object: String = "/") throws -> [Int64]? {
        try numericAttribute(name, of: object, memoryType: graft_h5t_native_int64(), zero: Int64(0))
    }

    /// The values of the numeric attribute `name` of `object` as doubles, or
    /// nil when there is no such attribute.
    public func doubleAttribute(_ name: String, of object: String = "/") throws -> [Double]? {
        try numericAttribute(name, of: object, memoryType: graft_h5t_native_double(), zero: 0.0)
    }

    private func numericAttribute<T>(_ name: String, of object: String, memoryType: hid_t, zero: T) throws -> [T]? {
        try HDF5File.locked {
            guard try attributeExists(name, of: object) else { return nil }
            let attr = H5Aopen_by_name(id, object, name, graft_h5p_default(), HDF5File.linkAccess)
            guard attr >= 0 else { throw corrupt("attribute \(name) of \(object)") }
            defer { H5Aclose(attr) }
            let fileType = H5Aget_type(attr)
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_INTEGER || H5Tget_class(fileType) == H5T_FLOAT else {
                throw GraftError.format("\(path): attribute \(name) of \(object) does not hold numbers")
            }
            let count = try elementCount(of: attr, type: fileType, name, object)
            var values = [T](repeating: zero, count: count)
            guard count == 0 || values.withUnsafeMutableBytes({ H5Aread(attr, memoryType, $0.baseAddress) }) >= 0 else {
                throw corrupt("attribute \(name) of \(object)")
            }
            return values
        }
    }

    /// The dimensions of the dataset at `path`.
    public func shape(ofDataset path: String) throws -> [Int] {
        try HDF5File.locked {
            let ds = H5Dopen2(id, path, HDF5File.datasetAccess)
            guard ds >= 0 else { throw corrupt("dataset \(path)") }
            defer { H5Dclose(ds) }
            return try datasetShape(ds, path)
        }
    }

    /// Reads the dataset at `path`, converted to Float32, into `count`
    /// floats at `output`; a dataset of any other size (or of no numbers) is
    /// an error, checked before anything is read.
    public func readFloats(_ path: String, into output: UnsafeMutablePointer<Float>, count: Int) throws {
        try HDF5File.locked {
            let ds = H5Dopen2(id, path, HDF5File.datasetAccess)
            guard ds >= 0 else { throw corrupt("dataset \(path)") }
            defer { H5Dclose(ds) }
            let type = H5Dget_type(ds)
            defer { H5Tclose(type) }
            guard H5Tget_class(type) == H5T_FLOAT || H5Tget_class(type) == H5T_INTEGER else {
                throw GraftError.format("\(self.path): dataset \(path) does not hold numbers")
            }
            let shape = try datasetShape(ds, path)
            let (stored, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow && stored == count else {
                throw GraftError.format("\(self.path): dataset \(path) holds \(shape) values, not the \(count) expected")
            }
            try checkStorage(ds, path, bytes: count * H5Tget_size(type))
            guard count == 0 || H5Dread(ds, graft_h5t_native_float(), graft_h5s_all(), graft_h5s_all(),
                                        graft_h5p_default(), output) >= 0 else {
                throw GraftError.format("\(self.path): cannot read dataset \(path) (the file is corrupt or truncated, "
                                        + "or its data fails its checksum)")
            }
        }
    }

    /// HDF5's built-in filters, the ones h5py and Keras write: deflate
    /// (gzip), shuffle and Fletcher-32.
    private static let builtInFilters: Set<H5Z_filter_t> = [H5Z_FILTER_DEFLATE, H5Z_FILTER_SHUFFLE, H5Z_FILTER_FLETCHER32]

    /// Refuses a dataset whose data is not where this file says, in the
    /// bytes its shape and type make: stored in other files (external
    /// storage, a virtual dataset), passed through a filter other than the
    /// built-in ones, or stored contiguously in another number of bytes.
    private func checkStorage(_ ds: hid_t, _ path: String, bytes: Int) throws {
        let creation = H5Dget_create_plist(ds)
        guard creation >= 0 else { throw corrupt("dataset \(path)") }
        defer { H5Pclose(creation) }
        let layout = H5Pget_layout(creation)
        guard layout == H5D_CONTIGUOUS || layout == H5D_CHUNKED || layout == H5D_COMPACT else {
            throw GraftError.format("\(self.path): dataset \(path) is \(layout == H5D_VIRTUAL ? "virtual (its data lies in other files)" : "of an unknown layout"), which Graft does not read")
        }
        guard H5Pget_external_count(creation) == 0 else {
            throw GraftError.format("\(self.path): dataset \(path) keeps its data in external files, which Graft does not read")
        }
        let filters = H5Pget_nfilters(creation)
        guard filters >= 0 else { throw corrupt("dataset \(path)") }
        for index in 0..<UInt32(filters) {
            var flags: UInt32 = 0, valueCount = 0, config: UInt32 = 0
            var name = [CChar](repeating: 0, count: 64)
            let filter = H5Pget_filter2(creation, index, &flags, &valueCount, nil, name.count, &name, &config)
            guard HDF5File.builtInFilters.contains(filter) else {
                throw GraftError.format("\(self.path): dataset \(path) is stored through HDF5 filter \(filter), which Graft does not read (only deflate, shuffle and Fletcher-32)")
            }
        }
        if layout == H5D_CONTIGUOUS && H5Dget_storage_size(ds) != UInt64(bytes) {
            throw GraftError.format("\(self.path): dataset \(path) stores \(H5Dget_storage_size(ds)) bytes, not the \(bytes) its shape and type make (the file is corrupt)")
        }
    }

    /// Whether `object` has attribute `name`; a header too corrupt to tell
    /// is an error, not a missing attribute.
    private func attributeExists(_ name: String, of object: String) throws -> Bool {
        let exists = H5Aexists_by_name(id, object, name, HDF5File.linkAccess)
        guard exists >= 0 else { throw corrupt("attribute \(name) of \(object)") }
        return exists > 0
    }

    /// The attributes Graft reads are short (names, sizes, options); a
    /// larger one is refused before anything is allocated for it.
    public static let maxAttributeBytes = 16 << 20

    /// The number of elements attribute `name` of `object` holds, checked
    /// before anything is allocated: its bytes in the file's type (a
    /// variable-length string counts its reference) within
    /// `maxAttributeBytes` and within what the file stores for it (a corrupt
    /// dataspace can declare 2^62 elements over a few bytes).
    private func elementCount(of attr: hid_t, type: hid_t, _ name: String, _ object: String) throws -> Int {
        let space = H5Aget_space(attr)
        guard space >= 0 else { throw corrupt("attribute \(name) of \(object)") }
        defer { H5Sclose(space) }
        let points = H5Sget_simple_extent_npoints(space)
        let elementSize = H5Tget_size(type)
        guard points >= 0, elementSize > 0, let count = Int(exactly: points) else {
            throw corrupt("attribute \(name) of \(object)")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, bytes <= HDF5File.maxAttributeBytes, UInt64(bytes) <= H5Aget_storage_size(attr) else {
            throw GraftError.format("\(path): attribute \(name) of \(object) declares \(points) values, more than "
                                    + "the file stores or an attribute may hold (the file is corrupt)")
        }
        return count
    }

    private func datasetShape(_ ds: hid_t, _ path: String) throws -> [Int] {
        let space = H5Dget_space(ds)
        guard space >= 0 else { throw corrupt("dataset \(path)") }
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        // HDF5 allows at most 32 dimensions.
        guard rank >= 0 && rank <= 32 else { throw corrupt("dataset \(path)") }
        var dims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        // A corrupt dimension can pass Int.max.
        return try dims.map { d in
            guard let size = Int(exactly: d) else { throw corrupt("dataset \(path)") }
            return size
        }
    }

    private func corrupt(_ what: String) -> GraftError {
        GraftError.format("\(path): cannot read \(what) (the file is corrupt or truncated)")
    }
}
