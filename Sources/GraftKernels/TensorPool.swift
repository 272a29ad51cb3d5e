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

    /// A tensor of `shape` with unspecified contents, or zeros if asked.
    public func take(_ shape: [Int], zeroed: Bool = false) -> Tensor {
        if let tensor = free[shape]?.popLast() {
            if zeroed { tensor.data.update(repeating: 0, count: tensor.count) }
            return tensor
        }
        return Tensor(shape: shape)
    }

    /// Makes `tensor` available to later `take` calls.
    public func give(_ tensor: Tensor) {
        free[tensor.shape, default: []].append(tensor)
    }
}
