// swift-tools-version:6.1
// The broker: MQTT 3.1.1 over libuv shards. Module layering (dependencies point down only):
//   mqtt-broker → BrokerConfig → BrokerAuth, BrokerKafka, BrokerRuntime → BrokerCore → MQTTWire
//                BrokerConfig → BrokerMongo (libmongoc) → BrokerCore
//                                BrokerRuntime → WebSocketWire (pure RFC 6455 codec)
// See ARCHITECTURE.md.
import PackageDescription
import class Foundation.ProcessInfo

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The per-packet modules: in release builds, dynamic exclusivity checks on class properties
/// (swift_beginAccess and its thread-local access set) cost about 40 % of a fan-out profile.
/// Debug builds, which run the tests, keep checking. See Benchmarks/RESULTS.md.
let hotPathSettings: [SwiftSetting] = swiftSettings + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
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
    // Compiled C for what Swift cannot call (macros such as CPU_SET).
    .target(name: "CBrokerShims", path: "CModules/CBrokerShims"),

    .target(name: "MQTTWire", swiftSettings: hotPathSettings),
    .target(name: "WebSocketWire", swiftSettings: hotPathSettings),
    .target(
        name: "BrokerCore",
        dependencies: [
            "MQTTWire",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: hotPathSettings),
    .target(
        name: "BrokerRuntime",
        dependencies: [
            "BrokerCore", "MQTTWire", "WebSocketWire", "CLibUV", "COpenSSL", "CBrokerShims",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: hotPathSettings),
    .target(
        name: "BrokerAuth",
        dependencies: [
            "BrokerCore", "MQTTWire", "CCrypt",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),
    .target(
        name: "BrokerConfig",
        dependencies: ["CYAML", "BrokerCore", "BrokerRuntime", "BrokerAuth", "BrokerKafka", "BrokerMongo"],
        swiftSettings: swiftSettings),
    // MongoDB through libmongoc: the connection string (checked at start-up and by `--check`)
    // and the store (BrokerCore's `SessionStore`) on its own writer threads.
    .target(
        name: "BrokerMongo",
        dependencies: [
            "BrokerCore", "MQTTWire", "CMongoC",
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),
    .target(
        name: "BrokerKafka",
        dependencies: [
            "BrokerCore", "MQTTWire", "CRdKafka",
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),
    .executableTarget(
        name: "mqtt-broker",
        dependencies: [
            "BrokerConfig", "BrokerRuntime", "BrokerCore", "BrokerAuth", "BrokerKafka", "CCrypt",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),

    .target(name: "TestSupport", dependencies: ["MQTTWire"], path: "Tests/TestSupport", swiftSettings: swiftSettings),
    .testTarget(name: "MQTTWireTests", dependencies: ["MQTTWire", "TestSupport"], swiftSettings: swiftSettings),
    .testTarget(name: "BrokerCoreTests", dependencies: ["BrokerCore", "MQTTWire", "TestSupport"], swiftSettings: swiftSettings),
    .testTarget(
        name: "BrokerConfigTests", dependencies: ["BrokerConfig", "BrokerAuth", "BrokerKafka", "BrokerMongo"],
        swiftSettings: swiftSettings),
    .testTarget(
        name: "BrokerAuthTests",
        dependencies: [
            "BrokerAuth", "BrokerCore", "MQTTWire", "CCrypt",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ],
        swiftSettings: swiftSettings),
    .testTarget(name: "BrokerMongoTests", dependencies: ["BrokerMongo", "BrokerCore", "MQTTWire"], swiftSettings: swiftSettings),
    .testTarget(name: "BrokerKafkaTests", dependencies: ["BrokerKafka", "BrokerCore", "MQTTWire"], swiftSettings: swiftSettings),
    .testTarget(name: "WebSocketWireTests", dependencies: ["WebSocketWire", "BrokerRuntime"], swiftSettings: swiftSettings),
    .testTarget(
        name: "BrokerRuntimeTests",
        dependencies: [
            "BrokerRuntime", "BrokerCore", "MQTTWire", "CLibUV",
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings),
]

// The load generator (C, epoll): `swift build -c release --product mqtt-bench`.
targets.append(.executableTarget(
    name: "mqtt-bench", path: "Benchmarks/mqtt-bench",
    linkerSettings: [.linkedLibrary("pthread"), .linkedLibrary("m"), .linkedLibrary("ssl"), .linkedLibrary("crypto")]))

// librdkafka's mock cluster for the Kafka integration tests: `swift build --product kafka-mock`.
targets.append(.executableTarget(
    name: "kafka-mock", path: "Tests/KafkaMock", linkerSettings: [.linkedLibrary("rdkafka")]))

// Micro-benchmarks (ordo-one/benchmark) are declared only when asked for, so that a normal build
// never fetches or builds the benchmark package: `BROKER_BENCHMARKS=1 swift package benchmark`.
var benchmarkDependencies: [Package.Dependency] = []
if ProcessInfo.processInfo.environment["BROKER_BENCHMARKS"] != nil {
    benchmarkDependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    targets.append(.executableTarget(
        name: "WireAndRouting",
        dependencies: [
            "MQTTWire", "BrokerCore", "BrokerRuntime",
            .product(name: "Benchmark", package: "benchmark"),
        ],
        path: "Benchmarks/WireAndRouting",
        swiftSettings: swiftSettings,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}

// libFuzzer targets have no main(); they are only declared for the fuzz build
// (Tests/Fuzz/run.sh sets BROKER_FUZZ=1), so a normal build never tries to link them.
if ProcessInfo.processInfo.environment["BROKER_FUZZ"] != nil {
    targets.append(.executableTarget(
        name: "FuzzDecoder", dependencies: ["MQTTWire"], path: "Tests/Fuzz/FuzzDecoder",
        swiftSettings: swiftSettings))
    targets.append(.executableTarget(
        name: "FuzzWebSocketFrames", dependencies: ["WebSocketWire"], path: "Tests/Fuzz/FuzzWebSocketFrames",
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
        .executable(name: "mqtt-bench", targets: ["mqtt-bench"]),
        .executable(name: "kafka-mock", targets: ["kafka-mock"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ] + benchmarkDependencies,
    targets: targets,
    swiftLanguageModes: [.v6]
)
