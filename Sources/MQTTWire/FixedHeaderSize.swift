/// Size of a fixed header for a given remaining length; shared by every encoder.
enum FixedHeaderSize {
    static func of(remainingLength: Int) -> Int {
        1 + VariableLengthInteger.encodedLength(remainingLength)
    }
}
