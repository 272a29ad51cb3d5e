import CGraftCPU

/// The instruction set Graft's own kernels run on, decided once per
/// process (see graft_cpu.h): the CPU's widest, or a narrower one named by
/// `GRAFT_ISA` (`avx2`, `baseline`) for tests and benchmarks. OpenBLAS's core
/// follows it.
public enum InstructionSet: Int, CaseIterable, Comparable, Sendable {
    /// The x86-64 baseline: Graft's products all run on OpenBLAS.
    case baseline = 0
    /// AVX2 with FMA: 8 lanes.
    case avx2 = 1
    /// AVX-512 (F, with FMA): 16 lanes.
    case avx512 = 2

    /// The one the kernels take.
    public static let current = InstructionSet(rawValue: Int(graft_isa())) ?? .baseline

    /// The widest this CPU runs.
    public static let supported = InstructionSet(rawValue: Int(graft_isa_supported())) ?? .baseline

    /// The name `GRAFT_ISA` takes for it.
    public var name: String { String(cString: graft_isa_name(Int32(rawValue))) }

    public static func < (lhs: InstructionSet, rhs: InstructionSet) -> Bool { lhs.rawValue < rhs.rawValue }
}
