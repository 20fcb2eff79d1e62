import ISCSIWire

/// The configured target a normal-session login names.
public struct TargetLoginInfo: Sendable, Hashable {
    /// The target's iSCSI name.
    public var name: String
    /// `TargetAlias` to declare, if configured.
    public var alias: String?
    /// The portal group tag of the portal serving the login (declared as TargetPortalGroupTag).
    public var portalGroupTag: UInt16
    /// What the target offers.
    public var policy: TargetNegotiationPolicy
    /// The target's `IncomingUser` accounts: initiators authenticate with CHAP as any of them.
    /// Non-empty means CHAP is required (RFC 7143 §12.1: AuthMethod=None is refused).
    public var incomingAccounts: [CHAPCredential]
    /// The target's `OutgoingUser`: what it answers a mutual-CHAP challenge with. Without it,
    /// mutual CHAP fails (0x0201).
    public var outgoingAccount: CHAPCredential?
    /// Forces CHAP even without accounts (every login then fails 0x0201). Normally false:
    /// `incomingAccounts` decides.
    public var requiresAuthentication: Bool

    /// Whether a login must authenticate with CHAP.
    public var authenticationRequired: Bool { requiresAuthentication || !incomingAccounts.isEmpty }

    /// Creates the info.
    public init(name: String, alias: String? = nil, portalGroupTag: UInt16 = 1,
                policy: TargetNegotiationPolicy = .init(), incomingAccounts: [CHAPCredential] = [],
                outgoingAccount: CHAPCredential? = nil, requiresAuthentication: Bool = false) {
        self.name = name; self.alias = alias; self.portalGroupTag = portalGroupTag
        self.policy = policy; self.incomingAccounts = incomingAccounts
        self.outgoingAccount = outgoingAccount; self.requiresAuthentication = requiresAuthentication
    }
}

/// The answer to "may this initiator log in to this target name?".
public enum TargetLookup: Sendable, Hashable {
    /// The target exists and the initiator may use it.
    case found(TargetLoginInfo)
    /// No such target: 0x0203.
    case notFound
    /// The initiator is not allowed (initiators.allow/deny, targets.allow): 0x0202.
    case accessDenied
    /// The target exists but cannot take sessions now: 0x0301.
    case unavailable
}

/// What the login state machine needs from the rest of the system. All closures are pure
/// look-ups (no I/O in this module) except `randomBytes`, which reads the system CSPRNG.
public struct LoginEnvironment: Sendable {
    /// Resolves a normal-session TargetName for an initiator.
    public var lookupTarget: @Sendable (_ targetName: String, _ initiatorName: String) -> TargetLookup
    /// What discovery sessions offer.
    public var discoveryPolicy: TargetNegotiationPolicy
    /// The global `IncomingUser` accounts: non-empty means discovery sessions need CHAP.
    public var discoveryIncomingAccounts: [CHAPCredential]
    /// The global `OutgoingUser` (mutual CHAP on discovery sessions).
    public var discoveryOutgoingAccount: CHAPCredential?
    /// Forces CHAP on discovery even without accounts (logins then fail 0x0201). Normally false.
    public var discoveryRequiresAuthentication: Bool
    /// The portal group tag of the listening portal (used for discovery sessions).
    public var portalGroupTag: UInt16
    /// Whether a session with this (InitiatorName, ISID, TSIH) exists, for logins with TSIH ≠ 0
    /// (RFC 7143 §6.3.1: adding or reinstating a connection). Without such a session the login
    /// fails with 0x020a. Defaults to "never".
    public var sessionExists: @Sendable (_ initiatorName: String, _ isid: UInt64, _ tsih: UInt16) -> Bool
    /// MaxCmdSN − ExpCmdSN + 1 announced in login responses (the command window). Default 1.
    public var commandWindow: UInt32
    /// `count` bytes from a cryptographically secure source (CHAP identifiers and challenges,
    /// RFC 7143 §12.1.3). Tests substitute a deterministic source.
    public var randomBytes: @Sendable (_ count: Int) -> [UInt8]
    /// Recently issued CHAP challenges, for the no-reuse and reflection checks. Process-wide by
    /// default.
    public var challengeRegistry: CHAPChallengeRegistry

    /// Creates an environment.
    public init(lookupTarget: @escaping @Sendable (_ targetName: String, _ initiatorName: String) -> TargetLookup,
                discoveryPolicy: TargetNegotiationPolicy = .init(),
                discoveryIncomingAccounts: [CHAPCredential] = [],
                discoveryOutgoingAccount: CHAPCredential? = nil,
                discoveryRequiresAuthentication: Bool = false,
                portalGroupTag: UInt16 = 1,
                sessionExists: @escaping @Sendable (_ initiatorName: String, _ isid: UInt64, _ tsih: UInt16) -> Bool = { _, _, _ in false },
                commandWindow: UInt32 = 1,
                randomBytes: @escaping @Sendable (_ count: Int) -> [UInt8] = LoginEnvironment.systemRandomBytes,
                challengeRegistry: CHAPChallengeRegistry = .shared) {
        self.lookupTarget = lookupTarget
        self.discoveryPolicy = discoveryPolicy
        self.discoveryIncomingAccounts = discoveryIncomingAccounts
        self.discoveryOutgoingAccount = discoveryOutgoingAccount
        self.discoveryRequiresAuthentication = discoveryRequiresAuthentication
        self.portalGroupTag = portalGroupTag
        self.sessionExists = sessionExists
        self.commandWindow = commandWindow
        self.randomBytes = randomBytes
        self.challengeRegistry = challengeRegistry
    }

    /// Bytes from `SystemRandomNumberGenerator`, which on Linux reads getrandom(2) (the kernel
    /// CSPRNG). Counts are bounded by the callers (CHAP asks for at most 16 bytes).
    @Sendable public static func systemRandomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var out: [UInt8] = []
        out.reserveCapacity(max(0, count))
        while out.count < count {
            var word = generator.next()
            for _ in 0..<8 where out.count < count {
                out.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return out
    }
}

/// What to do with a login request.
public enum LoginAction: Sendable, Hashable {
    /// Send this response and wait for the next Login Request.
    case respond(LoginResponse, data: [UInt8])
    /// Send this final response (T=1, NSG=3) and enter full feature phase with these parameters.
    /// The caller assigns the TSIH (new session) and sets `tsih` in the response before sending.
    case complete(LoginResponse, data: [UInt8], SessionParameters)
    /// Send this response (status class ≠ 0) and close the connection.
    case fail(LoginResponse, data: [UInt8])
}
