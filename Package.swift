// swift-tools-version:6.0
import Foundation
import PackageDescription

// `make build` links the Swift runtime into libgraft.so and the `graft`
// command (-static-stdlib) so that C and Python programs, and the command
// installed anywhere, need only the system libraries. Test bundles cannot link
// that way (XCTest and Testing ship no static libraries), so it is switched on
// for those two release products only.
let staticStdlib = ProcessInfo.processInfo.environment["GRAFT_STATIC_STDLIB"] == "1"
let staticStdlibFlags = staticStdlib ? ["-static-stdlib"] : []
// ArgumentParser uses FoundationEssentials, whose static archive needs these
// two beside it (SwiftPM's --static-swift-stdlib adds them, but it also
// changes how every module compiles, which would rebuild everything each time
// the tests' build and the release build alternate).
let staticCommandFlags = staticStdlib ? staticStdlibFlags + ["-l_FoundationCollections", "-l_FoundationCShims"] : []

// `make test-tsan` instruments the thread pool's C code with the Swift code,
// so that ThreadSanitizer sees the pool's synchronisation; the other C
// targets stay as they are (they only compute).
let poolSanitizerFlags = ProcessInfo.processInfo.environment["GRAFT_TSAN"] == "1" ? ["-fsanitize=thread"] : []

// The SONAME carries the ABI version, read from its one owner, graft.h's
// GRAFT_ABI_VERSION (graft_abi_version() returns the same constant).
let abiVersion: String = {
    let header = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("include/graft.h")
    let text = (try? String(contentsOf: header, encoding: .utf8)) ?? ""
    let prefix = "#define GRAFT_ABI_VERSION "
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else {
        fatalError("include/graft.h defines no GRAFT_ABI_VERSION")
    }
    return String(line.dropFirst(prefix.count))
}()

// Targets follow the layers of the design: each imports only the ones below it.
//
//   GraftC (C ABI, libgraft.so)  Graft (Swift API)  graft-cli (the `graft` command), graft-bench
//          |       \                  /
//          |        GraftModel           layer graph, ResNet builder, inference
//          |        /        \
//      GraftData   |       GraftIO       images to batches | Keras's HDF5 and .keras files
//        |    \    |          |   \
//        |    GraftKernels    |   CHDF5, CZlib  tensors, kernels | HDF5, zlib
//        |       /     \      |
//        |      |  GraftFoundation      errors, locks, environment, SplitMix64 (below everything)
//        |      |       \
//   CTurboJPEG  CGraftBLAS  CGraftGEMM   JPEG and PNG decoders (and CPNG) | OpenBLAS, loaded at run time | AVX-512/AVX2 GEMM
//   CGraftSampler                        (GraftData) the augmentation layers' affine sampling
//                      CGraftWinograd    Winograd's transforms
//                      CGraftPool        the threads of the parallel passes
//                      CGraftElementwise BatchNormalization's, Add's, ReLU-gradient passes
//   (GraftModel)       CGraftOptimizer   the optimizers' updates
//   (every C kernel)   CGraftCPU         the instruction set the kernels take
//   (GraftModel)       CGraftComm        the communication engines of distributed training

