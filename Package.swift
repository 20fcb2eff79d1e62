// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]
/// The data-path modules: exclusivity is enforced statically; the dynamic checks cost ~10% of
/// instructions per command in profiles (docs/performance.md), so release builds skip them.
let dataPath: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "iscsi-target",
    products: [
        .executable(name: "iscsi-targetd", targets: ["iscsi-targetd"]),
        .executable(name: "iscsi-targetadm", targets: ["iscsi-targetadm"]),
        // The pure protocol modules, for the separate Benchmarks/ package (`.package(path: "..")`).
        .library(name: "ISCSIProtocol", targets: ["ISCSIWire", "ISCSINegotiation", "Checksums"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C shims: kernel APIs Glibc does not import (epoll, eventfd, timerfd, accept4, O_DIRECT, libaio).
        .target(name: "CShims", cSettings: [.define("_GNU_SOURCE")], linkerSettings: [.linkedLibrary("aio")]),
        // CRC32C (SSE4.2 when the CPU has it, table fallback). Pure computation.
        .target(name: "CCRC32C", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Checksums", dependencies: ["CCRC32C"], swiftSettings: strict),
        // Pure modules: no I/O, tested from bytes.
        .target(name: "ISCSIWire", dependencies: ["Checksums"], swiftSettings: dataPath),
        .target(name: "ISCSINegotiation", dependencies: ["ISCSIWire", "Checksums"], swiftSettings: strict),
        .target(name: "SCSICommands", swiftSettings: strict),
        .target(name: "IETConfig", dependencies: ["Checksums"], swiftSettings: strict),
        // Linux-facing modules: thin.
        .target(name: "LinuxIO", dependencies: ["CShims"], swiftSettings: dataPath),
        .target(name: "BlockStore", dependencies: ["LinuxIO", "CShims"], swiftSettings: dataPath),
        // Runtime glue.
        .target(name: "ISCSITarget", dependencies: [
            "CShims", "LinuxIO", "BlockStore", "ISCSIWire", "ISCSINegotiation", "SCSICommands", "IETConfig", "Checksums",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: dataPath),
        .executableTarget(name: "iscsi-targetd", dependencies: [
            "ISCSITarget", "IETConfig", "LinuxIO",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "iscsi-targetadm", dependencies: [
            "IETConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .testTarget(name: "ISCSIWireTests", dependencies: ["ISCSIWire", "Checksums"]),
        .testTarget(name: "ISCSINegotiationTests", dependencies: ["ISCSINegotiation", "ISCSIWire"]),
        .testTarget(name: "SCSICommandsTests", dependencies: ["SCSICommands"]),
        .testTarget(name: "IETConfigTests", dependencies: ["IETConfig", "Checksums"]),
        .testTarget(name: "LinuxIOTests", dependencies: ["LinuxIO", "CShims"]),
        .testTarget(name: "BlockStoreTests", dependencies: ["BlockStore", "LinuxIO"]),
        .testTarget(name: "AdminToolTests", dependencies: ["iscsi-targetadm", "ISCSITarget"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "ISCSITarget", "ISCSIWire", "IETConfig", "LinuxIO", "SCSICommands",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Hostile peers, fault injection (docs/hardening.md).
        .testTarget(name: "HostileTests", dependencies: [
            "ISCSITarget", "ISCSIWire", "IETConfig", "LinuxIO", "BlockStore",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
