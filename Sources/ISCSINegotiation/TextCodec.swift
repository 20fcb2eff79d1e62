/// The `key=value\0` text format of Login/Text data segments (RFC 7143 §6.1).
public enum TextCodec {
    /// RFC 7143 §6.1: "A key-name ... MUST NOT exceed 63 bytes."
    public static let maxKeyLength = 63
    /// RFC 7143 §6.1: the maximum length of an individual value is 255 bytes.
    public static let maxValueLength = 255
    /// Longer values allowed for the binary authentication keys (CHAP_C / CHAP_R carry a hex or
    /// base64 encoded challenge of up to 1024 bytes, RFC 7143 §12.1.3). 8192 is SPDK's bound.
    public static let maxLargeValueLength = 8192
    /// Keys whose values may use `maxLargeValueLength`.
    public static let largeValueKeys: Set<String> = ["CHAP_C", "CHAP_R"]

    /// Decodes a complete text (all PDUs of a C-bit sequence concatenated) into ordered pairs.
    ///
    /// Empty segments (consecutive NULs, e.g. zero padding) are skipped. Bytes after the last NUL
    /// are an error: RFC 7143 §6.1 requires a NUL after every pair, including the last.
    /// - Parameters:
    ///   - data: the text bytes.
    ///   - rejectingDuplicates: whether a key appearing twice is an error. True for initiator
    ///     offers (RFC 7143 §6.2); false to read SendTargets responses, which repeat TargetName
    ///     and TargetAddress (RFC 7143 §13.3).
    /// - Returns: the pairs in wire order.
    /// - Throws: `NegotiationError` for a malformed pair, an over-long key or value, invalid UTF-8,
    ///   or a repeated key.
    public static func decode(_ data: [UInt8], rejectingDuplicates: Bool = true) throws(NegotiationError) -> [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = []
        var seen: Set<String> = []
        var start = 0
        while start < data.count {
            guard let end = data[start...].firstIndex(of: 0) else {
                throw NegotiationError(.missingTerminator, "text does not end with NUL", offset: start)
            }
            if end == start { start += 1; continue }   // tolerate padding / repeated NULs
            let pair = try decodePair(data[start..<end], offset: start)
            guard !rejectingDuplicates || seen.insert(pair.key).inserted else {
                // RFC 7143 §6.2: keys MUST NOT be offered more than once.
                throw NegotiationError(.duplicateKey, "key \(pair.key) appears twice", offset: start)
            }
            pairs.append(pair)
            start = end + 1
        }
        return pairs
    }

    /// Encodes pairs as `key=value\0...`.
    /// - Parameter pairs: the pairs, in the order to send them.
    /// - Returns: the text bytes (no padding).
    public static func encode(_ pairs: [(key: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = []
        for pair in pairs {
            out.append(contentsOf: pair.key.utf8)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: pair.value.utf8)
            out.append(0)
        }
        return out
    }

    static func decodePair(_ bytes: ArraySlice<UInt8>, offset: Int) throws(NegotiationError) -> (key: String, value: String) {
        guard let eq = bytes.firstIndex(of: UInt8(ascii: "=")) else {
            throw NegotiationError(.missingSeparator, "pair without '='", offset: offset)
        }
        let keyBytes = bytes[bytes.startIndex..<eq]
        let valueBytes = bytes[(eq + 1)..<bytes.endIndex]
        guard !keyBytes.isEmpty else { throw NegotiationError(.emptyKey, "empty key", offset: offset) }
        // RFC 7143 §6.1: key names are at most 63 bytes.
        guard keyBytes.count <= maxKeyLength else {
            throw NegotiationError(.keyTooLong, "key longer than \(maxKeyLength) bytes", offset: offset)
        }
        for byte in keyBytes where !isKeyCharacter(byte) {
            throw NegotiationError(.invalidKeyCharacter, "key byte 0x\(String(byte, radix: 16))", offset: offset)
        }
        // Key bytes are ASCII, checked above.
        let key = String(decoding: keyBytes, as: UTF8.self)
        let limit = largeValueKeys.contains(key) ? maxLargeValueLength : maxValueLength
        guard valueBytes.count <= limit else {
            throw NegotiationError(.valueTooLong, "value of \(key) longer than \(limit) bytes", offset: offset)
        }
        guard let value = String(validating: valueBytes, as: UTF8.self) else {
            throw NegotiationError(.invalidUTF8, "value of \(key) is not UTF-8", offset: offset)
        }
        return (key, value)
    }

    /// RFC 7143 §6.1 standard-label characters (letters, digits, `.`, `-`, `+`, `@`, `_`) plus `#`
    /// for `X#` public extension keys.
    static func isKeyCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "@"),
             UInt8(ascii: "_"), UInt8(ascii: "#"):
            return true
        default:
            return false
        }
    }
}
