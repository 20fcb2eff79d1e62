/// Every text key this target knows, spelled exactly as in the RFCs (keys are case-sensitive,
/// RFC 7143 §6.1).
public enum TextKey: String, Sendable, CaseIterable, Hashable {
    // RFC 7143 §12 security keys.
    case authMethod = "AuthMethod"
    case chapA = "CHAP_A"
    case chapI = "CHAP_I"
    case chapC = "CHAP_C"
    case chapN = "CHAP_N"
    case chapR = "CHAP_R"
    // RFC 7143 §13 operational keys.
    case headerDigest = "HeaderDigest"
    case dataDigest = "DataDigest"
    case maxConnections = "MaxConnections"
    case sendTargets = "SendTargets"
    case targetName = "TargetName"
    case initiatorName = "InitiatorName"
    case targetAlias = "TargetAlias"
    case initiatorAlias = "InitiatorAlias"
    case targetAddress = "TargetAddress"
    case targetPortalGroupTag = "TargetPortalGroupTag"
    case initialR2T = "InitialR2T"
    case immediateData = "ImmediateData"
    case maxRecvDataSegmentLength = "MaxRecvDataSegmentLength"
    case maxBurstLength = "MaxBurstLength"
    case firstBurstLength = "FirstBurstLength"
    case defaultTime2Wait = "DefaultTime2Wait"
    case defaultTime2Retain = "DefaultTime2Retain"
    case maxOutstandingR2T = "MaxOutstandingR2T"
    case dataPDUInOrder = "DataPDUInOrder"
    case dataSequenceInOrder = "DataSequenceInOrder"
    case errorRecoveryLevel = "ErrorRecoveryLevel"
    case sessionType = "SessionType"
    case taskReporting = "TaskReporting"
    // RFC 7144 §7.1.
    case iSCSIProtocolLevel = "iSCSIProtocolLevel"
    // RFC 7143 §13.25: obsolete (RFC 3720 markers).
    case ifMarker = "IFMarker"
    case ofMarker = "OFMarker"
    case ofMarkInt = "OFMarkInt"
    case ifMarkInt = "IFMarkInt"
}

/// RFC metadata for one text key (RFC 7143 §12-13, RFC 7144 §7.1): where it may be used, who may
/// send it, how the result is computed, and which values are valid.
public struct KeyDescriptor: Sendable, Hashable {
    /// Where the key may be used ("Use:" in RFC 7143 §13).
    public enum Phase: Sendable, Hashable {
        /// SecurityNegotiation stage only (RFC 7143 §12 authentication keys).
        case security
        /// Login phase only, either stage (IO and LO keys).
        case login
        /// Login phase and full feature phase ("ALL").
        case any
        /// Full feature phase only ("FFPO").
        case fullFeature
    }

    /// Whether the negotiated value belongs to the session or to one connection.
    public enum Scope: Sendable, Hashable { case session, connection }

    /// Who may send the key.
    public enum Sender: Sendable, Hashable { case initiator, target, both }

    /// RFC 7143 §6.2 result functions.
    public enum ResultFunction: Sendable, Hashable {
        /// Numerical minimum of offer and acceptor value.
        case minimum
        /// Numerical maximum.
        case maximum
        /// Boolean AND.
        case and
        /// Boolean OR.
        case or
        /// No negotiation: each side declares its own value.
        case declarative
        /// List: the acceptor picks the first offered value it supports.
        case list
        /// RFC 3720 numerical range (`a~b`), used only by the obsolete marker-interval keys.
        case numericalRange
    }

    /// The syntax and range of valid values.
    public enum ValueDomain: Sendable, Hashable {
        /// `Yes` or `No`.
        case boolean
        /// An unsigned number (decimal or `0x` hex) in this range.
        case numeric(ClosedRange<UInt64>)
        /// One (or, for `.list`, a comma-separated list) of these literals. Unknown list items are
        /// ignored (RFC 7143 §6.2).
        case literals([String])
        /// Free text (UTF-8) of at most 255 bytes.
        case text
        /// An iSCSI name (RFC 7143 §4.2.7: at most 223 bytes).
        case iscsiName
        /// An encoded binary value (CHAP challenge/response).
        case binary
    }

