/// Basic Header Segment constants and a cheap header peek (RFC 7143 §11.2.1).
public enum BHS {
    /// RFC 7143 §11.2.1: the BHS is always 48 bytes.
    public static let size = 48
    /// RFC 7143 §11.2.1: DataSegmentLength is a 24-bit field.
    public static let maxDataSegmentLength = 0xFF_FFFF
    /// RFC 7143 §11.2.1.4: TotalAHSLength counts 4-byte words in one byte.
    public static let maxTotalAHSLength = 255 * 4
    /// Byte 0, bit 6: the immediate-delivery bit (initiator PDUs).
    static let immediateBit: UInt8 = 0x40
    /// Byte 0, bits 0-5: the opcode.
    static let opcodeMask: UInt8 = 0x3F
    /// Byte 1, bit 7: the F (final) bit.
    static let finalBit: UInt8 = 0x80
}

/// The fields of a BHS that the receive path needs before decoding it (RFC 7143 §11.2.1).
public struct BHSInfo: Hashable, Sendable {
    /// The 6-bit opcode (byte 0, bits 0-5), raw so that unknown opcodes can still be rejected.
    public var opcode: UInt8
    /// The I bit (byte 0, bit 6).
    public var immediate: Bool
    /// Byte 1 (the F bit and opcode-specific flags).
    public var flags: UInt8
    /// TotalAHSLength in bytes (the field counts 4-byte words).
    public var totalAHSLength: Int
    /// DataSegmentLength in bytes, without padding.
    public var dataSegmentLength: Int
    /// The Initiator Task Tag (bytes 16-19).
    public var initiatorTaskTag: UInt32

    /// Creates a header summary.
    public init(opcode: UInt8, immediate: Bool, flags: UInt8 = 0, totalAHSLength: Int, dataSegmentLength: Int, initiatorTaskTag: UInt32) {
        self.opcode = opcode; self.immediate = immediate; self.flags = flags
        self.totalAHSLength = totalAHSLength; self.dataSegmentLength = dataSegmentLength
        self.initiatorTaskTag = initiatorTaskTag
    }

    /// The opcode as a known `Opcode`, or nil.
    public var knownOpcode: Opcode? { Opcode(rawValue: opcode) }

    /// Reads the summary from the start of `bhs`. Never traps: the caller should pass at least 48
    /// bytes; missing bytes read as 0.
    public static func peek(_ bhs: UnsafeRawBufferPointer) -> BHSInfo {
        @inline(__always) func at(_ i: Int) -> UInt8 { i < bhs.count ? bhs[i] : 0 }
        let ahsWords = Int(at(4))
        let dsl = Int(at(5)) << 16 | Int(at(6)) << 8 | Int(at(7))
        let itt = UInt32(at(16)) << 24 | UInt32(at(17)) << 16 | UInt32(at(18)) << 8 | UInt32(at(19))
        return BHSInfo(opcode: at(0) & BHS.opcodeMask, immediate: at(0) & BHS.immediateBit != 0, flags: at(1),
                       totalAHSLength: ahsWords * 4, dataSegmentLength: dsl, initiatorTaskTag: itt)
    }

    /// Reads the summary from the start of `bhs` (see `peek(_: UnsafeRawBufferPointer)`).
    public static func peek(_ bhs: [UInt8]) -> BHSInfo {
        bhs.withUnsafeBytes { peek($0) }
    }
}
