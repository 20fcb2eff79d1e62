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
    /// CHAP required (IncomingUser configured). CHAP is not implemented yet, so a login to such a
    /// target fails with 0x0201 authentication failure.
    public var requiresAuthentication: Bool

    /// Creates the info.
    public init(name: String, alias: String? = nil, portalGroupTag: UInt16 = 1,
                policy: TargetNegotiationPolicy = .init(), requiresAuthentication: Bool = false) {
        self.name = name; self.alias = alias; self.portalGroupTag = portalGroupTag
        self.policy = policy; self.requiresAuthentication = requiresAuthentication
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
/// look-ups (no I/O in this module).
public struct LoginEnvironment: Sendable {
    /// Resolves a normal-session TargetName for an initiator.
    public var lookupTarget: @Sendable (_ targetName: String, _ initiatorName: String) -> TargetLookup
    /// What discovery sessions offer.
    public var discoveryPolicy: TargetNegotiationPolicy
    /// CHAP required for discovery (global IncomingUser). Not implemented yet: logins fail 0x0201.
    public var discoveryRequiresAuthentication: Bool
    /// The portal group tag of the listening portal (used for discovery sessions).
    public var portalGroupTag: UInt16
    /// Whether a session with this (InitiatorName, ISID, TSIH) exists, for logins with TSIH ≠ 0
    /// (RFC 7143 §6.3.1: adding or reinstating a connection). Without such a session the login
    /// fails with 0x020a. Defaults to "never".
    public var sessionExists: @Sendable (_ initiatorName: String, _ isid: UInt64, _ tsih: UInt16) -> Bool
    /// MaxCmdSN − ExpCmdSN + 1 announced in login responses (the command window). Default 1.
    public var commandWindow: UInt32

    /// Creates an environment.
    public init(lookupTarget: @escaping @Sendable (_ targetName: String, _ initiatorName: String) -> TargetLookup,
                discoveryPolicy: TargetNegotiationPolicy = .init(),
                discoveryRequiresAuthentication: Bool = false,
                portalGroupTag: UInt16 = 1,
                sessionExists: @escaping @Sendable (_ initiatorName: String, _ isid: UInt64, _ tsih: UInt16) -> Bool = { _, _, _ in false },
                commandWindow: UInt32 = 1) {
        self.lookupTarget = lookupTarget
        self.discoveryPolicy = discoveryPolicy
        self.discoveryRequiresAuthentication = discoveryRequiresAuthentication
        self.portalGroupTag = portalGroupTag
        self.sessionExists = sessionExists
        self.commandWindow = commandWindow
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