    /// The key.
    public let key: TextKey
    /// The exact RFC spelling.
    public var name: String { key.rawValue }
    /// Where the key may be used.
    public let phase: Phase
    /// Session or connection scope.
    public let scope: Scope
    /// Who may send it.
    public let sender: Sender
    /// How the result is computed.
    public let resultFunction: ResultFunction
    /// Valid values.
    public let domain: ValueDomain
    /// The RFC default, or nil when the key has none.
    public let defaultValue: String?
    /// LO keys: negotiated only on the leading connection of a session.
    public let leadingOnly: Bool
    /// "Irrelevant when: SessionType=Discovery".
    public let irrelevantInDiscovery: Bool
    /// Obsoleted by RFC 7143 §13.25.
    public let obsolete: Bool

    /// Creates a descriptor.
    public init(_ key: TextKey, phase: Phase, scope: Scope, sender: Sender, result: ResultFunction,
                domain: ValueDomain, defaultValue: String?, leadingOnly: Bool = false,
                irrelevantInDiscovery: Bool = false, obsolete: Bool = false) {
        self.key = key; self.phase = phase; self.scope = scope; self.sender = sender
        self.resultFunction = result; self.domain = domain; self.defaultValue = defaultValue
        self.leadingOnly = leadingOnly; self.irrelevantInDiscovery = irrelevantInDiscovery
        self.obsolete = obsolete
    }
}

/// The one static key table (style anchors rule 4: LIO `iscsi_set_default_param`, tgt
/// `session_keys[]`). Defaults are the RFC's and must not be changed: an initiator assumes them
/// for every key that is not negotiated.
public enum KeyTable {
    /// RFC 7143 §13.12: MaxRecvDataSegmentLength (and the burst lengths) 512...16777215.
    public static let dataSegmentLengthRange: ClosedRange<UInt64> = 512...16_777_215
    /// RFC 7143 §13.12: the value in effect until declared (also during the login phase).
    public static let defaultMaxRecvDataSegmentLength: UInt32 = 8192
    /// RFC 7143 §4.2.7.1: iSCSI names are at most 223 bytes.
    public static let maxISCSINameLength = 223
    /// RFC 7144 §7.1: the iSCSIProtocolLevel this target implements (1 = RFC 7143).
    public static let supportedProtocolLevel: UInt64 = 1

