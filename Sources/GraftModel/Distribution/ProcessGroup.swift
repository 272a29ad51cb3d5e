import CGraftComm
import Dispatch
import Glibc
import GraftData
import GraftFoundation

/// The processes that train one model together, data-parallel: each takes
/// its shard of every batch, and their gradients are summed before each
/// optimizer step, so that N processes take the steps one process takes
/// with the same global batch.
///
/// The transport is a communication engine loaded at run time
/// (`graft_comm.h`; Graft ships one on MPI, libgraft_mpi.so), so that Graft
/// builds and runs without it. `initialize()` joins the group a launcher
/// (mpirun) started; outside one, there is no group and everything runs as
/// one process.
///
/// Every collective waits at most `timeout` seconds: a process that died or
/// hangs makes the others fail with `GraftError.Kind.distributed`, after
/// which the group refuses further collectives.
public final class ProcessGroup: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// The engine and its version ("Open MPI v4.1.4").
    public let engineName: String
    /// Seconds a collective may wait for the other processes.
    public let timeout: Double
    private var engine: graft_comm_engine
    /// The first failure: the group is unusable after it.
    private var failure: GraftError?
    private let lock = Lock()

    /// Whether this process prints progress and writes files (rank 0).
    public var isPrimary: Bool { rank == 0 }

    /// This process's part of every batch.
    public var shard: DataShard { DataShard(rank: rank, size: size) }

    private static let lock = Lock()
    nonisolated(unsafe) private static var joined: ProcessGroup?

    /// The group this process joined, or nil (one process).
    public static var current: ProcessGroup? { lock.withLock { joined } }

    /// Whether this process prints progress and writes files: rank 0 of a
    /// group, or the only process.
    public static var isPrimary: Bool { current?.isPrimary ?? true }

    /// The environment variable that sets the timeout, in seconds.
    public static let timeoutVariable = "GRAFT_DISTRIBUTED_TIMEOUT"
    static let defaultTimeout = 300.0
    /// How long `wait` polls without pause.
    private static let spinNanoseconds: UInt64 = 1_000_000_000
    /// The environment variable naming the engine library to load instead
    /// of libgraft_mpi.so.
    public static let engineVariable = "GRAFT_COMM_ENGINE"
    static let defaultEngine = "libgraft_mpi.so"

    /// Whether a launcher started this process as one of several (Open
    /// MPI's, MPICH's and PMIx's variables).
    public static var launchedInGroup: Bool {
        for name in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"] {
            if let value = environmentVariable(name), let size = Int(value), size > 1 { return true }
        }
        return false
    }

    /// Joins the group the launcher started (once per process; later calls
    /// return the same group), or returns nil outside a launcher. `timeout`:
    /// seconds, else `GRAFT_DISTRIBUTED_TIMEOUT`, else 300.
    @discardableResult
    public static func initialize(timeout: Double? = nil) throws -> ProcessGroup? {
        if let timeout { try checkTimeout(timeout) }
        return try lock.withLock {
            if let joined { return joined }
            guard launchedInGroup else { return nil }
            let seconds = try timeout ?? environmentTimeout() ?? defaultTimeout
            try checkTimeout(seconds)
            var engine = graft_comm_engine()
            let path = environmentVariable(engineVariable) ?? defaultEnginePath()
            do {
                try withErrorBuffer { error, size in graft_comm_load(path, &engine, error, size) }
            } catch let error as GraftError {
                throw GraftError(.distributed, error.message + " (distributed training needs Open MPI, Debian's "
                                 + "openmpi-bin and libopenmpi3, and libgraft_mpi.so, which `make build` builds beside "
                                 + "libgraft.so where mpicc is installed; or \(engineVariable) naming an engine)")
            }
            joined = ProcessGroup(engine: engine, timeout: seconds)
            return joined
        }
    }

    private init(engine: graft_comm_engine, timeout: Double) {
        self.engine = engine
        rank = Int(engine.rank)
        size = Int(engine.size)
        engineName = engine.name.map { String(cString: $0) } ?? "unknown engine"
        self.timeout = timeout
    }

    private static func checkTimeout(_ seconds: Double) throws {
        guard seconds > 0, seconds.isFinite else {
            throw GraftError.invalidArgument("the timeout must be a positive number of seconds, not \(seconds)")
        }
    }

    private static func environmentTimeout() throws -> Double? {
        guard let text = environmentVariable(timeoutVariable) else { return nil }
        guard let seconds = Double(text) else {
            throw GraftError.invalidArgument("\(timeoutVariable) must be a number of seconds, not \"\(text)\"")
        }
        return seconds
    }

    /// libgraft_mpi.so beside the library (or program) Graft is linked
    /// into, or in the folder above (a command in the wheel's bin/), else
    /// wherever the dynamic linker finds it (`make install`'s lib folder).
    private static func defaultEnginePath() -> String {
        var folder = [CChar](repeating: 0, count: Int(PATH_MAX))
        graft_comm_own_folder(&folder, folder.count)
        let here = String(cString: folder)
        guard !here.isEmpty else { return defaultEngine }
        return [here, here + "../"].map { $0 + defaultEngine }.first { access($0, R_OK) == 0 } ?? defaultEngine
    }

    /// What the collectives have cost this process so far (`make bench`
    /// reads it per step).
    public struct Traffic: Sendable {
        /// Bytes of the gradients' sums started (`startSum`; each process
        /// sends its own).
        public var bytesSummed = 0
        /// Seconds spent waiting for collectives to complete.
        public var waitSeconds = 0.0
    }

    private var counted = Traffic()

    public var traffic: Traffic { lock.withLock { counted } }

    // MARK: collectives

    /// A collective in flight: `wait` (or `ProcessGroup.wait`) completes it.
    final class Collective {
        fileprivate var request: OpaquePointer?
        fileprivate let what: String
        fileprivate init(_ request: OpaquePointer?, what: String) {
            self.request = request
            self.what = what
        }
        var isDone: Bool { request == nil }
    }

    /// Starts the sum of `count` floats of every process, in place.
    func startSum(_ buffer: UnsafeMutablePointer<Float>, count: Int, what: String) throws -> Collective {
        lock.withLock { counted.bytesSummed += count * MemoryLayout<Float>.size }
        return try start(what) { engine.allreduce_sum(buffer, Int64(count), GRAFT_COMM_FLOAT32, $0, $1, $2) }
    }

    /// Every process's `values` summed, in every process.
    func sum(_ values: [Double], what: String) throws -> [Double] {
        var values = values
        try values.withUnsafeMutableBufferPointer { buffer in
            try wait(try start(what) {
                engine.allreduce_sum(buffer.baseAddress, Int64(buffer.count), GRAFT_COMM_FLOAT64, $0, $1, $2)
            })
        }
        return values
    }

    /// Whether `flag` is true in any process.
    func any(_ flag: Bool, what: String) throws -> Bool {
        try sum([flag ? 1 : 0], what: what)[0] > 0
    }

    /// Rank 0's `count` bytes at `buffer` into every process's.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, what: String) throws {
        try wait(try start(what) { engine.broadcast(buffer, Int64(bytes), 0, $0, $1, $2) })
    }

    /// Every process's `bytes` (of one length in all), by rank.
    func gather(_ bytes: [UInt8], what: String) throws -> [[UInt8]] {
        var all = [UInt8](repeating: 0, count: bytes.count * size)
        try bytes.withUnsafeBytes { send in
            try all.withUnsafeMutableBytes { receive in
                try wait(try start(what) {
                    engine.allgather(send.baseAddress, receive.baseAddress, Int64(send.count), $0, $1, $2)
                })
            }
        }
        return (0..<size).map { Array(all[($0 * bytes.count)..<(($0 + 1) * bytes.count)]) }
    }

    /// Returns once every process of the group has called it.
    public func barrier() throws {
        try wait(try start("the barrier") { engine.barrier($0, $1, $2) })
    }

    /// Advances `collective`; true once it has completed.
    func poll(_ collective: Collective) throws -> Bool {
        guard let request = collective.request else { return true }
        var done: Int32 = 0
        try lock.withLock {
            try checkUsable()
            do {
                try Self.withErrorBuffer { engine.test(request, &done, $0, $1) }
            } catch let error as GraftError {
                collective.request = nil
                throw fail("\(collective.what): \(error.message)")
            }
        }
        if done != 0 { collective.request = nil }
        return done != 0
    }

    /// Completes `collective`, or fails when the other processes have not
    /// joined it within the timeout.
    func wait(_ collective: Collective) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        defer {
            let waited = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            lock.withLock { counted.waitSeconds += waited }
        }
        let deadline = started + UInt64(timeout * 1e9)
        while try !poll(collective) {
            // MPI moves a collective along only while it is polled: poll
            // without pause for a second (the sums of a step), then let the
            // core go between polls (a process far behind the others).
            let now = DispatchTime.now().uptimeNanoseconds
            if now - started > Self.spinNanoseconds { usleep(1000) }
            if now > deadline {
                if let request = collective.request { lock.withLock { engine.abandon(request) } }
                collective.request = nil
                throw lock.withLock {
                    fail("\(collective.what) did not complete within \(Self.format(timeout)) s "
                         + "(\(Self.timeoutVariable)): another process of the group has stopped, died or hangs")
                }
            }
        }
    }

    private func start(_ what: String,
                       _ body: (UnsafeMutablePointer<OpaquePointer?>, UnsafeMutablePointer<CChar>, Int) -> Int32)
        throws -> Collective {
        try lock.withLock {
            try checkUsable()
            var request: OpaquePointer?
            do {
                try Self.withErrorBuffer { body(&request, $0, $1) }
            } catch let error as GraftError {
                throw fail("\(what): \(error.message)")
            }
            return Collective(request, what: what)
        }
    }

    private func checkUsable() throws {
        if let failure { throw failure }
    }

    /// Records the group's failure (the first one stays) and returns it.
    private func fail(_ message: String) -> GraftError {
        if failure == nil {
            failure = GraftError(.distributed, "process \(rank) of \(size): \(message); the group cannot go on")
        }
        return failure!
    }

    private static func withErrorBuffer(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var error = [CChar](repeating: 0, count: 512)
        let code = error.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        if code != 0 { throw GraftError(.distributed, String(cString: error)) }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
