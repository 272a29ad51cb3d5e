import Dispatch
import GraftFoundation
import GraftKernels
import Testing

// Parallel.forEach on Graft's thread pool: every index once, worker ids in
// range, loops inside loops, and loops from two threads at once (one of them
// on Dispatch's threads while the other holds the pool).

/// How often each index of a loop of `count` ran, and the largest worker id seen.
private func visits(_ count: Int, threads: Int) -> (counts: [Int], maxWorker: Int) {
    let lock = Lock()
    var counts = [Int](repeating: 0, count: count)
    var maxWorker = 0
    Parallel.forEach(count, threads: threads) { i, worker in
        lock.withLock {
            counts[i] += 1
            maxWorker = max(maxWorker, worker)
        }
    }
    return (counts, maxWorker)
}

@Test("Parallel.forEach runs every index once, on workers below the thread count",
      arguments: [(1, 2), (2, 2), (1000, 2), (37, 8), (500, 1)])
func parallelLoopRunsEveryIndexOnce(count: Int, threads: Int) {
    for _ in 0..<20 {
        let (counts, maxWorker) = visits(count, threads: threads)
        #expect(counts == [Int](repeating: 1, count: count))
        #expect(maxWorker < threads)
    }
}

@Test("a parallel loop inside a parallel loop's body runs every index once")
func parallelLoopInsideALoop() {
    let lock = Lock()
    var counts = [Int](repeating: 0, count: 8 * 50)
    var maxWorker = 0
    Parallel.forEach(8, threads: 2) { outer, _ in
        Parallel.forEach(50, threads: 2) { inner, worker in
            lock.withLock {
                counts[outer * 50 + inner] += 1
                maxWorker = max(maxWorker, worker)
            }
        }
    }
    #expect(counts == [Int](repeating: 1, count: counts.count))
    #expect(maxWorker < 2)
}

@Test("parallel loops from two threads at once all complete")
func parallelLoopsFromTwoThreads() {
    let sums = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    defer { sums.deallocate() }
    sums.initialize(repeating: 0, count: 2)
    DispatchQueue.concurrentPerform(iterations: 2) { caller in
        let lock = Lock()
        for _ in 0..<200 {
            var sum = 0
            Parallel.forEach(100, threads: 2) { i, _ in lock.withLock { sum += i } }
            sums[caller] += sum
        }
    }
    #expect(sums[0] == 200 * 4950)
    #expect(sums[1] == 200 * 4950)
}
