extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for bodies that throw `MQTTWireError`: the standard one only rethrows
    /// untyped errors, so the typed one is carried out of it here, once for every caller.
    public func withUnsafeWireBytes<R>(
        _ body: (UnsafeRawBufferPointer) throws(MQTTWireError) -> R
    ) throws(MQTTWireError) -> R {
        let outcome: Result<R, MQTTWireError> = withUnsafeBytes { buffer in
            do throws(MQTTWireError) { return .success(try body(buffer)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }
}
