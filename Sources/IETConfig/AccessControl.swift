// initiators.allow / initiators.deny / targets.allow with IET 1.4.x semantics (anchors §1.9;
// IET usr/plain.c `match`, `__match`, `plain_initiator_allow`, `plain_target_allow`).
// Decisions are documented in docs/configuration.md ("Access files").

#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address.
enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// IPv4, host byte order.
    case v4(UInt32)
    /// IPv6, 16 bytes in network order.
    case v6([UInt8])

    /// Parses a numeric address: `1.2.3.4`, `::1`, `[::1]`, `fe80::1%eth0` (zone dropped).
    /// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) become `.v4`.
    init?(_ text: String) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") {
            text = text.dropFirst().dropLast()
        }
        if let percent = text.firstIndex(of: "%") {
            text = text[..<percent]
        }
        guard !text.isEmpty, !text.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if String(text).withCString({ inet_pton(AF_INET, $0, &v4) }) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        guard String(text).withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        guard bytes.count == 16 else { return nil }
        // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            self = .v4(UInt32(bytes[12]) << 24 | UInt32(bytes[13]) << 16 | UInt32(bytes[14]) << 8 | UInt32(bytes[15]))
            return
        }
        self = .v6(bytes)
    }

    /// Dotted quad or RFC 5952-ish hex groups (not compressed).
    var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)"
        case .v6(let bytes):
            var groups: [String] = []
            for index in stride(from: 0, to: bytes.count - 1, by: 2) {
                groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16))
            }
            return groups.joined(separator: ":")
        }
    }

    /// True when `self` and `other` agree in the first `prefix` bits (same family only).
    func matches(_ other: IPAddress, prefix: Int) -> Bool {
        switch (self, other) {
        case (.v4(let a), .v4(let b)):
            guard prefix > 0 else { return true }
            let bits = min(prefix, 32)
            let mask: UInt32 = bits == 32 ? .max : ~(UInt32.max >> UInt32(bits))
            return a & mask == b & mask
        case (.v6(let a), .v6(let b)):
            let bits = min(prefix, 128)
            for index in 0..<16 {
                let remaining = bits - index * 8
                if remaining <= 0 { break }
                let mask: UInt8 = remaining >= 8 ? 0xff : ~(UInt8.max >> UInt8(remaining))
                if a[index] & mask != b[index] & mask { return false }
            }
            return true
        default:
            return false
        }
    }

    /// True when bits after `prefix` are non-zero.
    func hasHostBits(prefix: Int) -> Bool {
        self != masked(prefix: prefix)
    }

    /// The address with the bits after `prefix` cleared.
    func masked(prefix: Int) -> IPAddress {
        switch self {
        case .v4(let value):
            guard prefix > 0 else { return .v4(0) }
            return .v4(prefix >= 32 ? value : value & ~(UInt32.max >> UInt32(prefix)))
        case .v6(let bytes):
            var out = bytes
            for index in 0..<16 {
                let remaining = prefix - index * 8
                if remaining >= 8 { continue }
                out[index] = remaining <= 0 ? 0 : out[index] & ~(UInt8.max >> UInt8(remaining))
            }
            return .v6(out)
        }
    }
}

/// A compiled, anchored POSIX basic regular expression (`^pattern$`, `REG_NOSUB`, as IET).
final class NamePattern: @unchecked Sendable {
    // @unchecked: the regex_t is compiled once in init and only read afterwards; POSIX regexec on a
    // compiled expression is safe to call from several threads.
    private let regex: UnsafeMutablePointer<regex_t>
    let source: String

    init?(_ pattern: String) {
        guard !pattern.utf8.contains(0) else { return nil }
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        // IET initiator_match: snprintf(pattern, "^%s$", p); regcomp(&re, pattern, REG_NOSUB).
        let status = "^\(pattern)$".withCString { regcomp(compiled, $0, REG_NOSUB) }
        guard status == 0 else {
            // regcomp frees its own state on failure; only our allocation remains.
            compiled.deallocate()
            return nil
        }
        regex = compiled
        source = pattern
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    func matches(_ name: String) -> Bool {
        // A NUL inside a peer-supplied name would truncate the C string and could widen a match.
        guard !name.utf8.contains(0) else { return false }
        return name.withCString { regexec(regex, $0, 0, nil, 0) == 0 }
    }
}

/// IET's access files: which initiators may see and log in to which targets, and on which local
/// addresses a target is reachable.
///
/// Semantics (IET 1.4.x): for each file, the FIRST line whose target field is `ALL` or the target's
/// name (case-insensitive) decides; no such line means "no match". A missing file matches nothing
/// and, for initiators.allow/targets.allow, means "allow".
public struct AccessControl: Sendable {
    enum Item: Sendable {
        case all
        case address(IPAddress, prefix: Int?)
        case pattern(NamePattern)
    }

    struct Rule: Sendable {
        /// nil = `ALL`.
        var target: String?
        var items: [Item]
        var location: SourceLocation
    }

    enum Match {
        case noFile
        case matched
        case notMatched
    }

