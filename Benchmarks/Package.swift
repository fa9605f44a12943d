// swift-tools-version:6.1
// Benchmarks, kept out of the broker's own package so that building and testing the broker
// never builds them. `mqtt-bench` is a C load generator (epoll, pre-encoded packets); see
// Benchmarks/README.md and compare.sh.
import PackageDescription

let package = Package(
    name: "mqtt-broker-benchmarks",
    products: [.executable(name: "mqtt-bench", targets: ["mqtt-bench"])],
    targets: [
        .executableTarget(
            name: "mqtt-bench",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("pthread"), .linkedLibrary("m")]),
    ]
)
