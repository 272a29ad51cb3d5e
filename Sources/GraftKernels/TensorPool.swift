/// Tensors handed back and reused, so that a training step allocates (and
/// the kernel zero-fills pages for) its buffers once, not at every step:
/// fresh buffers cost a page fault per 4 KiB, which measured as a third of a
/// whole-base training step.
///
/// The pool holds tensors that nothing else uses: give a tensor back only at
/// its last use. Not thread-safe (one training step at a time).
public final class TensorPool {
    private var free: [[Int]: [Tensor]] = [:]

    public init() {}

    /// A tensor of `shape` with unspecified contents.
    public func take(_ shape: [Int]) -> Tensor {
        free[shape]?.popLast() ?? Tensor(shape: shape)
    }

    /// Makes `tensor` available to later `take` calls.
    public func give(_ tensor: Tensor) {
        free[tensor.shape, default: []].append(tensor)
    }
}
