import CGraftGEMM
import Glibc

/// The B of a convolution's GEMM (its kernel, HWIO read as K×N, or that
/// matrix's transpose) in the panel layout of Graft's AVX-512 GEMM
/// (CGraftGEMM): 32 columns per panel, so that the micro-kernel streams it.
///
/// That GEMM computes 12x32 tiles of C over the whole of K with the bias,
/// residual and ReLU applied in registers before the store; on ResNet's
/// shapes it measured 1.02–1.33x faster than OpenBLAS's sgemm on one thread
/// (least ahead on long K, most on K = 64), and the base's inference 6%
/// faster. It needs AVX-512F and N a multiple of 32; `pack` returns nil
/// where it does not apply, and callers use OpenBLAS then.
public struct PackedKernel {
    public let rows: Int, columns: Int
    private let storage: Tensor
    private let offset: Int

    /// Whether this CPU runs the kernel.
    public static let isAvailable = graft_gemm_available() != 0 && getenv("GRAFT_OPENBLAS_ONLY") == nil

    static let panelColumns = Int(GRAFT_GEMM_PANEL)

    /// Whether a `rows`×`columns` B can be packed.
    public static func applies(rows: Int, columns: Int) -> Bool {
        isAvailable && rows > 0 && columns > 0 && columns % panelColumns == 0
    }

    /// Packs the `rows`×`columns` row-major matrix at `matrix` (or, with
    /// `transposed`, the transpose of the `columns`×`rows` one) into new
    /// storage, if the kernel applies.
    public static func pack(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int,
                            transposed: Bool = false) -> PackedKernel? {
        guard applies(rows: rows, columns: columns) else { return nil }
        return pack(matrix, rows: rows, columns: columns, transposed: transposed,
                    into: Tensor(shape: [rows * columns]), at: 0)
    }

    /// The same into `storage` from float `offset` on (rows·columns floats),
    /// which the result keeps alive; the caller checks `applies` first.
    public static func pack(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, transposed: Bool = false,
                            into storage: Tensor, at offset: Int) -> PackedKernel {
        precondition(applies(rows: rows, columns: columns) && offset + rows * columns <= storage.count)
        graft_gemm_pack(matrix, transposed ? rows : columns, transposed ? 1 : 0, rows, columns,
                        storage.data + offset)
        return PackedKernel(rows: rows, columns: columns, storage: storage, offset: offset)
    }

    /// C = A·B (+ epilogue) for `m` rows of A at `a` (stride `lda`), into
    /// `c` (stride `ldc`), over `columns` of B (whole panels; all of them by
    /// default). `c` and the epilogue's residual point at the block's first
    /// row and column; the bias is indexed by B's column.
    public func multiply(rows m: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                         columns: Range<Int>? = nil, epilogue: Epilogue = Epilogue()) {
        let columns = columns ?? 0..<self.columns
        precondition(columns.lowerBound % PackedKernel.panelColumns == 0
                     && columns.count % PackedKernel.panelColumns == 0 && columns.upperBound <= self.columns)
        withExtendedLifetime(storage) {
            graft_gemm(m, columns.count, rows, a, lda, storage.data + offset + columns.lowerBound * rows, c, ldc,
                       epilogue.bias.map { $0 + columns.lowerBound }, epilogue.residual, epilogue.relu ? 1 : 0)
        }
    }
}
