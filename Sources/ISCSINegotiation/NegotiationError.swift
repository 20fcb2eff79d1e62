/// A malformed text data segment (RFC 7143 §6.1).
///
/// Equality and hashing use `code` only, so tests can write
/// `#expect(throws: NegotiationError(.duplicateKey))`.
public struct NegotiationError: Error, Hashable, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: Hashable, Sendable {
        /// The last key=value pair is not followed by a NUL (RFC 7143 §6.1: every pair, including
        /// the last, MUST be followed by one null delimiter).
        case missingTerminator
        /// A pair without `=`.
        case missingSeparator
        /// A pair whose key is empty (`=value`).
        case emptyKey
        /// A key longer than 63 bytes (RFC 7143 §6.1).
        case keyTooLong
        /// A key with a byte outside the standard-label / extension character set (RFC 7143 §6.1).
        case invalidKeyCharacter
        /// A value longer than 255 bytes (8192 for the CHAP binary keys).
        case valueTooLong
        /// A value that is not valid UTF-8 (RFC 7143 §6.1: text is UTF-8).
        case invalidUTF8
        /// The same key twice in one text (RFC 7143 §6.2: a key is offered at most once).
        case duplicateKey
        /// Accumulated text (C bit continuation) exceeded the bound.
        case textTooLong
    }

    /// What went wrong.
    public var code: Code
    /// A one-line explanation (never contains key values, which may be secrets).
    public var message: String
    /// Byte offset into the text where the problem was found, if known.
    public var offset: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String = "", offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        if let offset { return "NegotiationError(\(code), offset \(offset)): \(message)" }
        return "NegotiationError(\(code)): \(message)"
    }
}
