import Foundation
import GraftKernels
import Testing

// Graft's kernels and OpenBLAS inside Graft run as wide as the CPU's vector
// unit, whatever OpenBLAS's own CPU table says (Debian 12's 0.3.21 takes
// recent Xeons for SSE3 machines), unless GRAFT_ISA names a narrower path.
// The CPU's features come from /proc/cpuinfo here, not from the cpuid code
// under test.

/// OpenBLAS's core names for kernels of each width.
private let avx512Cores: Set = ["skylakex", "cooperlake", "sapphirerapids"]
private let avx2Cores: Set = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]

/// The CPU's feature flags, as the kernel lists them.
private func cpuFlags() throws -> Set<String> {
    let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    let flagsLine = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
    return Set(flagsLine.split(separator: " ").map(String.init))
}

@Test("the kernels take the CPU's widest path, or the narrower one GRAFT_ISA names")
func instructionSetIsTheWidestOrTheAskedOne() throws {
    let flags = try cpuFlags()
    let widest: InstructionSet = flags.isSuperset(of: ["avx512f", "fma"]) ? .avx512
        : flags.isSuperset(of: ["avx2", "fma"]) ? .avx2 : .baseline
    #expect(InstructionSet.supported == widest)
    let asked = ProcessInfo.processInfo.environment["GRAFT_ISA"]
        .flatMap { name in InstructionSet.allCases.first { $0.name == name } }
    #expect(InstructionSet.current == min(asked ?? widest, widest))
    #expect(PackedKernel.isAvailable() == (InstructionSet.current >= .avx2))
    #expect(!PackedKernel.isAvailable(.bfloat16) || InstructionSet.current == .avx512)
}

@Test("OpenBLAS runs with the widest vector unit the CPU has, or the path GRAFT_ISA names")
func openBLASCoreIsTheWidest() throws {
    try BLAS.load()
    let core = try #require(BLAS.coreName).lowercased()
    let flags = try cpuFlags()
    if let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] {
        // The user's choice wins.
        #expect(core == chosen.lowercased())
    } else if InstructionSet.current < InstructionSet.supported {
        #expect(core == (InstructionSet.current == .avx2 ? "haswell" : "prescott"))
    } else if flags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]) {
        #expect(avx512Cores.contains(core), "AVX-512 CPU, OpenBLAS core \(core)")
        #expect(flags.contains("avx512_bf16") == (core == "cooperlake"))
    } else if flags.isSuperset(of: ["avx2", "fma"]) {
        #expect(avx2Cores.contains(core), "AVX2 CPU, OpenBLAS core \(core)")
    }
}
