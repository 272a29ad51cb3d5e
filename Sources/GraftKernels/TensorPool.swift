/// Tensors handed back and reused, so that a training step allocates (and
/// the kernel zero-fills pages for) its buffers once, not at every step:
/// fresh buffers cost a page fault per 4 KiB, a large share of a step that
/// streams a gigabyte.
///
/// The pool holds tensors that nothing else uses: give a tensor back only at
/// its last use. Not thread-safe (one training step at a time).
public final class TensorPool {
    private var free: [[Int]: [Tensor]] = [:]
    /// Tensors the pool has allocated so far (a step that gives back all it
    /// takes allocates none the next time).
    public private(set) var created = 0

    public init() {}

    /// A tensor of `shape` with unspecified contents.
    public func take(_ shape: [Int]) -> Tensor {
        if let tensor = free[shape]?.popLast() { return tensor }
        created += 1
        return Tensor(shape: shape)
    }

    /// Makes `tensor` available to later `take` calls.
    public func give(_ tensor: Tensor) {
        // Given twice, one buffer would later serve two takers at once.
        precondition(!(free[tensor.shape]?.contains { $0 === tensor } ?? false), "a tensor given back to the pool twice")
        free[tensor.shape, default: []].append(tensor)
    }
}
