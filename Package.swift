// swift-tools-version:6.0
import PackageDescription

/// Release builds (the only ones numeric code should run in) target the host CPU so SIMD loops use
/// its full vector width (AVX-512 here).
let fast: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]

/// The C kernels get the same host-CPU targeting; without it (debug builds) they compile to their
/// portable scalar form.
let nativeC: [CSetting] = [.unsafeFlags(["-march=native"], .when(configuration: .release))]

let package = Package(
    name: "qaft",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "qaft", targets: ["qaft"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .target(name: "CKernels", cSettings: nativeC),
        .target(name: "Tensor", dependencies: ["CBLAS", "CDNNL", "CKernels"], swiftSettings: fast),
        .target(name: "Models", dependencies: ["Tensor"], swiftSettings: fast),
        .target(name: "Quantization", dependencies: ["Tensor", "Models", "CBLAS", "CKernels"], swiftSettings: fast),
        .target(name: "Training", dependencies: ["Tensor", "Models"], swiftSettings: fast),
        .target(
            name: "Evaluation",
            dependencies: ["Tensor", "Models", "CZlib", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: fast),
        .target(name: "Methods", dependencies: ["Tensor", "Models", "Quantization", "Training"], swiftSettings: fast),
        .target(name: "Export", dependencies: ["Tensor", "Models", "Quantization", "Training", "Methods"], swiftSettings: fast),
        .target(name: "Reports", dependencies: [], swiftSettings: fast),
        .target(name: "LlamaCpp", dependencies: [], swiftSettings: fast),
        .target(
            name: "Pipeline",
            dependencies: [
                "Tensor", "Models", "Quantization", "Training", "Methods", "Export", "Evaluation", "Reports", "LlamaCpp",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: fast),
        .target(name: "Experiments", dependencies: ["Pipeline", "Tensor"], path: "Experiments", exclude: ["Data", "Bench", "ExportCheck"], swiftSettings: fast),
        .executableTarget(
            name: "qaft",
            dependencies: [
                "Models", "Tensor", "Evaluation", "Quantization", "Training", "Methods", "Export", "Pipeline", "Experiments", "LlamaCpp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fast),
        .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"], swiftSettings: fast),
        .testTarget(name: "ModelsTests", dependencies: ["TestSupport", "Models", "Tensor"], swiftSettings: fast),
        .testTarget(name: "QuantizationTests", dependencies: ["TestSupport", "Quantization", "Models", "Tensor"], swiftSettings: fast),
        .testTarget(name: "TrainingTests", dependencies: ["TestSupport", "Training", "Models", "Tensor"], swiftSettings: fast),
        .testTarget(name: "MethodsTests", dependencies: ["TestSupport", "Methods", "Training", "Quantization", "Models", "Tensor"], swiftSettings: fast),
        .testTarget(name: "PipelineTests", dependencies: ["TestSupport", "Pipeline", "Experiments", "Reports", "Tensor", "Export", "Models", "LlamaCpp"],
                    swiftSettings: fast),
        .testTarget(name: "LlamaCppTests", dependencies: ["TestSupport", "LlamaCpp"], swiftSettings: fast),
        .testTarget(name: "QaftTests", dependencies: ["qaft", "TestSupport", "Tensor", "Models", "Export", "Pipeline", "Experiments"], swiftSettings: fast),
        .testTarget(
            name: "ExportTests",
            dependencies: ["TestSupport", "Export", "Methods", "Training", "Quantization", "Models", "Tensor",
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: fast),
        .testTarget(name: "EvaluationTests", dependencies: ["TestSupport", "Evaluation", "Models", "Tensor"], swiftSettings: fast),
    ],
    swiftLanguageModes: [.v5]
)
