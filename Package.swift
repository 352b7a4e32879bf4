// swift-tools-version:6.0
import Foundation
import PackageDescription

// One library per concern, one thin executable per pipeline stage (see README.md).

// The numeric libraries' SIMD8 loops compile to one AVX register op instead of two SSE ops on
// x86-64 (AVX2, x86-64-v3: every x86 server since 2015). No FMA contraction: results stay
// bit-identical to the SSE build. MSCN_PORTABLE=1 builds plain x86-64.
// VectorLibm also gets FMA instructions for its explicit fused multiply-adds (`addingProduct`;
// without them those become exact but slow `fma` calls).
#if arch(x86_64)
let portable = ProcessInfo.processInfo.environment["MSCN_PORTABLE"] == "1"
let vectorFlags: [SwiftSetting] = portable ? [] : [.unsafeFlags(["-Xcc", "-mavx2"])]
let fmaFlags: [SwiftSetting] = portable ? [] : [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma"])]
#else
let vectorFlags: [SwiftSetting] = []
let fmaFlags: [SwiftSetting] = []
#endif
let package = Package(
    name: "mscn",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mscn", targets: ["mscn"]),
        .executable(name: "mscn-ingest", targets: ["mscn-ingest"]),
        .executable(name: "mscn-features", targets: ["mscn-features"]),
        .executable(name: "mscn-noise", targets: ["mscn-noise"]),
        .executable(name: "mscn-split", targets: ["mscn-split"]),
        .executable(name: "mscn-train", targets: ["mscn-train"]),
        .executable(name: "mscn-purify", targets: ["mscn-purify"]),
        .executable(name: "mscn-evaluate", targets: ["mscn-evaluate"]),
        .executable(name: "mscn-bench", targets: ["mscn-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
    ],
    targets: [
        // C shims: system libraries found through pkg-config, libjpeg behind a setjmp wrapper.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "pkg-config"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev", "pkg-config"])]),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        // The engine's sgemm entry: OpenBLAS, or its two-thread split replayed on one thread.
        .target(name: "CBLASReplay", dependencies: ["CBLAS"], linkerSettings: [.linkedLibrary("dl")]),
        // glibc's malloc arena cap and count (mallopt, malloc_info).
        .target(name: "CMallocArenas"),

        // Libraries.
        .target(name: "MSCNRandom"),
        .target(name: "TwoWorkers"),
        .target(name: "TensorFile", dependencies: ["CZstd"]),
        .target(name: "StageKit", dependencies: [
            "TensorFile", "CMallocArenas",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "Artefacts", dependencies: ["TensorFile"]),
        .target(name: "Captions"),
        .target(name: "Imaging", dependencies: ["CJPEG", "CBLAS", "MSCNRandom"]),
        .target(name: "BuiltinDataset", dependencies: ["Imaging", "MSCNRandom", "TwoWorkers", "TensorFile"]),
        .target(name: "DataPrep", dependencies: ["MSCNRandom", "Artefacts"]),
        .target(name: "VectorLibm", swiftSettings: fmaFlags),
        .target(name: "Engine", dependencies: ["CBLAS", "CBLASReplay", "MSCNRandom", "VectorLibm"], swiftSettings: vectorFlags),
        .target(name: "SimilarityKernels", dependencies: ["CBLAS", "CBLASReplay", "VectorLibm"], swiftSettings: vectorFlags),
        .target(name: "MSCN", dependencies: ["Engine", "SimilarityKernels", "TensorFile", "MSCNRandom", "VectorLibm"]),
        .target(name: "Purification"),
        .target(name: "Reporting", dependencies: ["Retrieval", "Purification", "TensorFile", "Imaging", "Artefacts"]),
        .target(name: "Training", dependencies: [
            "MSCN", "Engine", "Artefacts", "TensorFile", "MSCNRandom", "Purification", "Retrieval", "StageKit", "DataPrep",
        ]),
        .target(name: "Retrieval"),
        .target(name: "PrecompExport", dependencies: ["Artefacts", "Captions", "StageKit", "TensorFile"]),
        .target(name: "Pipeline", dependencies: [
            "StageKit", "TensorFile", "Yams",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // Stage executables: argument parsing and error reporting only; logic lives above.
        .executableTarget(name: "mscn-ingest", dependencies: ["StageKit", "Artefacts", "Captions", "Imaging", "TensorFile", "TwoWorkers"]),
        .executableTarget(name: "mscn-features", dependencies: ["StageKit", "Artefacts", "Imaging", "TensorFile", "TwoWorkers"]),
        .executableTarget(name: "mscn-noise", dependencies: ["StageKit", "Artefacts", "DataPrep", "TensorFile"]),
        .executableTarget(name: "mscn-split", dependencies: ["StageKit", "Artefacts", "DataPrep", "TensorFile"]),
        .executableTarget(name: "mscn-train", dependencies: ["StageKit", "Training", "Artefacts", "MSCN", "Engine", "TensorFile"]),
        .executableTarget(name: "mscn-purify", dependencies: ["StageKit", "Training", "Artefacts", "MSCN", "Purification", "TensorFile"]),
        .executableTarget(name: "mscn-evaluate", dependencies: ["StageKit", "Training", "Artefacts", "MSCN", "Retrieval", "TensorFile"]),
        .executableTarget(name: "mscn", dependencies: [
            "StageKit", "TensorFile", "Pipeline", "MSCN", "Engine", "BuiltinDataset", "Artefacts", "Training", "Reporting",
            "PrecompExport",
        ]),
        .executableTarget(name: "mscn-bench", dependencies: [
            "StageKit", "TensorFile", "Engine", "MSCN", "Imaging", "CBLAS", "Retrieval", "Pipeline", "SimilarityKernels",
            "Purification", "VectorLibm", "TwoWorkers", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Tests. Golden files live next to the tests that read them.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorFileTests", dependencies: ["TensorFile", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "TestSupport"]),
        // Against a real SLURM cluster: skipped unless MSCN_SLURM_TESTS=1 (`make test-slurm`).
        .testTarget(name: "SlurmTests", dependencies: ["Pipeline", "TestSupport"]),
        .testTarget(name: "DataStageTests", dependencies: [
            "Captions", "Imaging", "BuiltinDataset", "Artefacts", "TensorFile", "TestSupport",
        ], exclude: ["Golden"]),
        .testTarget(name: "DataPrepTests", dependencies: [
            "DataPrep", "Purification", "Retrieval", "Artefacts", "TensorFile", "TestSupport",
        ], exclude: ["Golden"]),
        .testTarget(name: "VectorLibmTests", dependencies: ["VectorLibm", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "MSCNRandom", "TestSupport"]),
        .testTarget(name: "SimilarityKernelTests", dependencies: ["SimilarityKernels", "CBLASReplay", "TensorFile", "TestSupport", "VectorLibm"]),
        .testTarget(name: "ModelTests", dependencies: ["MSCN", "Engine", "TensorFile", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "StageTests", dependencies: ["Artefacts", "TensorFile", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "ReportingTests", dependencies: [
            "Reporting", "TensorFile", "Purification", "Retrieval", "Artefacts", "TestSupport",
        ]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Artefacts", "TensorFile", "MSCNRandom", "TestSupport"]),
        .testTarget(name: "FoundationTests", dependencies: ["MSCNRandom", "StageKit", "TensorFile", "TestSupport", "TwoWorkers"]),
    ],
    swiftLanguageModes: [.v5]
)