    /// Every descriptor, in RFC order.
    public static let all: [KeyDescriptor] = [
        // RFC 7143 §12.1 AuthMethod; §12.1.3 CHAP keys.
        .init(.authMethod, phase: .security, scope: .connection, sender: .both, result: .list,
              domain: .literals(["None", "CHAP", "SRP", "KRB5", "SPKM1", "SPKM2"]), defaultValue: "None"),
        .init(.chapA, phase: .security, scope: .connection, sender: .both, result: .list,
              domain: .literals(["5", "6", "7", "8"]), defaultValue: nil),
        .init(.chapI, phase: .security, scope: .connection, sender: .both, result: .declarative,
              domain: .numeric(0...255), defaultValue: nil),
        .init(.chapC, phase: .security, scope: .connection, sender: .both, result: .declarative,
              domain: .binary, defaultValue: nil),
        .init(.chapN, phase: .security, scope: .connection, sender: .both, result: .declarative,
              domain: .text, defaultValue: nil),
        .init(.chapR, phase: .security, scope: .connection, sender: .both, result: .declarative,
              domain: .binary, defaultValue: nil),
        // RFC 7143 §13.1 HeaderDigest / DataDigest: IO, connection, list.
        .init(.headerDigest, phase: .login, scope: .connection, sender: .both, result: .list,
              domain: .literals(["None", "CRC32C"]), defaultValue: "None"),
        .init(.dataDigest, phase: .login, scope: .connection, sender: .both, result: .list,
              domain: .literals(["None", "CRC32C"]), defaultValue: "None"),
        // §13.2 MaxConnections: LO, SW, Minimum, 1..65535.
        .init(.maxConnections, phase: .login, scope: .session, sender: .both, result: .minimum,
              domain: .numeric(1...65535), defaultValue: "1", leadingOnly: true, irrelevantInDiscovery: true),
        // §13.3 SendTargets: FFPO, initiator.
        .init(.sendTargets, phase: .fullFeature, scope: .session, sender: .initiator, result: .declarative,
              domain: .text, defaultValue: nil),
        // §13.4 TargetName: IO by initiator (FFPO by target inside SendTargets responses).
        .init(.targetName, phase: .login, scope: .session, sender: .both, result: .declarative,
              domain: .iscsiName, defaultValue: nil),
        // §13.5 InitiatorName: IO, initiator, declarative.
        .init(.initiatorName, phase: .login, scope: .session, sender: .initiator, result: .declarative,
              domain: .iscsiName, defaultValue: nil),
        // §13.6 TargetAlias / §13.7 InitiatorAlias: ALL, declarative.
        .init(.targetAlias, phase: .any, scope: .session, sender: .target, result: .declarative,
              domain: .text, defaultValue: nil),
        .init(.initiatorAlias, phase: .any, scope: .session, sender: .initiator, result: .declarative,
              domain: .text, defaultValue: nil),
        // §13.8 TargetAddress: ALL, target.
        .init(.targetAddress, phase: .any, scope: .session, sender: .target, result: .declarative,
              domain: .text, defaultValue: nil),
        // §13.9 TargetPortalGroupTag: IO by target, 16-bit.
        .init(.targetPortalGroupTag, phase: .login, scope: .session, sender: .target, result: .declarative,
              domain: .numeric(0...65535), defaultValue: nil),
        // §13.10 InitialR2T: LO, OR, default Yes.
        .init(.initialR2T, phase: .login, scope: .session, sender: .both, result: .or,
              domain: .boolean, defaultValue: "Yes", leadingOnly: true, irrelevantInDiscovery: true),
        // §13.11 ImmediateData: LO, AND, default Yes.
        .init(.immediateData, phase: .login, scope: .session, sender: .both, result: .and,
              domain: .boolean, defaultValue: "Yes", leadingOnly: true, irrelevantInDiscovery: true),
        // §13.12 MaxRecvDataSegmentLength: ALL, connection, declarative, 512..16777215, 8192.
        .init(.maxRecvDataSegmentLength, phase: .any, scope: .connection, sender: .both, result: .declarative,
              domain: .numeric(dataSegmentLengthRange), defaultValue: "8192"),
        // §13.13 MaxBurstLength: LO, Minimum, default 262144.
        .init(.maxBurstLength, phase: .login, scope: .session, sender: .both, result: .minimum,
              domain: .numeric(dataSegmentLengthRange), defaultValue: "262144", leadingOnly: true,
              irrelevantInDiscovery: true),
        // §13.14 FirstBurstLength: LO, Minimum, default 65536.
        .init(.firstBurstLength, phase: .login, scope: .session, sender: .both, result: .minimum,
              domain: .numeric(dataSegmentLengthRange), defaultValue: "65536", leadingOnly: true,
              irrelevantInDiscovery: true),
        // §13.15 DefaultTime2Wait: LO, Maximum, 0..3600, default 2.
        .init(.defaultTime2Wait, phase: .login, scope: .session, sender: .both, result: .maximum,
              domain: .numeric(0...3600), defaultValue: "2", leadingOnly: true),
        // §13.16 DefaultTime2Retain: LO, Minimum, 0..3600, default 20.
        .init(.defaultTime2Retain, phase: .login, scope: .session, sender: .both, result: .minimum,
              domain: .numeric(0...3600), defaultValue: "20", leadingOnly: true),
        // §13.17 MaxOutstandingR2T: LO, Minimum, 1..65535, default 1.
        .init(.maxOutstandingR2T, phase: .login, scope: .session, sender: .both, result: .minimum,
              domain: .numeric(1...65535), defaultValue: "1", leadingOnly: true, irrelevantInDiscovery: true),
        // §13.18 DataPDUInOrder / §13.19 DataSequenceInOrder: LO, OR, default Yes.
        .init(.dataPDUInOrder, phase: .login, scope: .session, sender: .both, result: .or,
              domain: .boolean, defaultValue: "Yes", leadingOnly: true, irrelevantInDiscovery: true),
        .init(.dataSequenceInOrder, phase: .login, scope: .session, sender: .both, result: .or,
              domain: .boolean, defaultValue: "Yes", leadingOnly: true, irrelevantInDiscovery: true),
        // §13.20 ErrorRecoveryLevel: LO, Minimum, 0..2, default 0.
        .init(.errorRecoveryLevel, phase: .login, scope: .session, sender: .both, result: .minimum,
              domain: .numeric(0...2), defaultValue: "0", leadingOnly: true),
        // §13.21 SessionType: LO, initiator, declarative, default Normal.
        .init(.sessionType, phase: .login, scope: .session, sender: .initiator, result: .declarative,
              domain: .literals(["Discovery", "Normal"]), defaultValue: "Normal", leadingOnly: true),
        // §13.23 TaskReporting: LO, list, default RFC3720.
        .init(.taskReporting, phase: .login, scope: .session, sender: .both, result: .list,
              domain: .literals(["RFC3720", "ResponseFence", "FastAbort"]), defaultValue: "RFC3720",
              leadingOnly: true, irrelevantInDiscovery: true),
        // RFC 7144 §7.1 iSCSIProtocolLevel: LO, Minimum, 0..31, default 0.
        .init(.iSCSIProtocolLevel, phase: .login, scope: .session, sender: .both, result: .minimum,
              domain: .numeric(0...31), defaultValue: "0", leadingOnly: true),
        // RFC 7143 §13.25: obsolete marker keys (RFC 3720 §A.3).
        .init(.ifMarker, phase: .login, scope: .connection, sender: .both, result: .and,
              domain: .boolean, defaultValue: "No", obsolete: true),
        .init(.ofMarker, phase: .login, scope: .connection, sender: .both, result: .and,
              domain: .boolean, defaultValue: "No", obsolete: true),
        .init(.ofMarkInt, phase: .login, scope: .connection, sender: .both, result: .numericalRange,
              domain: .numeric(1...65535), defaultValue: "2048", obsolete: true),
        .init(.ifMarkInt, phase: .login, scope: .connection, sender: .both, result: .numericalRange,
              domain: .numeric(1...65535), defaultValue: "2048", obsolete: true),
    ]