    var initiatorsAllow: [Rule]?
    var initiatorsDeny: [Rule]?
    var targetsAllow: [Rule]?

    /// Access control with no files: everything is allowed.
    public init() {}

    /// Parses the three files' contents. Pass nil for a file that does not exist.
    /// - Parameters:
    ///   - initiatorsAllow: Contents of initiators.allow.
    ///   - initiatorsDeny: Contents of initiators.deny (deprecated since IET 0.4.18).
    ///   - targetsAllow: Contents of targets.allow.
    ///   - directory: Directory used to name the files in diagnostics.
    /// - Returns: The access control and diagnostics. Entries with errors never match; callers
    ///   should refuse to use a result that has errors.
    public static func parse(initiatorsAllow: String?, initiatorsDeny: String?, targetsAllow: String?,
                             directory: String) -> (AccessControl, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        var control = AccessControl()
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        if let text = initiatorsAllow {
            control.initiatorsAllow = parseFile(text, path: base + "initiators.allow", names: true, diagnostics: &diagnostics)
        }
        if let text = initiatorsDeny {
            diagnostics.append(.warning(SourceLocation(file: base + "initiators.deny", line: 1, column: 1), denyDeprecation))
            control.initiatorsDeny = parseFile(text, path: base + "initiators.deny", names: true, diagnostics: &diagnostics)
        }
        if let text = targetsAllow {
            control.targetsAllow = parseFile(text, path: base + "targets.allow", names: false, diagnostics: &diagnostics)
        }
        return (control, diagnostics)
    }

    /// Whether `initiatorName` connecting from `peerAddress` may discover and log in to `target`
    /// (IET `plain_initiator_allow`).
    /// - Parameters:
    ///   - target: The target name.
    ///   - initiatorName: The InitiatorName from the login.
    ///   - peerAddress: Numeric peer address, e.g. `192.0.2.7` or `::1`.
    public func initiatorAllowed(target: String, initiatorName: String, peerAddress: String) -> Bool {
        let peer = IPAddress(peerAddress)
        let allow = Self.match(initiatorsAllow, target: target, initiator: initiatorName, address: peer)
        if initiatorsDeny != nil {
            // Deprecated mode (README.initiators): denied iff deny matches and allow does not.
            let deny = Self.match(initiatorsDeny, target: target, initiator: initiatorName, address: peer)
            return !(deny == .matched && allow != .matched)
        }
        // initiators.allow missing → allow all; present → only what a matching line lists.
        return allow == .noFile || allow == .matched
    }

    /// Whether `target` may be reached or advertised on the local address `localAddress`
    /// (IET `plain_target_allow`).
    public func targetAllowed(target: String, localAddress: String) -> Bool {
        let allow = Self.match(targetsAllow, target: target, initiator: nil, address: IPAddress(localAddress))
        return allow == .noFile || allow == .matched
    }

    /// Reads the access files from one directory (missing files are treated as absent).
    public static func load(directory: String) -> (AccessControl, [Diagnostic]) {
        load(directories: [directory])
    }

    /// Reads each access file from the first directory that has it, as IET searched `/etc/iet`
    /// then `/etc`. Finding a file in a later directory produces a deprecation warning.
    /// - Parameter directories: Search order, default `["/etc/iet", "/etc"]`.
    public static func load(directories: [String] = ConfigFiles.defaultDirectories) -> (AccessControl, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        var control = AccessControl()
        for name in ["initiators.allow", "initiators.deny", "targets.allow"] {
            var found: (path: String, text: String)?
            for (index, directory) in directories.enumerated() {
                let path = (directory.hasSuffix("/") ? directory : directory + "/") + name
                switch ConfigFiles.read(path: path) {
                case .success(let text):
                    found = (path, text)
                    if index > 0 {
                        diagnostics.append(.warning(SourceLocation(file: path, line: 1, column: 1),
                                                    "\(name) in \(directory) is a deprecated location; move it to \(directories[0])"))
                    }
                case .failure(let failure):
                    if failure.errno != ENOENT {
                        // Unreadable (not missing): IET treated it as missing, which would open access.
                        diagnostics.append(.error(SourceLocation(file: path, line: 1, column: 1), failure.description))
                    }
                }
                if found != nil { break }
            }
            guard let found else { continue }
            switch name {
            case "initiators.allow":
                control.initiatorsAllow = parseFile(found.text, path: found.path, names: true, diagnostics: &diagnostics)
            case "initiators.deny":
                diagnostics.append(.warning(SourceLocation(file: found.path, line: 1, column: 1), denyDeprecation))
                control.initiatorsDeny = parseFile(found.text, path: found.path, names: true, diagnostics: &diagnostics)
            default:
                control.targetsAllow = parseFile(found.text, path: found.path, names: false, diagnostics: &diagnostics)
            }
        }
        return (control, diagnostics)
    }

    static let denyDeprecation = "initiators.deny is deprecated since IET 0.4.18; list allowed initiators in "
        + "initiators.allow (while this file exists, the old deny-then-allow rule applies)"

    // MARK: - Matching

