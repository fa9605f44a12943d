import Foundation
import TestSupport
import Testing

/// Writes the fuzzer's seed corpus when `MQTT_FUZZ_SEED_DIR` names a directory
/// (Tests/Fuzz/make-seeds.sh); otherwise does nothing.
@Suite struct FuzzSeedCorpusTests {
    @Test func writeSeedCorpusWhenAsked() throws {
        guard let directory = ProcessInfo.processInfo.environment["MQTT_FUZZ_SEED_DIR"] else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for sample in SamplePackets.all {
            try Data(sample.bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(sample.name))
        }
        try Data(SamplePackets.stream).write(to: URL(fileURLWithPath: directory).appendingPathComponent("stream-every-type"))
        for sample in MQTT5Bytes.samples {
            try Data(sample.bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(sample.name))
        }
        try Data(MQTT5Bytes.stream).write(to: URL(fileURLWithPath: directory).appendingPathComponent("v5-stream"))
    }
}
