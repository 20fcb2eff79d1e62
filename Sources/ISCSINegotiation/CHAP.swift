import Checksums
import Synchronization

/// One CHAP name and secret (an ietd.conf `IncomingUser` or `OutgoingUser`). `description` and
/// reflection never show the secret.
public struct CHAPCredential: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The CHAP name (CHAP_N).
    public var user: String
    /// The CHAP secret. Never log it.
    public var secret: String

    /// Creates a credential.
    public init(user: String, secret: String) {
        self.user = user
        self.secret = secret
    }

    /// `user (secret redacted)`.
    public var description: String { "\(user) (secret redacted)" }
    /// Same as `description`: the secret is never printed.
    public var debugDescription: String { "CHAPCredential(user: \(user), secret: <redacted>)" }
    /// Hides the secret from `dump`.
    public var customMirror: Mirror { Mirror(self, children: ["user": user, "secret": "<redacted>"]) }
}

/// Challenges this process issued recently (RFC 7143 §12.1.3: a target MUST NOT reuse a CHAP
/// challenge, and MUST refuse an initiator challenge that reflects one of its own). Bounded: the
/// oldest challenge is forgotten once `capacity` newer ones were issued. Shared by all connections
/// through `shared`; tests make their own.
public final class CHAPChallengeRegistry: Sendable {
    /// The process-wide registry.
    public static let shared = CHAPChallengeRegistry()
    /// How many recent challenges `shared` remembers.
    public static let defaultCapacity = 4096

    private struct State: Sendable {
        var ring: [[UInt8]] = []
        var next = 0
        var members: Set<[UInt8]> = []
    }

    private let capacity: Int
    private let state = Mutex(State())

    /// Creates a registry remembering at most `capacity` (≥ 1) challenges.
    public init(capacity: Int = defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Records a newly drawn challenge.
    /// - Returns: false (and records nothing) when the same challenge was issued recently.
    public func register(_ challenge: [UInt8]) -> Bool {
        state.withLock { state in
            guard !state.members.contains(challenge) else { return false }
            if state.ring.count < capacity {
                state.ring.append(challenge)
            } else {
                state.members.remove(state.ring[state.next])
                state.ring[state.next] = challenge
                state.next = (state.next + 1) % capacity
            }
            state.members.insert(challenge)
            return true
        }
    }

    /// Whether `challenge` is one this process issued recently.
    public func contains(_ challenge: [UInt8]) -> Bool {
        state.withLock { $0.members.contains(challenge) }
    }
}

/// RFC 7143 §6.1 binary values as used by CHAP_C / CHAP_R: hex-constant (`0x...`) or
/// base64-constant (`0b...`, RFC 4648 alphabet).
public enum CHAPBinary {
    /// RFC 7143 §12.1.3: a CHAP challenge is at most 1024 bytes.
    public static let maxLength = 1024

    /// Decodes a binary value; nil when malformed or longer than `maxLength` bytes.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count > 2, utf8[0] == UInt8(ascii: "0") else { return nil }
        let body = utf8[2...]
        switch utf8[1] {
        case UInt8(ascii: "x"), UInt8(ascii: "X"): return decodeHex(body)
        case UInt8(ascii: "b"), UInt8(ascii: "B"): return decodeBase64(body)
        default: return nil
        }
    }

