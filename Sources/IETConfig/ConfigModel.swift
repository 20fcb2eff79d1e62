// The typed configuration produced by `ConfigParser` (see docs/configuration.md).

/// A parsed, validated ietd.conf.
public struct Configuration: Sendable, Hashable {
    /// Global `IncomingUser` lines: CHAP accounts for discovery sessions. Empty = discovery is open.
    public var discoveryIncomingUsers: [CHAPAccount]
    /// Global `OutgoingUser`: the target's credentials for mutual CHAP on discovery sessions.
    public var discoveryOutgoingUser: CHAPAccount?
    /// `iSNSServer` (address or host name), if any.
    public var isnsServer: String?
    /// `iSNSAccessControl Yes`.
    public var isnsAccessControl: Bool
    /// Targets in file order; `tid` is the 1-based position.
    public var targets: [TargetConfig]

    /// Creates a configuration.
    public init(discoveryIncomingUsers: [CHAPAccount] = [], discoveryOutgoingUser: CHAPAccount? = nil,
                isnsServer: String? = nil, isnsAccessControl: Bool = false, targets: [TargetConfig] = []) {
        self.discoveryIncomingUsers = discoveryIncomingUsers
        self.discoveryOutgoingUser = discoveryOutgoingUser
        self.isnsServer = isnsServer
        self.isnsAccessControl = isnsAccessControl
        self.targets = targets
    }

    /// The target with this name, compared case-insensitively (IET `target_find_by_name` uses
    /// strcasecmp; RFC 3722 names are case-insensitive).
    public func target(named name: String) -> TargetConfig? {
        let lowered = name.lowercased()
        return targets.first { $0.name.lowercased() == lowered }
    }
}

/// A CHAP user name and secret. `description` never shows the secret.
public struct CHAPAccount: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The CHAP name (CHAP_N).
    public var user: String
    /// The CHAP secret. Never log it.
    public var secret: String

    /// Creates an account.
    public init(user: String, secret: String) {
        self.user = user
        self.secret = secret
    }

    /// `user (secret redacted)`.
    public var description: String { "\(user) (secret redacted)" }
    /// Same as `description`: the secret is never printed.
    public var debugDescription: String { "CHAPAccount(user: \(user), secret: <redacted>)" }
    /// Hides the secret from `dump` and the default struct printing.
    public var customMirror: Mirror { Mirror(self, children: ["user": user, "secret": "<redacted>"]) }
}

/// One `Target` stanza.
public struct TargetConfig: Sendable, Hashable {
    /// 1-based position among the loaded targets (IET's kernel assigned tids in creation order).
    public var tid: Int
    /// The iSCSI target name as written.
    public var name: String
    /// `Alias` (IET parsed and ignored it; we keep it for TargetAlias).
    public var alias: String?
    /// `IncomingUser` accounts; empty = no CHAP for this target.
    public var incomingUsers: [CHAPAccount]
    /// `OutgoingUser` (mutual CHAP); only one, the last one wins.
    public var outgoingUser: CHAPAccount?
    /// `Lun` lines in file order.
    public var luns: [LUNConfig]
    /// iSCSI session keys set in the file: canonical RFC spelling → value (`Yes`/`No`, decimal
    /// numbers, digest lists such as `CRC32C,None`). Values are validated and clamped.
    /// Absent keys take `IETParameters` defaults.
    public var iscsiParameters: [String: String]
    /// `MaxSessions`; 0 = unlimited.
    public var maxSessions: Int
    /// `NOPInterval` seconds (0 = no NOP-In pings), 0...90.
    public var nopInterval: Int
    /// `NOPTimeout` seconds, 0...90; 0 or > NOPInterval is replaced by NOPInterval (ietd.conf(5)).
    public var nopTimeout: Int
    /// `QueuedCommands`: per-session command window, 1...256, default 32.
    public var queuedCommands: Int
    /// True when the file set `QueuedCommands` (the daemon then uses it instead of its own default window).
    public var queuedCommandsExplicit: Bool = false
    /// `QueuedCommands` when the file set it.
    public var queuedCommandsIfSet: Int? { queuedCommandsExplicit ? queuedCommands : nil }
    /// `Wthreads`: I/O worker threads, 1...128, default 8.
    public var wthreads: Int
    /// Location of the `Target` keyword.
    public var location: SourceLocation

