import CGraftBLAS
import GraftFoundation

/// OpenBLAS, for the products Graft's own kernels do not take: loaded at run
/// time with the core the CPU can run (see graft_blas.h), single-threaded
/// inside Graft's workers.
public enum BLAS {
    /// Loads OpenBLAS (once); model creation calls it, so that a machine
    /// without OpenBLAS gets an error rather than a crash in a kernel.
    public static func load() throws {
        if let loadFailure { throw GraftError.io(loadFailure) }
    }

    /// For the kernels, which run only after `load` succeeded. (Not a
    /// precondition: this module builds with -Ounchecked, which would skip
    /// the load with the check.)
    @inline(__always)
    static func ensureLoaded() {
        if let loadFailure { fatalError(loadFailure) }
    }

    private static let loadFailure: String? = {
        if let failure = graft_blas_load() { return String(cString: failure) }
        graft_blas_set_num_threads(1)
        return nil
    }()

    /// The core OpenBLAS runs ("SkylakeX", "Haswell", ...), nil if it
    /// could not be loaded.
    public static var coreName: String? {
        graft_blas_core_name().map { String(cString: $0) }
    }

    /// Whether OpenBLAS runs one of its AVX-512 cores.
    public static let runsAVX512: Bool = {
        guard let core = coreName?.lowercased() else { return false }
        return ["skylakex", "cooperlake", "sapphirerapids"].contains(core)
    }()

    /// The core Graft asks OpenBLAS for on this CPU (nil: OpenBLAS's own
    /// choice); `OPENBLAS_CORETYPE`, when set, wins over it.
    public static var widestCore: String? {
        graft_blas_widest_core().map { String(cString: $0) }
    }

    /// Sets OpenBLAS's own thread count (the benchmark's sgemm peak; Graft
    /// runs it single-threaded).
    public static func setThreads(_ threads: Int) {
        ensureLoaded()
        graft_blas_set_num_threads(Int32(threads))
    }
}