// A fuzz target's Swift file only defines LLVMFuzzerTestOneInput; its entry
// point is the driver's C function.
let fuzzTargetSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "Graft",
    products: [
        // The shared library behind include/graft.h.
        .library(name: "graft", type: .dynamic, targets: ["GraftC"]),
        // Graft's Swift API, for Swift programs that depend on this package
        // (examples/swift is one).
        .library(name: "Graft", targets: ["Graft"]),
        .executable(name: "graft-bench", targets: ["graft-bench"]),
        // The `graft` command (`make build` links it as .build/release/graft;
        // a product cannot share the library's name).
        .executable(name: "graft-cli", targets: ["graft-cli"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // CRC-32 and inflate for Keras's .keras archives.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CGraftABI"),

        // The instruction set (AVX-512, AVX2 or the baseline) every kernel
        // below takes: the CPU's widest, or a narrower one GRAFT_ISA names.
        .target(name: "CGraftCPU", cSettings: [.unsafeFlags(["-O2"])]),
        // OpenBLAS, loaded at run time with the core the CPU can run.
        .target(name: "CGraftBLAS", dependencies: ["CGraftCPU"], cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("dl")]),
        // AVX-512 and AVX2 matrix products with the convolution epilogue in
        // registers, for the shapes where they measure faster than OpenBLAS.
        .target(name: "CGraftGEMM", dependencies: ["CGraftCPU"], cSettings: [.unsafeFlags(["-O3"])]),
        // Winograd's per-block transforms, 8 lanes wide where AVX2 runs
        // (Swift's vectors stay at the x86-64 baseline). No contraction into
        // fused multiply-adds: every CPU rounds them alike.
        .target(name: "CGraftWinograd", dependencies: ["CGraftCPU"], cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-Wno-psabi"])]),
        // The worker threads of Graft's parallel loops.
        .target(name: "CGraftPool", cSettings: [.unsafeFlags(["-O2"] + poolSanitizerFlags)]),
        // The optimizers' updates, as wide as the CPU runs them; each
        // operation rounded on its own, as Keras's are.
        .target(name: "CGraftOptimizer", dependencies: ["CGraftCPU"],
                cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno", "-Wno-psabi"])]),
        // BatchNormalization's forward pass, the Add and ReLU's gradient over
        // activations, as wide as the CPU runs them, each operation rounded
        // on its own.
        .target(name: "CGraftElementwise", dependencies: ["CGraftCPU"],
                cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-Wno-psabi"])]),
        // Errors, locks, environment and file helpers, the seeded generator:
        // what every layer above needs, with no dependency of its own.
        .target(name: "GraftFoundation"),
        .target(name: "GraftKernels",
                dependencies: ["GraftFoundation", "CGraftCPU", "CGraftBLAS", "CGraftGEMM", "CGraftWinograd", "CGraftPool",
                               "CGraftElementwise"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .target(name: "GraftIO", dependencies: ["GraftFoundation", "CHDF5", "CZlib"]),
        // libpng reports errors by longjmp, which Swift frames cannot survive:
        // the PNG decoding runs in this small C target.
        .target(name: "CPNGShim", dependencies: ["CPNG"]),
        // The augmentation layers' affine sampling, without Swift's checks
        // in its per-pixel loop; each operation rounded on its own.
        .target(name: "CGraftSampler", dependencies: ["CGraftCPU"], cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno"])]),
        .target(name: "GraftData",
                dependencies: ["GraftFoundation", "GraftKernels", "CTurboJPEG", "CPNG", "CPNGShim", "CGraftSampler"]),
        // The interface of the communication engines distributed training
        // loads at run time (libgraft_mpi.so, built from Sources/graft-mpi
        // by `make build` where MPI is installed), and their loader.
        .target(name: "CGraftComm", cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "GraftModel",
                dependencies: ["GraftFoundation", "GraftKernels", "GraftIO", "GraftData", "CGraftOptimizer", "CGraftComm"]),
        .target(
            name: "GraftC",
            dependencies: ["GraftFoundation", "GraftModel", "GraftData", "CGraftABI"],
            linkerSettings: [
                // nodelete: a thread that still holds a thread-local error
                // message runs its destructor at thread exit, which must not
                // point into an unloaded library.
                .unsafeFlags(staticStdlibFlags
                             + ["-Xlinker", "-soname=libgraft.so.\(abiVersion)", "-Xlinker", "-z", "-Xlinker", "nodelete"]),
            ]),
        // The public Swift API: a few types over the core (the modules
        // below stay internal to the package).
        .target(name: "Graft", dependencies: ["GraftFoundation", "GraftData", "GraftModel", "CGraftABI"]),
        .executableTarget(name: "graft-bench", dependencies: ["GraftFoundation", "GraftKernels", "GraftModel", "GraftData"]),
        .executableTarget(name: "graft-cli", dependencies: [
            "GraftFoundation", "GraftModel", "GraftData", "CGraftABI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: [.unsafeFlags(staticCommandFlags)]),

        // Fuzz targets (`make fuzz` builds them with -sanitize=fuzzer,address;
        // a plain build replays the inputs it is given: see the driver).
        .target(name: "CGraftFuzzDriver", path: "Tests/Fuzz/Driver"),
        .executableTarget(name: "graft-fuzz-image", dependencies: ["GraftData", "CGraftFuzzDriver"],
                          path: "Tests/Fuzz/Image", swiftSettings: fuzzTargetSettings),
        .executableTarget(name: "graft-fuzz-weights", dependencies: ["GraftIO", "GraftModel", "CGraftFuzzDriver"],
                          path: "Tests/Fuzz/Weights", swiftSettings: fuzzTargetSettings),
        .executableTarget(name: "graft-fuzz-model", dependencies: ["GraftModel", "CGraftFuzzDriver"],
                          path: "Tests/Fuzz/Model", swiftSettings: fuzzTargetSettings),

        .testTarget(name: "GraftKernelsTests", dependencies: ["GraftFoundation", "GraftKernels"]),
        .testTarget(name: "GraftDataTests", dependencies: ["GraftFoundation", "GraftData"]),
        .testTarget(name: "GraftTests", dependencies: ["Graft"]),
        .testTarget(name: "GraftModelTests", dependencies: ["GraftFoundation", "GraftIO", "GraftModel", "GraftC", "CGraftABI"]),
    ],
    // Swift 5 mode: the kernels hand raw buffers to worker threads by design;
    // Swift 6's sendability checking would only add wrappers around them.
    swiftLanguageModes: [.v5]
)