    /// Creates a target with IET's defaults.
    public init(tid: Int, name: String, alias: String? = nil, incomingUsers: [CHAPAccount] = [],
                outgoingUser: CHAPAccount? = nil, luns: [LUNConfig] = [], iscsiParameters: [String: String] = [:],
                maxSessions: Int = 0, nopInterval: Int = 0, nopTimeout: Int = 0, queuedCommands: Int = 32,
                wthreads: Int = 8, location: SourceLocation) {
        self.tid = tid
        self.name = name
        self.alias = alias
        self.incomingUsers = incomingUsers
        self.outgoingUser = outgoingUser
        self.luns = luns
        self.iscsiParameters = iscsiParameters
        self.maxSessions = maxSessions
        self.nopInterval = nopInterval
        self.nopTimeout = nopTimeout
        self.queuedCommands = queuedCommands
        self.wthreads = wthreads
        self.location = location
    }

    /// The effective value of an iSCSI key: the configured value or IET's default.
    /// - Parameter key: Canonical or any-case key name.
    public func parameter(_ key: String) -> String? {
        guard let entry = IETParameters.lookup(key), entry.isSessionKey else { return nil }
        return iscsiParameters[entry.name] ?? entry.defaultValue
    }
}

/// Backing-store type of a LUN (`Type=`; values are case-sensitive).
public enum LUNType: String, Sendable, Hashable, CaseIterable {
    /// Page-cache I/O on a regular file or block device (IET default).
    case fileio
    /// Direct I/O on a block device.
    case blockio
    /// No storage: writes are discarded, reads return zeros/garbage. For testing.
    case nullio
}

/// Write caching mode (`IOMode=`; values are case-sensitive).
public enum IOMode: String, Sendable, Hashable, CaseIterable {
    /// Write-back: WRITE completes before data is stable (MODE SENSE WCE=1).
    case wb
    /// Write-through (IET default): each WRITE is synced before completion.
    case wt
    /// Read-only LUN.
    case ro
}

/// One `Lun` line.
public struct LUNConfig: Sendable, Hashable {
    /// LUN number, 0...16383.
    public var lun: UInt16
    /// Backing-store type.
    public var type: LUNType
    /// `Path=` (nil for nullio).
    public var path: String?
    /// The 16-byte identifier IET put in VPD page 0x83 (T10 vendor ID designator after "IET     "):
    /// the explicit `ScsiId` (bytes, zero-padded) or IET 1.4.20's MD5(target name ‖ LUN as 32-bit
    /// little-endian).
    public var scsiID: [UInt8]
    /// VPD page 0x80 serial: explicit `ScsiSN` or IET's default, 32 lower-case hex digits of `scsiID`.
    public var scsiSN: String
    /// `IOMode=`, default `wt`.
    public var ioMode: IOMode
    /// `BlockSize=` (512...4096, power of two); nil = default (512 for fileio/nullio, the device's
    /// logical block size for blockio).
    public var blockSize: UInt32?
    /// nullio only: `Blocks=`/`Sectors=`, or IET's default of 64 GiB worth of blocks. Nil otherwise.
    public var blocks: UInt64?
    /// Location of the `Lun` keyword.
    public var location: SourceLocation

    /// Creates a LUN.
    public init(lun: UInt16, type: LUNType, path: String?, scsiID: [UInt8], scsiSN: String, ioMode: IOMode,
                blockSize: UInt32?, blocks: UInt64?, location: SourceLocation) {
        self.lun = lun
        self.type = type
        self.path = path
        self.scsiID = scsiID
        self.scsiSN = scsiSN
        self.ioMode = ioMode
        self.blockSize = blockSize
        self.blocks = blocks
        self.location = location
    }
}
