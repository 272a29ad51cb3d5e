import CHDF5
import Glibc
import GraftFoundation

/// A new HDF5 file being written: groups, Float32 datasets, and string,
/// integer and double attributes — what a Keras weight file and Graft's own
/// attributes need. Every failure becomes a `GraftError` naming the object.
///
/// The file is created exclusively (an existing file is never overwritten:
/// callers write to a fresh temporary name and rename it into place) and
/// must be closed with `close()`, which reports a failure to flush.
///
/// By default every byte that matters is checksummed (`Format.checksummed`).
public final class HDF5Writer {
    public let path: String
    private var id: hid_t
    public let format: Format

    /// How the file is laid out.
    public enum Format: Sendable {
        /// So that a flipped bit is an error when the file is read rather
        /// than a silently different weight: HDF5's newest format (1.10's:
        /// its superblock, object headers, heaps and chunk indexes carry
        /// checksums that HDF5 verifies on every read), and every dataset in
        /// chunks with the Fletcher-32 filter. h5py (and so Keras) reads it;
        /// HDF5 1.8 does not.
        case checksummed
        /// HDF5's earliest format, as h5py writes by default (and so Keras's
        /// own files): contiguous datasets, no checksums, readable by any
        /// HDF5 since 1.8.
        case earliest
    }

    public init(creating path: String, format: Format = .checksummed) throws {
        self.path = path
        self.format = format
        let id: hid_t = HDF5File.locked {
            HDF5File.silenceErrorStack()
            let access = H5Pcreate(graft_h5p_file_access())
            guard access >= 0 else { return -1 }
            defer { H5Pclose(access) }
            if format == .checksummed {
                let latest = graft_h5f_libver_latest()
                guard H5Pset_libver_bounds(access, latest, latest) >= 0 else { return -1 }
            }
            return H5Fcreate(path, graft_h5f_acc_excl(), graft_h5p_default(), access)
        }
        guard id >= 0 else { throw GraftError.io("cannot create \(path): \(systemErrorText(errno))") }
        self.id = id
    }

    deinit { if id >= 0 { _ = HDF5File.locked { H5Fclose(id) } } }

    /// Flushes and closes the file.
    public func close() throws {
        let status = HDF5File.locked { H5Fclose(id) }
        id = -1
        guard status >= 0 else { throw GraftError.io("cannot finish writing \(path) (is the disk full?)") }
    }

    /// Creates the group at `path` ("/a/b"), and any missing parents.
    public func createGroup(_ path: String) throws {
        try HDF5File.locked {
            var prefix = ""
            for part in path.split(separator: "/") {
                prefix += "/" + part
                if H5Lexists(id, prefix, graft_h5p_default()) > 0 { continue }
                let group = H5Gcreate2(id, prefix, graft_h5p_default(), graft_h5p_default(), graft_h5p_default())
                guard group >= 0 else { throw failure("group \(prefix)") }
                H5Gclose(group)
            }
        }
    }

