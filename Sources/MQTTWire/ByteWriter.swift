/// Writes MQTT fields into memory that an encoder has already sized.
///
/// Encoders compute the exact size first, so writing cannot run out of room; the bounds are
/// asserted in debug builds only, as the size functions are the single source of truth.
struct ByteWriter {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var writerIndex = 0

    init(_ base: UnsafeMutableRawPointer, capacity: Int = .max) {
        self.base = base
        self.capacity = capacity
    }

    mutating func writeUInt8(_ value: UInt8) {
        assert(writerIndex + 1 <= capacity)
        base.storeBytes(of: value, toByteOffset: writerIndex, as: UInt8.self)
        writerIndex += 1
    }

    mutating func writeUInt16(_ value: UInt16) {
        assert(writerIndex + 2 <= capacity)
        base.storeBytes(of: value.bigEndian, toByteOffset: writerIndex, as: UInt16.self)
        writerIndex += 2
    }

    mutating func writeBytes(_ bytes: ByteView) {
        assert(writerIndex + bytes.count <= capacity)
        if let source = bytes.unsafeBytes.baseAddress, bytes.count > 0 {
            (base + writerIndex).copyMemory(from: source, byteCount: bytes.count)
        }
        writerIndex += bytes.count
    }

    mutating func writeLengthPrefixed(_ bytes: ByteView) {
        precondition(bytes.count <= Int(UInt16.max), "MQTT field longer than 65535 bytes")
        writeUInt16(UInt16(bytes.count))
        writeBytes(bytes)
    }

    mutating func writeVariableLengthInteger(_ value: Int) {
        writerIndex += VariableLengthInteger.write(value, to: base + writerIndex)
    }

    mutating func writeUInt32(_ value: UInt32) {
        assert(writerIndex + 4 <= capacity)
        base.storeBytes(of: value.bigEndian, toByteOffset: writerIndex, as: UInt32.self)
        writerIndex += 4
    }

    mutating func writeFixedHeader(_ typeAndFlags: UInt8, remainingLength: Int) {
        writeUInt8(typeAndFlags)
        writerIndex += VariableLengthInteger.write(remainingLength, to: base + writerIndex)
    }
}
