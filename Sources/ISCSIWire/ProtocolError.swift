/// A connection-level protocol error found while framing or decoding PDUs (RFC 7143 §7, ERL 0:
/// the usual reaction is to close the connection).
///
/// Equality and hashing use `code` only, so tests can write `#expect(throws: ProtocolError(.unknownOpcode))`.
public struct ProtocolError: Error, Hashable, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Hashable, Sendable {
        /// Fewer bytes than the structure needs (e.g. a BHS that is not 48 bytes).
        case truncated
        /// DataSegmentLength exceeds the declared MaxRecvDataSegmentLength (RFC 7143 §13.12).
        case dataSegmentTooLong
        /// TotalAHSLength exceeds the configured AHS limit.
        case ahsTooLong
        /// An AHS whose length or type does not fit (RFC 7143 §11.2.2).
        case invalidAHS
        /// The header digest does not match (RFC 7143 §13.1).
        case headerDigestMismatch
        /// The data digest does not match (RFC 7143 §13.1).
        case dataDigestMismatch
        /// An opcode that this decoder does not know (RFC 7143 §11.2.1.2).
        case unknownOpcode
        /// A field holds a value the protocol does not allow.
        case invalidField
        /// A reserved field is not zero. RFC 7143 §11 tells receivers to ignore reserved fields, so
        /// the decoders here never raise this; it exists for callers that want to be strict.
        case reservedFieldNotZero
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable explanation (one line, no peer data beyond numbers).
    public var message: String
    /// The byte offset of the offending field within the PDU (or the framer stream), if known.
    public var offset: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String = "", offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// `code` only.
    public static func == (lhs: ProtocolError, rhs: ProtocolError) -> Bool { lhs.code == rhs.code }

    /// `code` only.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        var text = "ProtocolError.\(code)"
        if !message.isEmpty { text += ": \(message)" }
        if let offset { text += " (at byte \(offset))" }
        return text
    }

    @inline(never)
    static func truncated(_ what: String, have: Int, need: Int) -> ProtocolError {
        ProtocolError(.truncated, "\(what): have \(have) bytes, need \(need)")
    }

    @inline(never)
    static func invalidAHS(_ message: String, offset: Int) -> ProtocolError {
        ProtocolError(.invalidAHS, message, offset: offset)
    }

    @inline(never)
    static func unknownOpcode(_ opcode: UInt8) -> ProtocolError {
        ProtocolError(.unknownOpcode, "opcode 0x\(String(opcode, radix: 16))", offset: 0)
    }

    @inline(never)
    static func invalidField(_ message: String, offset: Int) -> ProtocolError {
        ProtocolError(.invalidField, message, offset: offset)
    }
}
