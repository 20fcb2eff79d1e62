// IET's parameter table: every iSCSI session key and target key accepted in a Target stanza, with
// IET's defaults and ranges (IET 1.4.20 usr/param.c `session_keys[]`/`target_keys[]`,
// include/iet_u.h, kernel/param.c; see anchors §1.5 and docs/configuration.md).

/// One key that may appear in a `Target` stanza as `Key value`.
public struct IETParameter: Sendable, Hashable {
    /// How the value is written.
    public enum Kind: Sendable, Hashable {
        /// A number (C `strtol` base 0 syntax: decimal, `0x` hex, leading-`0` octal) in a range.
        case number(ClosedRange<Int>)
        /// `Yes` or `No`, case-sensitive (IET `bool_str_to_val` uses strcmp).
        case boolean
        /// A comma-separated list of `None` and `CRC32C`, case-sensitive (RFC 7143 §13.1).
        case digest
    }

    /// Canonical spelling (the RFC 7143 key name for session keys).
    public let name: String
    /// Value syntax and range.
    public let kind: Kind
    /// The value IET used when the key was absent (code default, which beats the man page).
    public let defaultValue: String
    /// The only value IET's kernel accepted, when it forced one (e.g. ErrorRecoveryLevel 0).
    public let forcedValue: String?
    /// True for negotiated iSCSI session keys (stored in `TargetConfig.iscsiParameters`); false for
    /// IET target keys (`Wthreads`, `QueuedCommands`, `NOPInterval`, `NOPTimeout`, `Type`).
    public let isSessionKey: Bool
    /// For out-of-range numbers: the value IET substituted (the key's minimum, or its maximum for
    /// keys negotiated with the "higher" rule), so warnings can tell migrating users what changed.
    let ietOutOfRangeUsesMaximum: Bool

    init(_ name: String, _ kind: Kind, _ defaultValue: String, forced: String? = nil,
         session: Bool = true, ietUsesMaximum: Bool = false) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.forcedValue = forced
        self.isSessionKey = session
        self.ietOutOfRangeUsesMaximum = ietUsesMaximum
    }
}

/// The table of keys IET accepts inside a `Target` stanza (besides `Lun`, `Alias`, `MaxSessions`,
/// `IncomingUser`, `OutgoingUser`).
public enum IETParameters {
    /// RFC 7143 §13.12/§13.13/§13.14: data segment and burst lengths are 512...2^24-1.
    static let lengthRange = 512...16_777_215
    /// IET's kernel limit for data segment lengths: (ISCSI_CONN_IOV_MAX - 1) * PAGE_SIZE at 4 KiB pages.
    public static let ietKernelMaxDataSegmentLength = 262_144

    /// All keys, session keys first, in IET's table order.
    public static let all: [IETParameter] = [
        IETParameter("InitialR2T", .boolean, "Yes"),
        IETParameter("ImmediateData", .boolean, "Yes"),
        IETParameter("MaxConnections", .number(1...65535), "1"),
        IETParameter("MaxRecvDataSegmentLength", .number(lengthRange), "8192"),
        IETParameter("MaxXmitDataSegmentLength", .number(lengthRange), "8192"),
        IETParameter("MaxBurstLength", .number(lengthRange), "262144"),
        IETParameter("FirstBurstLength", .number(lengthRange), "65536"),
        IETParameter("DefaultTime2Wait", .number(0...3600), "2", ietUsesMaximum: true),
        // IET 1.4.20+ ChangeLog: "Time2Retain fixed at 0 since it isn't implemented".
        IETParameter("DefaultTime2Retain", .number(0...3600), "0", forced: "0"),
        IETParameter("MaxOutstandingR2T", .number(1...65535), "1"),
        IETParameter("DataPDUInOrder", .boolean, "Yes", forced: "Yes"),
        IETParameter("DataSequenceInOrder", .boolean, "Yes", forced: "Yes"),
        IETParameter("ErrorRecoveryLevel", .number(0...2), "0", forced: "0"),
        IETParameter("HeaderDigest", .digest, "None"),
        IETParameter("DataDigest", .digest, "None"),
        IETParameter("OFMarker", .boolean, "No", forced: "No"),
        IETParameter("IFMarker", .boolean, "No", forced: "No"),
        IETParameter("OFMarkInt", .number(1...65535), "2048"),
        IETParameter("IFMarkInt", .number(1...65535), "2048"),
        IETParameter("Wthreads", .number(1...128), "8", session: false),
        IETParameter("Type", .number(0...16), "0", forced: "0", session: false),
        IETParameter("QueuedCommands", .number(1...256), "32", session: false),
        IETParameter("NOPInterval", .number(0...90), "0", session: false),
        IETParameter("NOPTimeout", .number(0...90), "0", session: false),
    ]

    /// Looks a key up case-insensitively (IET uses strcasecmp).
    /// - Returns: The table entry, or nil for keys IET does not know.
    public static func lookup(_ name: String) -> IETParameter? {
        let lowered = name.lowercased()
        return all.first { $0.name.lowercased() == lowered }
    }
}
