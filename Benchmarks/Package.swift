// swift-tools-version:6.1
// Microbenchmarks of the pure protocol modules (ordo-one/benchmark). A separate package so the main
// build and CI stay lean: run with `cd Benchmarks && swift package benchmark` (see docs/performance.md).
import PackageDescription

let package = Package(
    name: "iscsi-target-benchmarks",
    dependencies: [
        // The main package by path; its `ISCSIProtocol` library product exposes the pure modules.
        .package(name: "iscsi-target", path: ".."),
        // ordo-one/benchmark 1.38 on Swift 6.3 uses its own malloc interposer (no jemalloc needed).
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ProtocolBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ISCSIProtocol", package: "iscsi-target"),
            ],
            path: "Benchmarks/ProtocolBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
