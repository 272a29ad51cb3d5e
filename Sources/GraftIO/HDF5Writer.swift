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
public final class HDF5Writer {
    public let path: String
    private var id: hid_t

    public init(creating path: String) throws {
        self.path = path
        let id: hid_t = HDF5File.locked {
            HDF5File.silenceErrorStack()
            return H5Fcreate(path, graft_h5f_acc_excl(), graft_h5p_default(), graft_h5p_default())
        }
        guard id >= 0 else { throw GraftError.io("cannot create \(path): \(String(cString: strerror(errno)))") }
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
    /// holding the floats at `values`.
    public func writeDataset(_ path: String, shape: [Int], values: UnsafePointer<Float>) throws {
        try HDF5File.locked {
            var dims = shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &dims, nil)
            guard space >= 0 else { throw failure("dataset \(path)") }
            defer { H5Sclose(space) }
            let ds = H5Dcreate2(id, path, graft_h5t_ieee_f32le(), space, graft_h5p_default(), graft_h5p_default(),
                                graft_h5p_default())
            guard ds >= 0 else { throw failure("dataset \(path)") }
            defer { H5Dclose(ds) }
            guard shape.contains(0) || H5Dwrite(ds, graft_h5t_native_float(), graft_h5s_all(), graft_h5s_all(),
                                                graft_h5p_default(), values) >= 0 else {
                throw failure("dataset \(path)")
            }
        }
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
