import CGraftGEMM

/// Number formats of the products Graft's own GEMM computes.
public enum Precision: String, CaseIterable, Sendable {
    /// IEEE single precision: what Keras computes.
    case float32
    /// Both factors rounded to bfloat16 (8 significant bits), products
    /// summed in float32: twice the multiplications per cycle on CPUs with
    /// AVX512_BF16, at about 0.2% relative error per product.
    case bfloat16
    /// A rounded to unsigned bytes with one scale for the whole tensor (it
    /// follows a ReLU: its range, from calibration, gives the scale), B to
    /// signed bytes with one scale per column, products summed exactly in
    /// int32: four multiply-adds per lane and instruction on CPUs with
    /// AVX512_VNNI. Applies where A's range is known and never negative.
    case int8
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
    /// int8: the largest value of A, which maps to byte 255 (0 otherwise).
    public let inputRange: Float
    /// int8's storage: the column scales (A's scale times B's column scale),
    /// `columns` floats, then the packed bytes. Other precisions: the panels.
    private let storage: Tensor
    private let offset: Int

    /// A kernel already in the panel layout at `offset` of `storage`.
    init(rows: Int, columns: Int, precision: Precision, storage: Tensor, offset: Int, inputRange: Float = 0) {
        (self.rows, self.columns, self.precision, self.storage, self.offset) = (rows, columns, precision, storage, offset)
        self.inputRange = inputRange
    }

    /// Whether this CPU runs the kernel in `precision`.
    public static func isAvailable(_ precision: Precision = .float32) -> Bool {
        switch precision {
        case .float32: float32Available
        case .bfloat16: bfloat16Available
        case .int8: int8Available
        }
    }

    private static let float32Available = graft_gemm_available() != 0
    private static let bfloat16Available = graft_gemm_bf16_available() != 0
    private static let int8Available = graft_gemm_int8_available() != 0

    static let panelColumns = Int(GRAFT_GEMM_PANEL)

    /// Whether a `rows`×`columns` B can be packed.
    public static func applies(rows: Int, columns: Int, precision: Precision = .float32) -> Bool {
        isAvailable(precision) && rows > 0 && columns > 0 && columns % panelColumns == 0
    }

    /// Floats of storage a packed `rows`×`columns` B takes.
    public static func storageSize(rows: Int, columns: Int, precision: Precision = .float32) -> Int {
        switch precision {
        case .float32: rows * columns
        case .bfloat16: graft_gemm_bf16_packed_words(rows, columns)
        case .int8: columns + (graft_gemm_int8_packed_bytes(rows, columns) + 3) / 4
        }
    }

    /// Packs the `rows`×`columns` row-major matrix at `matrix` (or, with
    /// `transposed`, the transpose of the `columns`×`rows` one) into new
    /// storage, if the kernel applies (int8: given A's range, positive).
    public static func pack(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, transposed: Bool = false,
                            precision: Precision = .float32, inputRange: Float? = nil) -> PackedKernel? {
        guard applies(rows: rows, columns: columns, precision: precision) else { return nil }
        if precision == .int8 {
            guard let inputRange, inputRange > 0, inputRange.isFinite else { return nil }
        }
        let storage = Tensor(shape: [storageSize(rows: rows, columns: columns, precision: precision)])
        return pack(matrix, rows: rows, columns: columns, transposed: transposed, precision: precision,
                    into: storage, at: 0, inputRange: inputRange ?? 0)
    }

    /// The same into `storage` from float `offset` on (`storageSize`
    /// floats), which the result keeps alive; the caller checks `applies`.
    /// With `threads`, the panels are split among them (training packs its
    /// changing kernels at every step). With `rowScale` (`rows` floats),
    /// row r of the packed matrix is the matrix's row r times rowScale[r]
    /// (not in int8, which takes A's range, `inputRange`, instead).
    public static func pack(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, transposed: Bool = false,
                            precision: Precision = .float32, into storage: Tensor, at offset: Int,
                            threads: Int = 1, rowScale: UnsafePointer<Float>? = nil,
                            inputRange: Float = 0) -> PackedKernel {
        precondition(applies(rows: rows, columns: columns, precision: precision)
                     && offset + storageSize(rows: rows, columns: columns, precision: precision) <= storage.count)
        precondition(precision != .int8 || (rowScale == nil && inputRange > 0))
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
            case .int8:
                let scales = storage.data + offset + column
                graft_gemm_pack_int8(source, ldb, transposed ? 1 : 0, rows, width, scales,
                                     int8Panels(storage, offset, rows: rows, columns: columns) + column * groupBytes(rows))
                // A's byte 255 is inputRange: its scale joins each column's.
                for j in 0..<width { scales[j] *= inputRange / 255 }
            }
        }
        return PackedKernel(rows: rows, columns: columns, precision: precision, storage: storage, offset: offset,
                            inputRange: inputRange)
    }

    /// Bytes of int8 panels per column: rows in groups of four.
    private static func groupBytes(_ rows: Int) -> Int { (rows + 3) / 4 * 4 }

    /// Where int8's packed bytes start, after the column scales.
    private static func int8Panels(_ storage: Tensor, _ offset: Int, rows: Int, columns: Int)
        -> UnsafeMutablePointer<Int8> {
        UnsafeMutableRawPointer(storage.data + offset + columns).assumingMemoryBound(to: Int8.self)
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
            case .int8:
                let panels = PackedKernel.int8Panels(storage, offset, rows: rows, columns: self.columns)
                    + columns.lowerBound * PackedKernel.groupBytes(rows)
                // The only failure is a thread's first 64 KiB of scratch.
                let status = graft_gemm_int8(m, columns.count, rows, a, lda, 255 / inputRange, panels,
                                             storage.data + offset + columns.lowerBound, c, ldc, bias,
                                             epilogue.residual, relu, stream)
                precondition(status == 0, "out of memory for the int8 GEMM's scratch")
            }
        }
    }
}
