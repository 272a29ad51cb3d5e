import Foundation
import GraftKernels
import Testing

// OpenBLAS inside Graft runs kernels as wide as the CPU's vector unit,
// whatever OpenBLAS's own CPU table says (Debian 12's 0.3.21 takes recent
// Xeons for SSE3 machines). The CPU's features come from /proc/cpuinfo here,
// not from the cpuid code under test.

/// OpenBLAS's core names for kernels of each width.
private let avx512Cores: Set = ["skylakex", "cooperlake", "sapphirerapids"]
private let avx2Cores: Set = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]

@Test("OpenBLAS runs with the widest vector unit the CPU has")
func openBLASCoreIsTheWidest() throws {
    try BLAS.load()
    let core = try #require(BLAS.coreName).lowercased()
    let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    let flagsLine = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil {
        // The user's choice wins.
        #expect(core == ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]!.lowercased())
    } else if flags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]) {
        #expect(avx512Cores.contains(core), "AVX-512 CPU, OpenBLAS core \(core)")
        #expect(flags.contains("avx512_bf16") == (core == "cooperlake"))
    } else if flags.isSuperset(of: ["avx2", "fma"]) {
        #expect(avx2Cores.contains(core), "AVX2 CPU, OpenBLAS core \(core)")
    }
}