    private static let byName: [String: KeyDescriptor] = {
        var table: [String: KeyDescriptor] = [:]
        for descriptor in all { table[descriptor.name] = descriptor }
        return table
    }()

    /// The descriptor for an exact (case-sensitive) key name, or nil for unknown and vendor keys.
    public static func descriptor(for name: String) -> KeyDescriptor? { byName[name] }

    /// The descriptor for a known key.
    public static func descriptor(for key: TextKey) -> KeyDescriptor {
        // Every TextKey case has a row; the table test checks this.
        byName[key.rawValue] ?? KeyDescriptor(key, phase: .any, scope: .session, sender: .both,
                                              result: .declarative, domain: .text, defaultValue: nil)
    }
}

/// Parsing of RFC 7143 §6.1 value syntaxes.
enum TextValue {
    /// RFC 7143 §6.1 numerical-value: decimal-constant or hex-constant (`0x...`). Base64 numbers
    /// (`0b...`) are not used by any key we negotiate numerically and are rejected.
    static func number(_ text: String) -> UInt64? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty else { return nil }
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X") {
            return UInt64(String(decoding: utf8[2...], as: UTF8.self), radix: 16)
        }
        for byte in utf8 where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { return nil }
        return UInt64(text, radix: 10)
    }

    /// RFC 7143 §6.1 boolean-value: exactly `Yes` or `No`.
    static func boolean(_ text: String) -> Bool? {
        switch text {
        case "Yes": return true
        case "No": return false
        default: return nil
        }
    }

    static func string(_ value: Bool) -> String { value ? "Yes" : "No" }

    /// The list items of a list-of-values (comma separated).
    static func list(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }

    /// The reserved answer constants (RFC 7143 §6.2).
    static let reserved: Set<String> = ["NotUnderstood", "Irrelevant", "Reject"]
}