    /// A Float32 dataset at `path` (its group must exist) of `shape`,
    /// holding the floats at `values` (with a Fletcher-32 checksum in the
    /// checksummed format).
    public func writeDataset(_ path: String, shape: [Int], values: UnsafePointer<Float>) throws {
        try HDF5File.locked {
            var dims = shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &dims, nil)
            guard space >= 0 else { throw failure("dataset \(path)") }
            defer { H5Sclose(space) }
            let creation = H5Pcreate(graft_h5p_dataset_create())
            guard creation >= 0 else { throw failure("dataset \(path)") }
            defer { H5Pclose(creation) }
            // Filters need chunks; an empty dataset has no data to check.
            if format == .checksummed && !shape.isEmpty && !shape.contains(0) {
                var chunk = HDF5Writer.chunk(of: shape).map { hsize_t($0) }
                guard H5Pset_chunk(creation, Int32(chunk.count), &chunk) >= 0, H5Pset_fletcher32(creation) >= 0 else {
                    throw failure("dataset \(path)")
                }
            }
            let ds = H5Dcreate2(id, path, graft_h5t_ieee_f32le(), space, graft_h5p_default(), creation,
                                graft_h5p_default())
            guard ds >= 0 else { throw failure("dataset \(path)") }
            defer { H5Dclose(ds) }
            guard shape.contains(0) || H5Dwrite(ds, graft_h5t_native_float(), graft_h5s_all(), graft_h5s_all(),
                                                graft_h5p_default(), values) >= 0 else {
                throw failure("dataset \(path)")
            }
        }
    }

    /// The chunk a dataset of `shape` is stored in: the whole dataset, or as
    /// many slices along its first dimension as keep a chunk within 1 GiB
    /// (HDF5 refuses chunks of 4 GiB).
    static func chunk(of shape: [Int]) -> [Int] {
        let sliceBytes = shape.dropFirst().reduce(MemoryLayout<Float>.size, *)
        return [max(1, min(shape[0], (1 << 30) / sliceBytes))] + shape.dropFirst()
    }

    /// An attribute holding `values` as fixed-length, null-padded strings
    /// (numpy's |S layout, as Keras's own files store layer_names), of the
    /// object at `object`.
    public func writeAttribute(_ name: String, strings values: [String], of object: String = "/") throws {
        let utf8 = values.map { Array($0.utf8) }
        let size = max(1, utf8.map(\.count).max() ?? 1)
        var bytes = [UInt8](repeating: 0, count: size * values.count)
        for (i, value) in utf8.enumerated() { bytes.replaceSubrange((i * size)..<(i * size + value.count), with: value) }
        try HDF5File.locked {
            let type = H5Tcopy(graft_h5t_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, size)
            H5Tset_strpad(type, H5T_STR_NULLPAD)
            try write(name, of: object, fileType: type, memoryType: type, count: values.count, bytes)
        }
    }

    /// A scalar attribute holding `value` as one variable-length UTF-8
    /// string, as h5py writes a Python str (and so Keras its `model_config`):
    /// the text lives in the file's heap, so it may pass the 64 KiB an
    /// attribute can hold in its object header.
    public func writeAttribute(_ name: String, text value: String, of object: String = "/") throws {
        try HDF5File.locked {
            let type = H5Tcopy(graft_h5t_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, graft_h5t_variable())
            H5Tset_cset(type, H5T_CSET_UTF8)
            let space = H5Screate(H5S_SCALAR)
            guard space >= 0 else { throw failure("attribute \(name) of \(object)") }
            defer { H5Sclose(space) }
            let attr = H5Acreate_by_name(id, object, name, type, space, graft_h5p_default(), graft_h5p_default(), graft_h5p_default())
            guard attr >= 0 else { throw failure("attribute \(name) of \(object)") }
            defer { H5Aclose(attr) }
            let status = value.withCString { text in
                withUnsafePointer(to: text) { H5Awrite(attr, type, $0) }
            }
            guard status >= 0 else { throw failure("attribute \(name) of \(object)") }
        }
    }

    /// An attribute holding `values` as 64-bit integers.
    public func writeAttribute(_ name: String, integers values: [Int64], of object: String = "/") throws {
        try HDF5File.locked {
            try write(name, of: object, fileType: graft_h5t_std_i64le(), memoryType: graft_h5t_native_int64(),
                      count: values.count, values)
        }
    }

    /// An attribute holding `values` as doubles.
    public func writeAttribute(_ name: String, doubles values: [Double], of object: String = "/") throws {
        try HDF5File.locked {
            try write(name, of: object, fileType: graft_h5t_ieee_f64le(), memoryType: graft_h5t_native_double(),
                      count: values.count, values)
        }
    }

    /// A one-dimensional attribute of `count` elements (zero is allowed: an
    /// empty list). Called with the lock held.
    private func write<T>(_ name: String, of object: String, fileType: hid_t, memoryType: hid_t, count: Int,
                          _ values: [T]) throws {
        var dims = [hsize_t(count)]
        let space = H5Screate_simple(1, &dims, nil)
        guard space >= 0 else { throw failure("attribute \(name) of \(object)") }
        defer { H5Sclose(space) }
        let attr = H5Acreate_by_name(id, object, name, fileType, space, graft_h5p_default(), graft_h5p_default(),
                                     graft_h5p_default())
        guard attr >= 0 else { throw failure("attribute \(name) of \(object)") }
        defer { H5Aclose(attr) }
        guard count == 0 || values.withUnsafeBytes({ H5Awrite(attr, memoryType, $0.baseAddress) }) >= 0 else {
            throw failure("attribute \(name) of \(object)")
        }
    }

    private func failure(_ what: String) -> GraftError {
        GraftError.io("\(path): cannot write \(what) (is the disk full?)")
    }
}
