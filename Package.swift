// swift-tools-version:6.1
// The broker: MQTT 3.1.1 over libuv shards. Module layering (dependencies point down only):
//   mqtt-broker → BrokerConfig → BrokerRuntime → BrokerCore → MQTTWire
// See ARCHITECTURE.md.
import PackageDescription
import class Foundation.ProcessInfo

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// System libraries live in CModules/, one folder each (module.modulemap + shim.h).
func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "CModules/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

var targets: [Target] = [
    systemLibrary("CLibUV", pkgConfig: "libuv", apt: "libuv1-dev"),
    systemLibrary("COpenSSL", pkgConfig: "openssl", apt: "libssl-dev"),
    systemLibrary("CMongoC", pkgConfig: "libmongoc-1.0", apt: "libmongoc-dev"),
    systemLibrary("CRdKafka", pkgConfig: "rdkafka", apt: "librdkafka-dev"),
    systemLibrary("CYAML", pkgConfig: "yaml-0.1", apt: "libyaml-dev"),
    systemLibrary("CCrypt", pkgConfig: "libxcrypt", apt: "libcrypt-dev"),

    .target(name: "MQTTWire", swiftSettings: swiftSettings),
    .target(
        name: "BrokerCore",
        dependencies: [
            "MQTTWire",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),
    .target(
        name: "BrokerRuntime",
        dependencies: [
            "BrokerCore", "MQTTWire", "CLibUV", "COpenSSL",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),
    .target(
        name: "BrokerConfig",
        dependencies: ["CYAML", "BrokerCore", "BrokerRuntime"],
        swiftSettings: swiftSettings),
    .executableTarget(
        name: "mqtt-broker",
        dependencies: [
            "BrokerConfig", "BrokerRuntime", "BrokerCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),

    .target(name: "TestSupport", dependencies: ["MQTTWire"], path: "Tests/TestSupport", swiftSettings: swiftSettings),
    .testTarget(name: "MQTTWireTests", dependencies: ["MQTTWire", "TestSupport"], swiftSettings: swiftSettings),
    .testTarget(name: "BrokerCoreTests", dependencies: ["BrokerCore", "MQTTWire", "TestSupport"], swiftSettings: swiftSettings),
    .testTarget(name: "BrokerConfigTests", dependencies: ["BrokerConfig"], swiftSettings: swiftSettings),
]

// libFuzzer targets have no main(); they are only declared for the fuzz build
// (Tests/Fuzz/run.sh sets BROKER_FUZZ=1), so a normal build never tries to link them.
if ProcessInfo.processInfo.environment["BROKER_FUZZ"] != nil {
    targets.append(.executableTarget(
        name: "FuzzDecoder", dependencies: ["MQTTWire"], path: "Tests/Fuzz/FuzzDecoder",
        swiftSettings: swiftSettings))
    targets.append(.executableTarget(
        name: "FuzzTopicMatcher", dependencies: ["BrokerCore", "MQTTWire"], path: "Tests/Fuzz/FuzzTopicMatcher",
        swiftSettings: swiftSettings))
    targets.append(.executableTarget(
        name: "FuzzEngine",
        dependencies: ["BrokerCore", "MQTTWire", .product(name: "Logging", package: "swift-log")],
        path: "Tests/Fuzz/FuzzEngine", swiftSettings: swiftSettings))
}

let package = Package(
    name: "mqtt-broker",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mqtt-broker", targets: ["mqtt-broker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: targets,
    swiftLanguageModes: [.v6]
)