    static func match(_ rules: [Rule]?, target: String, initiator: String?, address: IPAddress?) -> Match {
        guard let rules else { return .noFile }
        let lowered = target.lowercased()
        // IET match(): the first line naming ALL or this target decides.
        guard let rule = rules.first(where: { $0.target == nil || $0.target?.lowercased() == lowered }) else {
            return .notMatched
        }
        for item in rule.items {
            switch item {
            case .all:
                return .matched
            case .pattern(let pattern):
                // targets.allow is checked without an initiator name (IET passes NULL).
                if let initiator, pattern.matches(initiator) { return .matched }
            case .address(let network, let prefix):
                guard let address else { continue }
                if let prefix {
                    if network.matches(address, prefix: prefix) { return .matched }
                } else if network == address {
                    return .matched
                }
            }
        }
        return .notMatched
    }

    // MARK: - Parsing

    static func parseFile(_ text: String, path: String, names: Bool, diagnostics: inout [Diagnostic]) -> [Rule] {
        let lines = Lexer.lines(
            text, file: path, continuation: false,
            noNewlineMessage: "no newline at end of file; IET ignored this whole line, iscsi-target reads it",
            diagnostics: &diagnostics)
        var rules: [Rule] = []
        for line in lines {
            guard let first = line.tokens.first else { continue }
            // IET: strcmp(p, "ALL") — case-sensitive.
            let target: String? = first.text == "ALL" ? nil : first.text
            var items: [Item] = []
            var itemTokens: [Token] = []
            var previousEndedWithComma = true
            for token in line.tokens.dropFirst() {
                if !previousEndedWithComma, !token.text.hasPrefix(",") {
                    diagnostics.append(.warning(token.location,
                                                "entries must be separated by ','; IET read '\(itemTokens.last?.text ?? "") \(token.text)' as one entry that never matched"))
                }
                var offset = 0
                for piece in token.text.split(separator: ",", omittingEmptySubsequences: false) {
                    if !piece.isEmpty {
                        var location = token.location
                        location.column += offset
                        itemTokens.append(Token(text: String(piece), location: location))
                    }
                    offset += piece.utf8.count + 1
                }
                previousEndedWithComma = token.text.hasSuffix(",")
            }
            if itemTokens.isEmpty {
                diagnostics.append(.warning(first.location,
                                            "no entries for '\(first.text)'; this line matches nothing and stops the search"))
            }
            for itemToken in itemTokens {
                if let item = parseItem(itemToken, names: names, diagnostics: &diagnostics) {
                    items.append(item)
                }
            }
            rules.append(Rule(target: target, items: items, location: first.location))
        }
        return rules
    }

    static func parseItem(_ token: Token, names: Bool, diagnostics: inout [Diagnostic]) -> Item? {
        let text = token.text
        if text == "ALL" { return .all }
        // Address forms: a.b.c.d, a.b.c.d/n, [v6], [v6]/n, v6, v6/n.
        var addressPart = Substring(text)
        var prefixPart: Substring?
        var bracketed = false
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                diagnostics.append(.error(token.location, "'\(text)' has '[' without ']'"))
                return nil
            }
            bracketed = true
            addressPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix("/") {
                prefixPart = rest.dropFirst()
            } else if !rest.isEmpty {
                diagnostics.append(.error(token.location, "unexpected text after ']' in '\(text)'"))
                return nil
            }
        } else if let slash = text.firstIndex(of: "/") {
            addressPart = text[..<slash]
            prefixPart = text[text.index(after: slash)...]
        }
        if let address = IPAddress(String(addressPart)) {
            guard let prefixPart else { return .address(address, prefix: nil) }
            let maximum: Int
            if case .v4 = address { maximum = 32 } else { maximum = 128 }
            guard !prefixPart.isEmpty, prefixPart.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let prefix = Int(prefixPart), prefix <= maximum else {
                diagnostics.append(.error(token.location, "invalid prefix length in '\(text)' (0...\(maximum))"))
                return nil
            }
            if prefix == maximum {
                // IET netmask_match rejected mbit > 31 (IPv4) / > 127 (IPv6): such entries never matched.
                diagnostics.append(.warning(token.location,
                                            "'\(text)': IET never matched a /\(maximum) prefix; iscsi-target matches the single address"))
            }
            if address.hasHostBits(prefix: prefix) {
                // IET netmask_match_v4: `if (~mask & s1) return 0;` — host bits set never matched.
                diagnostics.append(.warning(token.location,
                                            "'\(text)' has host bits set; IET never matched it, iscsi-target matches the network "
                                            + "\(address.masked(prefix: prefix))/\(prefix)"))
            }
            return .address(address, prefix: prefix)
        }
        if bracketed {
            diagnostics.append(.error(token.location, "'\(addressPart)' is not an IPv6 address"))
            return nil
        }
        guard names else {
            diagnostics.append(.warning(token.location,
                                        "'\(text)' is not an address; targets.allow only matches local addresses, so this entry never matches"))
            return nil
        }
        guard let pattern = NamePattern(text) else {
            diagnostics.append(.error(token.location, "'\(text)' is neither an address nor a valid POSIX basic regular expression"))
            return nil
        }
        return .pattern(pattern)
    }
}
