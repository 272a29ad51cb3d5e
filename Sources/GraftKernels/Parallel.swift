import CGraftPool
import Dispatch
import Glibc
import GraftFoundation

/// How many threads the kernels use, and how OpenBLAS is told about it.
///
/// Graft parallelises in Swift, over independent tiles of a layer, and runs
/// each tile's GEMM on ONE OpenBLAS thread: on this class of machine that
/// ran faster than one GEMM on several OpenBLAS threads (see
/// bench/HISTORY.md), and it lets im2col and the epilogues run in parallel
/// too.
public enum Parallel {
    /// Number of cores the process may run on: the machine's, shared out
    /// among the processes a launcher (mpirun) started on it together, so
    /// that a data-parallel group does not oversubscribe its machine.
    public static let coreCount: Int = {
        let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let neighbours = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"].lazy
            .compactMap { environmentVariable($0).flatMap { Int($0) } }.first ?? 1
        return max(1, cores / max(1, neighbours))
    }()

    /// Runs `body(i, worker)` for i in 0..<count on up to `threads` threads
    /// and returns when all are done. `worker` (0..<threads) identifies the
    /// thread, so that it can use its own scratch memory. Iterations are
    /// handed out in order from a shared counter, so uneven ones still balance.
    ///
    /// The loop runs on Graft's thread pool (`graft_pool_for`: no more
    /// threads than cores; a loop inside a loop's body runs on its caller's
    /// thread). While another thread's loop holds the pool, Dispatch's threads
    /// run it.
    public static func forEach(_ count: Int, threads: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        let workers = min(max(threads, 1), count)
        if workers <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        typealias Body = (Int, Int) -> Void
        let ranOnPool = withoutActuallyEscaping(body) { body -> Bool in
            var body: Body = body
            return withUnsafeMutablePointer(to: &body) { body in
                graft_pool_for(count, workers, { body, index, worker in
                    body!.assumingMemoryBound(to: Body.self).pointee(index, worker)
                }, body) == 0
            }
        }
        if ranOnPool { return }
        let next = AtomicCounter()
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                while true {
                    let i = next.increment()
                    if i >= count { break }
                    body(i, worker)
                }
            }
        }
    }
}

extension Parallel {
    /// The least floats a range of an elementwise pass is worth a thread
    /// for (64 KiB): below it, waking a second thread costs more than the
    /// work it takes.
    public static let grain = 1 << 14

    /// The grain of a pass over pixels of `channels` floats each.
    public static func pixelGrain(channels: Int) -> Int { max(1, grain / max(channels, 1)) }

    /// How `forRanges` cuts 0..<count: contiguous ranges, multiples of 16
    /// items (so that vector loops stay aligned), up to four per thread and
    /// none shorter than `grain`; one range below `grain` items, where waking
    /// a second thread costs more than it saves. The cut depends on the
    /// count and thread count only, never on timing.
    public static func ranges(_ count: Int, threads: Int, grain: Int = Parallel.grain) -> [Range<Int>] {
        let threads = max(1, threads)
        let parts = count < grain || threads == 1 ? 1 : max(threads, min(4 * threads, count / grain))
        return evenSplit(count, parts: parts, multiple: 16)
    }

    /// Runs `body` over the `ranges` of 0..<count, handed out in turn to the
    /// threads (so that a thread the machine slows down takes fewer), for
    /// passes whose result does not depend on the cut: elementwise maps, or
    /// sums kept per range (`part` indexes `ranges`) and combined in range order.
    public static func forRanges(_ count: Int, threads: Int, grain: Int = Parallel.grain,
                                 _ body: (_ range: Range<Int>, _ part: Int) -> Void) {
        let ranges = ranges(count, threads: threads, grain: grain)
        forEach(ranges.count, threads: threads) { i, _ in body(ranges[i], i) }
    }
}