    /// `0x` followed by lowercase hex digits.
    public static func encodeHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "0"), UInt8(ascii: "x")]
        out.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `0b` followed by padded base64 (RFC 4648 §4).
    public static func encodeBase64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = [UInt8(ascii: "0"), UInt8(ascii: "b")]
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 0x3f)])
            out.append(alphabet[Int(group >> 12 & 0x3f)])
            out.append(remaining > 1 ? alphabet[Int(group >> 6 & 0x3f)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? alphabet[Int(group & 0x3f)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func decodeHex(_ digits: ArraySlice<UInt8>) -> [UInt8]? {
        // Bound before allocating: 2 digits per byte (an odd count has an implied leading zero).
        guard !digits.isEmpty, digits.count <= maxLength * 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity((digits.count + 1) / 2)
        var index = digits.startIndex
        if digits.count % 2 == 1 {
            guard let low = hexValue(digits[index]) else { return nil }
            out.append(low)
            index += 1
        }
        while index < digits.endIndex {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func base64Value(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(byte - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    private static func decodeBase64(_ digits: ArraySlice<UInt8>) -> [UInt8]? {
        // Padding ('=') only at the end, at most two; the length in bytes is ⌊6·N/8⌋ for N
        // non-padding digits (RFC 4648 §4). Unpadded input is accepted.
        var body = digits
        var padding = 0
        while let last = body.last, last == UInt8(ascii: "=") {
            padding += 1
            body = body.dropLast()
        }
        guard !body.isEmpty, padding <= 2, body.count % 4 != 1,
              padding == 0 || (body.count + padding) % 4 == 0,
              body.count <= (maxLength * 4 + 2) / 3 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(body.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in body {
            guard let value = base64Value(byte) else { return nil }
            accumulator = (accumulator << 6 | value) & 0xffffff
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out.count <= maxLength ? out : nil
    }
}

/// The target side of one CHAP exchange (RFC 7143 §12.1.3, RFC 1994), after AuthMethod=CHAP was
/// agreed:
///
/// ```
/// I→T  CHAP_A=<A1,A2,...>
/// T→I  CHAP_A=5 CHAP_I=<I> CHAP_C=<C>
/// I→T  CHAP_N=<N> CHAP_R=<R> [CHAP_I=<I'> CHAP_C=<C'>]   (mutual CHAP when I'/C' are present)
/// T→I  [CHAP_N=<N'> CHAP_R=<R'>]
/// ```
///
/// Every failure is an authentication failure (0x0201); failure reasons name the user but never
/// a secret, challenge or response.
struct CHAPExchange: Sendable {
    /// The keys this exchange owns.
    static let keys: Set<String> = [
        TextKey.chapA.rawValue, TextKey.chapI.rawValue, TextKey.chapC.rawValue,
        TextKey.chapN.rawValue, TextKey.chapR.rawValue,
    ]
    /// RFC 1994 §2.2 / RFC 7143 §12.1.3: CHAP_A 5 is MD5, the only algorithm implemented.
    static let md5Algorithm = "5"
    /// Length of our challenges (LIO and IET use 16 bytes).
    static let challengeLength = 16
    /// Attempts to draw a challenge not issued recently before giving up.
    static let maxDraws = 8

    private enum State: Sendable {
        case awaitingAlgorithm
        case awaitingResponse(identifier: UInt8, challenge: [UInt8])
        case authenticated
    }

    private let incoming: [CHAPCredential]
    private let outgoing: CHAPCredential?
    private var state: State = .awaitingAlgorithm
    /// The CHAP_N that authenticated, once authenticated.
    private(set) var authenticatedUser: String?

    init(incoming: [CHAPCredential], outgoing: CHAPCredential?) {
        self.incoming = incoming
        self.outgoing = outgoing
    }

    var isAuthenticated: Bool {
        if case .authenticated = state { return true }
        return false
    }

    /// Handles the CHAP keys of one initiator text.
    mutating func receive(_ pairs: [(key: String, value: String)],
                          randomBytes: (Int) -> [UInt8],
                          registry: CHAPChallengeRegistry) -> Result<[(key: String, value: String)], NegotiationFailure> {
        var values: [String: String] = [:]
        for (key, value) in pairs { values[key] = value }
        switch state {
        case .awaitingAlgorithm:
            return sendChallenge(values, randomBytes: randomBytes, registry: registry)
        case .awaitingResponse(let identifier, let challenge):
            return verify(values, identifier: identifier, challenge: challenge, registry: registry)
        case .authenticated:
            guard values.isEmpty else {
                // RFC 7143 §6.2: keys are negotiated once; CHAP is over.
                return .failure(Self.failure("CHAP key after authentication completed"))
            }
            return .success([])
        }
    }

    private mutating func sendChallenge(_ values: [String: String], randomBytes: (Int) -> [UInt8],
                                        registry: CHAPChallengeRegistry) -> Result<[(key: String, value: String)], NegotiationFailure> {
        guard let algorithms = values[TextKey.chapA.rawValue] else {
            // RFC 7143 §12.1.3: CHAP_N/CHAP_R/CHAP_I/CHAP_C only after our challenge.
            if !values.isEmpty { return .failure(Self.failure("CHAP response before CHAP_A")) }
            return .success([])
        }
        guard values.count == 1 else { return .failure(Self.failure("CHAP response before the challenge")) }
        // RFC 7143 §12.1.3: the target picks one algorithm from the initiator's list; only MD5.
        guard TextValue.list(algorithms).contains(Self.md5Algorithm) else {
            return .failure(Self.failure("no supported CHAP_A (only 5 = MD5)"))
        }
        // RFC 1994 §4.1: the Identifier changes with each challenge; it need not be secret.
        guard let identifier = randomBytes(1).first else {
            return .failure(.init(.targetError, "random source returned no bytes"))
        }
        // RFC 7143 §12.1.3: challenges are unpredictable and never reused.
        var challenge: [UInt8]?
        for _ in 0..<Self.maxDraws {
            let drawn = randomBytes(Self.challengeLength)
            if drawn.count == Self.challengeLength && registry.register(drawn) {
                challenge = drawn
                break
            }
        }
        guard let challenge else {
            return .failure(.init(.targetError, "could not draw a fresh CHAP challenge"))
        }
        state = .awaitingResponse(identifier: identifier, challenge: challenge)
        return .success([
            (TextKey.chapA.rawValue, Self.md5Algorithm),
            (TextKey.chapI.rawValue, String(identifier)),
            (TextKey.chapC.rawValue, CHAPBinary.encodeHex(challenge)),
        ])
    }

    private mutating func verify(_ values: [String: String], identifier: UInt8, challenge: [UInt8],
                                 registry: CHAPChallengeRegistry) -> Result<[(key: String, value: String)], NegotiationFailure> {
        if values[TextKey.chapA.rawValue] != nil {
            return .failure(Self.failure("CHAP_A renegotiated"))
        }
        guard let name = values[TextKey.chapN.rawValue] else { return .failure(Self.failure("missing CHAP_N")) }
        let user = Self.loggable(name)
        guard let responseText = values[TextKey.chapR.rawValue] else {
            return .failure(Self.failure("missing CHAP_R for user \(user)"))
        }
        // RFC 1994 §4.1: the MD5 response is 16 bytes.
        guard let response = CHAPBinary.decode(responseText), response.count == MD5.digestLength else {
            return .failure(Self.failure("malformed CHAP_R for user \(user)"))
        }
        let candidates = incoming.filter { $0.user == name }
        guard !candidates.isEmpty else { return .failure(Self.failure("unknown CHAP user \(user)")) }
        // RFC 1994 §4.1: Response = MD5(Identifier ‖ secret ‖ Challenge).
        let matched = candidates.contains { account in
            Self.constantTimeEqual(Self.response(identifier: identifier, secret: account.secret, challenge: challenge), response)
        }
        guard matched else { return .failure(Self.failure("CHAP response mismatch for user \(user)")) }

        var answers: [(key: String, value: String)] = []
        let mutualIdentifier = values[TextKey.chapI.rawValue]
        let mutualChallenge = values[TextKey.chapC.rawValue]
        switch (mutualIdentifier, mutualChallenge) {
        case (nil, nil):
            break
        case (let identifierText?, let challengeText?):
            // RFC 7143 §12.1.3: mutual CHAP — the initiator challenges the target.
            guard let outgoing else {
                return .failure(Self.failure("mutual CHAP requested by user \(user) but no OutgoingUser is configured"))
            }
            guard let number = TextValue.number(identifierText), number <= 255 else {
                return .failure(Self.failure("malformed mutual CHAP_I from user \(user)"))
            }
            guard let theirs = CHAPBinary.decode(challengeText), !theirs.isEmpty else {
                return .failure(Self.failure("malformed mutual CHAP_C from user \(user)"))
            }
            // RFC 7143 §12.1.3: a responder MUST refuse a challenge equal to the one it sent
            // (reflection); also refuse any challenge this process issued recently.
            if theirs == challenge || registry.contains(theirs) {
                return .failure(Self.failure("reflected CHAP challenge from user \(user)"))
            }
            let ours = Self.response(identifier: UInt8(number), secret: outgoing.secret, challenge: theirs)
            answers.append((TextKey.chapN.rawValue, outgoing.user))
            answers.append((TextKey.chapR.rawValue, CHAPBinary.encodeHex(ours)))
        default:
            return .failure(Self.failure("mutual CHAP needs both CHAP_I and CHAP_C (user \(user))"))
        }
        state = .authenticated
        authenticatedUser = name
        return .success(answers)
    }

    /// RFC 1994 §4.1 MD5 response.
    static func response(identifier: UInt8, secret: String, challenge: [UInt8]) -> [UInt8] {
        MD5.hash(concatenating: [[identifier], Array(secret.utf8), challenge])
    }

    /// Compares without an early exit on the first differing byte.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// A user name fit for a log line: printable ASCII only, at most 64 characters.
    static func loggable(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars.prefix(64) {
            out.unicodeScalars.append((0x21...0x7e).contains(scalar.value) ? scalar : "?")
        }
        return out.isEmpty ? "<empty>" : out
    }

    private static func failure(_ reason: String) -> NegotiationFailure {
        // RFC 7143 §11.13.5: 0x0201 authentication failure.
        NegotiationFailure(.authenticationFailure, reason)
    }
}
