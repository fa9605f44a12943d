import Benchmark
import BrokerCore
import BrokerRuntime
import MQTTWire

// Micro-benchmarks of the per-packet work: run with
//   BROKER_BENCHMARKS=1 swift package benchmark --target WireAndRouting

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))

    let publish = PublishEncoder.encode(
        topic: Array("sensors/building-7/floor-3/temperature".utf8), payload: Array(repeating: 0x41, count: 16),
        qos: .atLeastOnce, packetId: 42)

    Benchmark("decode PUBLISH (16-byte payload)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        publish.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                guard let header = try? FrameHeader.check(bytes, maxPacketSize: 1 << 20),
                      let packet = try? Packet.decode(header: header, body: header.body(in: bytes))
                else { fatalError("sample PUBLISH did not decode") }
                blackHole(packet)
            }
        }
    }

    Benchmark("encode PUBLISH header", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let topic = Array("sensors/building-7/floor-3/temperature".utf8)
        let destination = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        defer { destination.deallocate() }
        topic.withUnsafeBytes { topicBytes in
            let view = ByteView(topicBytes)
            for index in benchmark.scaledIterations {
                blackHole(PublishEncoder.writeHeader(
                    topic: view, payloadCount: 16, qos: .atLeastOnce, packetId: UInt16(truncatingIfNeeded: index) | 1,
                    to: destination))
            }
        }
    }

    // 100,000 sessions subscribed to one filter each out of a mix of exact and wildcard filters.
    let index = SubscriptionIndex()
    let sessions = (0..<100_000).map { Session(clientId: "client-\($0)", cleanSession: true) }
    for (number, session) in sessions.enumerated() {
        let filter = switch number % 4 {
        case 0: "devices/\(number)/telemetry"
        case 1: "devices/\(number)/+"
        case 2: "devices/+/status/\(number % 100)"
        default: "fleet/\(number % 1000)/#"
        }
        index.subscribe(session, filter: filter, qos: .atMostOnce)
    }

    Benchmark("match topic in 100k-subscription index", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var delivered = 0
        for number in benchmark.scaledIterations {
            let topic = "devices/\(number % 100_000)/telemetry"
            _ = index.match(topic: topic) { _, _ in delivered += 1 }
        }
        blackHole(delivered)
    }

    Benchmark("SPSC ring push+pop", configuration: .init(scalingFactor: .mega)) { benchmark in
        let ring = SPSCRing<Int>(capacity: 4096)
        for number in benchmark.scaledIterations {
            _ = ring.push(number)
            blackHole(ring.pop())
        }
    }
}
