import CGraftGEMM

/// Number formats of the products Graft's own GEMM computes.
public enum Precision: String, CaseIterable, Sendable {
    /// IEEE single precision: what Keras computes.
    case float32
    /// Both factors rounded to bfloat16 (8 significant bits), products
    /// summed in float32: twice the multiplications per cycle on CPUs with
    /// AVX512_BF16, at about 0.2% relative error per product.
    case bfloat16
}

/// The B of a convolution's GEMM (its kernel, HWIO read as K×N, or that
/// matrix's transpose) in the panel layout of Graft's own GEMM (CGraftGEMM):
/// 32 columns per panel, so that the micro-kernel streams it.
///
/// That GEMM computes tiles of C (12x32 on AVX-512, 6x16 on AVX2) over the
/// whole of K with the bias, residual and ReLU applied in registers before
/// the store; on ResNet's shapes it ran faster than OpenBLAS's sgemm on one
/// thread (least ahead on long K, most on K = 64), and the base's inference
/// ran faster with it (bench/HISTORY.md has the measurements). It needs the
/// AVX-512 or AVX2 `InstructionSet` (bfloat16: AVX-512 with AVX512_BF16) and
/// N a multiple of 32; `pack` returns nil where it does not apply, and
/// callers use OpenBLAS then (`GRAFT_ISA=baseline` makes that everywhere,
/// for comparisons).
public struct PackedKernel {
    public let rows: Int, columns: Int
    public let precision: Precision
    private let storage: Tensor
    private let offset: Int

    /// A kernel already in the panel layout at `offset` of `storage`.
    init(rows: Int, columns: Int, precision: Precision, storage: Tensor, offset: Int) {
        (self.rows, self.columns, self.precision, self.storage, self.offset) = (rows, columns, precision, storage, offset)
    }

    /// Whether this CPU runs the kernel in `precision`.
    public static func isAvailable(_ precision: Precision = .float32) -> Bool {
        precision == .float32 ? float32Available : bfloat16Available
    }

    private static let float32Available = graft_gemm_available() != 0
    private static let bfloat16Available = graft_gemm_bf16_available() != 0

    static let panelColumns = Int(GRAFT_GEMM_PANEL)

    /// Whether a `rows`×`columns` B can be packed.
    public static func applies(rows: Int, columns: Int, precision: Precision = .float32) -> Bool {
        isAvailable(precision) && rows > 0 && columns > 0 && columns % panelColumns == 0
    }

    /// Floats of storage a packed `rows`×`columns` B takes.
    public static func storageSize(rows: Int, columns: Int, precision: Precision = .float32) -> Int {
        precision == .float32 ? rows * columns : graft_gemm_bf16_packed_words(rows, columns)
    }

    /// Packs the `rows`×`columns` row-major matrix at `matrix` (or, with
    /// `transposed`, the transpose of the `columns`×`rows` one) into new
    /// storage, if the kernel applies.
    public static func pack(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, transposed: Bool = false,
                            precision: Precision = .float32) -> PackedKernel? {
        guard applies(rows: rows, columns: columns, precision: precision) else { return nil }
        let storage = Tensor(shape: [storageSize(rows: rows, columns: columns, precision: precision)])
        return pack(matrix, rows: rows, columns: columns, transposed: transposed, precision: precision,
                    into: storage, at: 0)
    }

    /// The same into `storage` from float `offset` on (`storageSize`
    /// floats), which the result keeps alive; the caller checks `applies`.
    /// With `threads`, the panels are split among them (training packs its
    /// changing kernels at every step). With `rowScale` (`rows` floats),
    /// row r of the packed matrix is the matrix's row r times rowScale[r].
    public static func pack(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, transposed: Bool = false,
                            precision: Precision = .float32, into storage: Tensor, at offset: Int,
                            threads: Int = 1, rowScale: UnsafePointer<Float>? = nil) -> PackedKernel {
        precondition(applies(rows: rows, columns: columns, precision: precision)
                     && offset + storageSize(rows: rows, columns: columns, precision: precision) <= storage.count)
        let ldb = transposed ? rows : columns
        let panelFloats = storageSize(rows: rows, columns: panelColumns, precision: precision)
        // Small kernels are not worth a second thread.
        let parts = rows * columns < 1 << 16 ? 1 : threads
        let split = evenSplit(columns / panelColumns, parts: parts, multiple: 1)
        Parallel.forEach(split.count, threads: split.count) { part, _ in
            let panels = split[part]
            let column = panels.lowerBound * panelColumns, width = panels.count * panelColumns
            let source = matrix + (transposed ? column * ldb : column)
            let target = storage.data + offset + panels.lowerBound * panelFloats
            switch precision {
            case .float32:
                graft_gemm_pack(source, ldb, transposed ? 1 : 0, rows, width, rowScale, target)
            case .bfloat16:
                UnsafeMutableRawPointer(target).withMemoryRebound(to: UInt32.self, capacity: 1) {
                    graft_gemm_pack_bf16(source, ldb, transposed ? 1 : 0, rows, width, rowScale, $0)
                }
            }
        }
        return PackedKernel(rows: rows, columns: columns, precision: precision, storage: storage, offset: offset)
    }

    /// C = A·B (+ epilogue) for `m` rows of A at `a` (stride `lda`), into
    /// `c` (stride `ldc`), over `columns` of B (whole panels; all of them by
    /// default). `c` and the epilogue's residual point at the block's first
    /// row and column; the bias is indexed by B's column. With `streamed`,
    /// C goes to memory past the caches (`streamsOutput(floats:)`).
    public func multiply(rows m: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                         columns: Range<Int>? = nil, epilogue: Epilogue = Epilogue(), streamed: Bool = false) {
        let columns = columns ?? 0..<self.columns
        precondition(columns.lowerBound % PackedKernel.panelColumns == 0
                     && columns.count % PackedKernel.panelColumns == 0 && columns.upperBound <= self.columns)
        let bias = epilogue.bias.map { $0 + columns.lowerBound }, relu: Int32 = epilogue.relu ? 1 : 0
        let stream: Int32 = streamed ? 1 : 0
        withExtendedLifetime(storage) {
            switch precision {
            case .float32:
                graft_gemm(m, columns.count, rows, a, lda, storage.data + offset + columns.lowerBound * rows, c, ldc,
                           bias, epilogue.residual, relu, stream)
            case .bfloat16:
                let panels = UnsafeRawPointer(storage.data + offset).assumingMemoryBound(to: UInt32.self)
                    + columns.lowerBound * ((rows + 1) / 2)
                // The only failure is a thread's first 128 KiB of scratch.
                let status = graft_gemm_bf16(m, columns.count, rows, a, lda, panels, c, ldc, bias,
                                             epilogue.residual, relu, stream)
                precondition(status == 0, "out of memory for the bfloat16 GEMM's scratch")
            }
        }
    }
}
