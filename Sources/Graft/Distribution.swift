import GraftModel

/// Data-parallel training over the processes a launcher started
/// (`mpirun -np N program`), as Keras's distribution API and Horovod run
/// it: call `initialize()` once, then fit and evaluate as in one process,
/// the batch size being the global batch. Every process builds the same
/// model and datasets; each trains on its part of every batch, and the
/// group sums the gradients and figures. Outside a launcher, one process,
/// as without the call. The README's "Distributed training" says more.
public enum Distribution {
    /// Joins the launcher's group (once; later calls keep it). `timeout`:
    /// seconds a collective waits for the other processes before throwing
    /// (default `GRAFT_DISTRIBUTED_TIMEOUT`, else 300).
    public static func initialize(timeout: Double? = nil) throws {
        try ProcessGroup.initialize(timeout: timeout)
    }

    /// This process's rank, 0 ..< `size`; 0 without a group.
    public static var rank: Int { ProcessGroup.current?.rank ?? 0 }

    /// The number of processes; 1 without a group.
    public static var size: Int { ProcessGroup.current?.size ?? 1 }

    /// Returns once every process has called it; at once without a group.
    public static func barrier() throws {
        try ProcessGroup.current?.barrier()
    }
}
