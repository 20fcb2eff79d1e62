/// One Additional Header Segment (RFC 7143 §11.2.2): AHSLength (2 bytes), AHSType (1 byte),
/// then `AHSLength` bytes of AHS-specific data, padded to a multiple of 4.
public struct AdditionalHeaderSegment: Hashable, Sendable {
    /// AHSType (RFC 7143 §11.2.2.1): bits 0-5 the type code, bits 6-7 reserved.
    public var type: UInt8
    /// The AHS-specific bytes (exactly AHSLength of them; no padding).
    public var specific: [UInt8]

    /// Creates a segment.
    public init(type: UInt8, specific: [UInt8]) {
        self.type = type
        self.specific = specific
    }

    /// RFC 7143 §11.3.5: Extended CDB AHS (the AHS-specific field is 1 reserved byte + CDB bytes 16...).
    public static let extendedCDBType: UInt8 = 1
    /// RFC 7143 §11.3.4: Bidirectional Read Expected Data Transfer Length AHS.
    public static let bidirectionalReadLengthType: UInt8 = 2

    /// Splits an AHS area (the TotalAHSLength bytes following the BHS) into segments.
    /// - Throws: `.invalidAHS` when the area is not a whole number of 4-byte words or a segment's
    ///   length (plus padding) runs past the end of the area (RFC 7143 §11.2.2).
    public static func parse(_ ahs: [UInt8]) throws(ProtocolError) -> [AdditionalHeaderSegment] {
        // RFC 7143 §11.2.1.4: TotalAHSLength is in 4-byte words.
        guard ahs.count % 4 == 0 else {
            throw .invalidAHS("AHS area of \(ahs.count) bytes is not a multiple of 4", offset: BHS.size)
        }
        var segments: [AdditionalHeaderSegment] = []
        var offset = 0
        while offset < ahs.count {
            let remaining = ahs.count - offset
            // remaining >= 4 here (whole words), so the 3-byte AHS header is present.
            let length = Int(ahs.u16(offset))
            let type = ahs.u8(offset + 2)
            // RFC 7143 §11.2.2: each AHS is padded to a whole number of 4-byte words.
            let size = paddedLength(3 + length)
            guard size <= remaining else {
                throw .invalidAHS("AHSLength \(length) runs past the AHS area (\(remaining) bytes left)", offset: BHS.size + offset)
            }
            segments.append(AdditionalHeaderSegment(type: type, specific: Array(ahs[(offset + 3)..<(offset + 3 + length)])))
            offset += size
        }
        return segments
    }

    /// Serialises segments into an AHS area, each padded with zeros to a 4-byte boundary.
    /// Segments whose `specific` exceeds 65535 bytes are truncated to fit AHSLength; keep the
    /// total within `BHS.maxTotalAHSLength`.
    public static func encode(_ segments: [AdditionalHeaderSegment]) -> [UInt8] {
        var out: [UInt8] = []
        for segment in segments {
            let specific = segment.specific.prefix(Int(UInt16.max))
            let length = specific.count
            out.append(UInt8(truncatingIfNeeded: length >> 8))
            out.append(UInt8(truncatingIfNeeded: length))
            out.append(segment.type)
            out.append(contentsOf: specific)
            let pad = paddedLength(3 + length) - (3 + length)
            out.append(contentsOf: repeatElement(0, count: pad))
        }
        return out
    }
}
