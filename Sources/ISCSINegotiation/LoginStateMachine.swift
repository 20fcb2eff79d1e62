import ISCSIWire

/// The target side of the iSCSI login phase (RFC 7143 §6.3, §7, §11.12-11.13) for ERL 0 and one
/// connection per session. Feed it every Login Request with its data segment; it answers with the
/// response to send. Pure: no I/O, no clocks.
public struct LoginStateMachine: Sendable {
    /// RFC 7143 §13.12: until declared otherwise (never, during login) both sides receive at most
    /// 8192 bytes per data segment.
    public static let loginDataSegmentLimit = Int(KeyTable.defaultMaxRecvDataSegmentLength)
    /// Bound on text accumulated over C-bit continuations.
    public static let maxAccumulatedText = 65_536
    /// Bound on Login Requests per login (LIO uses 7; CHAP plus continuations needs a few more).
    public static let maxLoginPDUs = 32

    private enum Phase: Sendable { case negotiating, complete, failed }

    private let environment: LoginEnvironment
    private var nextStatSN: UInt32
    private var phase: Phase = .negotiating
    private var pduCount = 0
    /// The first request: ISID/TSIH/ITT/CID/versions must not change (RFC 7143 §6.3, §11.12).
    private var first: LoginRequest?
    /// The stage we are in; nil before the first request.
    private var stage: UInt8?
    /// C-bit accumulation of initiator text (RFC 7143 §11.12.2).
    private var pendingText: [UInt8] = []
    /// Our response text still to send (C-bit continuation of a long response).
    private var pendingResponse: [UInt8] = []
    private var pendingResponseTransit = false
    private var pendingResponseNextStage: UInt8 = 0
    private var negotiation: KeyNegotiation?
    /// The CHAP exchange, once AuthMethod=CHAP was agreed.
    private var chap: CHAPExchange?

    /// A one-line reason for the last failure, for logs (never contains key values).
    public private(set) var failureReason: String?

    /// Creates a state machine for one connection's login.
    /// - Parameters:
    ///   - environment: target look-up and policies.
    ///   - initialStatSN: the StatSN of the first Login Response (RFC 7143 §11.13.4).
    public init(environment: LoginEnvironment, initialStatSN: UInt32) {
        self.environment = environment
        self.nextStatSN = initialStatSN
    }

    /// The next StatSN to use after login: every Login Response consumed one
    /// (RFC 7143 §11.13.4: the next response of any kind carries this number + 1).
    public var statSN: UInt32 { nextStatSN }

    /// Whether the login finished successfully.
    public var isComplete: Bool { phase == .complete }

    /// The CHAP name the initiator authenticated as (nil without CHAP). Not a secret: fit for logs.
    public var authenticatedUser: String? { chap?.authenticatedUser }

    /// Handles one Login Request.
    /// - Parameters:
    ///   - request: the decoded header.
    ///   - data: its data segment (without padding; trailing NULs are tolerated).
    /// - Returns: the response to send and what happens next.
    public mutating func receive(_ request: LoginRequest, data: [UInt8]) -> LoginAction {
        switch phase {
        case .complete, .failed:
            return fail(request, .invalidDuringLogin, "login request after the login ended")
        case .negotiating:
            break
        }
        pduCount += 1
        if pduCount > Self.maxLoginPDUs {
            return fail(request, .initiatorError, "too many login PDUs")
        }
        if let first {
            // RFC 7143 §11.12: all Login Requests of a login carry the same ISID, TSIH, CID,
            // Version-max and Version-min. (The ITT is echoed per request; we do not insist that it stays
            // the same, as initiators differ here and nothing depends on it.)
            if request.isid != first.isid || request.tsih != first.tsih || request.cid != first.cid
                || request.versionMax != first.versionMax || request.versionMin != first.versionMin {
                return fail(request, .initiatorError, "ISID/TSIH/CID/version changed during login")
            }
        } else {
            first = request
            // RFC 7143 §11.12.4: we implement version 0 only; it must lie in [Version-min, Version-max].
            if request.versionMin > 0 || request.versionMax < request.versionMin {
                return fail(request, .unsupportedVersion, "unsupported version range")
            }
        }
        // RFC 7143 §11.12.2: a Login Request with the C bit set MUST have the T bit set to 0.
        if request.transit && request.continueFlag {
            return fail(request, .initiatorError, "T and C both set")
        }
        // RFC 7143 §11.12.3: CSG 0 or 1 (2 is reserved, 3 is full feature phase, not a login stage).
        guard request.currentStage == 0 || request.currentStage == 1 else {
            return fail(request, .initiatorError, "invalid CSG \(request.currentStage)")
        }
        // RFC 7143 §11.12.3 / §6.3: NSG is 1 or 3 and must move forward when T=1.
        if request.transit && !((request.nextStage == 1 || request.nextStage == 3) && request.nextStage > request.currentStage) {
            return fail(request, .initiatorError, "invalid NSG \(request.nextStage) from CSG \(request.currentStage)")
        }
        if let stage, request.currentStage != stage {
            return fail(request, .initiatorError, "CSG \(request.currentStage) while in stage \(stage)")
        }
        // RFC 7143 §13.12: during login our MaxRecvDataSegmentLength is the default 8192.
        if data.count > Self.loginDataSegmentLimit {
            return fail(request, .initiatorError, "login data segment longer than 8192")
        }

        // A long response of ours is being fetched: RFC 7143 §11.13.3 — the initiator answers a
        // response with C=1 with an empty Login Request.
        if !pendingResponse.isEmpty {
            guard data.isEmpty, !request.continueFlag else {
                return fail(request, .initiatorError, "non-empty request while a response is continued")
            }
            return sendResponseChunk(request)
        }

        // RFC 7143 §11.12.2 (C bit): accumulate until a PDU with C=0, answering each with an empty
        // response.
        if request.continueFlag {
            if pendingText.count + data.count > Self.maxAccumulatedText {
                return fail(request, .initiatorError, "continued login text exceeds \(Self.maxAccumulatedText) bytes")
            }
            pendingText.append(contentsOf: data)
            stage = request.currentStage
            return .respond(makeResponse(request, transit: false, continueFlag: false, nextStage: 0), data: [])
        }
        var text = pendingText
        pendingText = []
        text.append(contentsOf: data)
        let pairs: [(key: String, value: String)]
        do {
            pairs = try TextCodec.decode(text)
        } catch {
            return fail(request, .initiatorError, "malformed login text: \(error.code)")
        }

        if negotiation == nil {
            switch startNegotiation(request, pairs: pairs) {
            case .success(let started): negotiation = started
            case .failure(let failure): return fail(request, failure.status, failure.reason)
            }
        }
        guard var negotiation else { return fail(request, .targetError, "no negotiation state") }

        // RFC 7143 §6.3: the initiator may skip the security stage only if the target does not
        // require authentication.
        let authenticated = chap?.isAuthenticated ?? false
        if negotiation.authenticationRequired && request.currentStage != 0 && !authenticated {
            return fail(request, .authenticationFailure, "authentication required but the security stage was skipped")
        }

        // Security stage with CHAP required: the CHAP keys belong to the CHAP exchange, the rest
        // (AuthMethod, identity keys) to the key negotiation.
        var keyPairs = pairs
        var chapPairs: [(key: String, value: String)] = []
        if negotiation.authenticationRequired && request.currentStage == 0 {
            keyPairs = pairs.filter { !CHAPExchange.keys.contains($0.key) }
            chapPairs = pairs.filter { CHAPExchange.keys.contains($0.key) }
        }

        var answers: [(key: String, value: String)]
        switch negotiation.negotiate(keyPairs, stage: request.currentStage) {
        case .success(let result): answers = result
        case .failure(let failure): return fail(request, failure.status, failure.reason)
        }

        var holdInSecurityStage = false
        if negotiation.authenticationRequired && request.currentStage == 0 {
            // RFC 7143 §12.1: a target that requires authentication refuses AuthMethod=None.
            if negotiation.authMethodRejected {
                return fail(request, .authenticationFailure, "authentication required but no acceptable AuthMethod offered")
            }
            if negotiation.agreedAuthMethod == "CHAP" {
                var exchange = chap ?? CHAPExchange(incoming: negotiation.incomingAccounts, outgoing: negotiation.outgoingAccount)
                switch exchange.receive(chapPairs, randomBytes: environment.randomBytes, registry: environment.challengeRegistry) {
                case .success(let result): answers.append(contentsOf: result)
                case .failure(let failure): return fail(request, failure.status, failure.reason)
                }
                chap = exchange
            } else if !chapPairs.isEmpty {
                // RFC 7143 §12.1.3: CHAP keys follow the AuthMethod=CHAP agreement.
                return fail(request, .authenticationFailure, "CHAP keys before AuthMethod=CHAP was agreed")
            }
            if !(chap?.isAuthenticated ?? false) {
                // RFC 7143 §6.3: leaving the security stage without authenticating (AuthMethod
                // never offered means the default None) fails; a CHAP exchange in progress keeps
                // the stage (T=0) even when the initiator asked to transit.
                if request.transit && negotiation.agreedAuthMethod == nil {
                    return fail(request, .authenticationFailure, "authentication required but no AuthMethod offered")
                }
                holdInSecurityStage = true
            }
        }

        // Declarations the target makes once, in its first response (RFC 7143 §13.6, §13.9).
        answers.append(contentsOf: negotiation.identityDeclarations())

        var nextStage: UInt8 = 0
        var transit = false
        if request.currentStage == 1 {
            // Operational stage: declare MaxRecvDataSegmentLength and propose keys whose RFC
            // default we cannot accept.
            answers.append(contentsOf: negotiation.operationalDeclarationsAndProposals())
        }
        if request.transit {
            nextStage = request.nextStage
            // RFC 7143 §6.3: the NSG the target selects MUST NOT exceed the initiator's. Stop in
            // the operational stage when we have something to declare or propose there.
            if request.currentStage == 0 && nextStage == 3 && negotiation.needsOperationalStage() {
                nextStage = 1
            }
            // RFC 7143 §11.13.3: a response with T=1 MUST NOT contain keys that require answers.
            transit = !negotiation.awaitingAnswers && !holdInSecurityStage
        }
        if !transit { nextStage = 0 }
        self.negotiation = negotiation
        return sendResponse(request, text: TextCodec.encode(answers), transit: transit, nextStage: nextStage)
    }

    // MARK: - Responses

    private mutating func sendResponse(_ request: LoginRequest, text: [UInt8], transit: Bool, nextStage: UInt8) -> LoginAction {
        pendingResponse = text
        pendingResponseTransit = transit
        pendingResponseNextStage = nextStage
        return sendResponseChunk(request)
    }

    /// Sends the next ≤ 8192-byte part of the pending response; C=1 while more remains
    /// (RFC 7143 §11.13.3), and the T bit only on the last part.
    private mutating func sendResponseChunk(_ request: LoginRequest) -> LoginAction {
        let count = min(pendingResponse.count, Self.loginDataSegmentLimit)
        let chunk = Array(pendingResponse.prefix(count))
        pendingResponse.removeFirst(count)
        if !pendingResponse.isEmpty {
            return .respond(makeResponse(request, transit: false, continueFlag: true, nextStage: 0), data: chunk)
        }
        let response = makeResponse(request, transit: pendingResponseTransit, continueFlag: false,
                                    nextStage: pendingResponseTransit ? pendingResponseNextStage : 0)
        if pendingResponseTransit {
            stage = pendingResponseNextStage
            if pendingResponseNextStage == 3, let negotiation {
                phase = .complete
                return .complete(response, data: chunk, negotiation.sessionParameters())
            }
        } else {
            stage = request.currentStage
        }
        return .respond(response, data: chunk)
    }

    private mutating func makeResponse(_ request: LoginRequest, transit: Bool, continueFlag: Bool, nextStage: UInt8,
                                       status: LoginStatus = .success) -> LoginResponse {
        let statSN = nextStatSN
        // RFC 7143 §11.13.4: each response carries the next StatSN.
        nextStatSN &+= 1
        // Login requests are immediate: CmdSN does not advance, ExpCmdSN = CmdSN (RFC 7143 §11.12.7).
        let window = max(environment.commandWindow, 1)
        return LoginResponse(transit: transit, continueFlag: continueFlag, currentStage: request.currentStage,
                             nextStage: nextStage, versionMax: 0, versionActive: 0, isid: request.isid,
                             tsih: request.tsih, initiatorTaskTag: request.initiatorTaskTag, statSN: statSN,
                             expCmdSN: request.cmdSN, maxCmdSN: request.cmdSN &+ (window - 1),
                             statusClass: status.statusClass, statusDetail: status.statusDetail)
    }

    private mutating func fail(_ request: LoginRequest, _ status: LoginStatus, _ reason: String) -> LoginAction {
        phase = .failed
        failureReason = "login failed \(status): \(reason)"
        pendingResponse = []
        pendingText = []
        return .fail(makeResponse(request, transit: false, continueFlag: false, nextStage: 0, status: status), data: [])
    }

    // MARK: - First request

    private func startNegotiation(_ request: LoginRequest, pairs: [(key: String, value: String)]) -> Result<KeyNegotiation, NegotiationFailure> {
        var initiatorName: String?
        var targetName: String?
        var sessionTypeValue: String?
        for (key, value) in pairs {
            switch key {
            case TextKey.initiatorName.rawValue: initiatorName = value
            case TextKey.targetName.rawValue: targetName = value
            case TextKey.sessionType.rawValue: sessionTypeValue = value
            default: break
            }
        }
        // RFC 7143 §13.5: the first Login Request MUST carry InitiatorName.
        guard let initiatorName, !initiatorName.isEmpty else {
            return .failure(.init(.missingParameter, "first login request without InitiatorName"))
        }
        guard initiatorName.utf8.count <= KeyTable.maxISCSINameLength else {
            return .failure(.init(.initiatorError, "InitiatorName longer than 223 bytes"))
        }
        // RFC 7143 §13.21: SessionType defaults to Normal.
        let sessionType: SessionType
        switch sessionTypeValue {
        case nil, "Normal": sessionType = .normal
        case "Discovery": sessionType = .discovery
        default: return .failure(.init(.sessionTypeNotSupported, "unknown SessionType"))
        }
        if request.tsih != 0 && !environment.sessionExists(initiatorName, request.isid, request.tsih) {
            // RFC 7143 §11.13.5: 0x020a, the TSIH names no session.
            return .failure(.init(.sessionDoesNotExist, "TSIH \(request.tsih) names no session"))
        }
        switch sessionType {
        case .discovery:
            // RFC 7143 §13.4: a discovery session needs no TargetName.
            return .success(KeyNegotiation(
                sessionType: .discovery, initiatorName: initiatorName, targetName: targetName,
                target: nil, policy: environment.discoveryPolicy,
                authenticationRequired: environment.discoveryRequiresAuthentication,
                incomingAccounts: environment.discoveryIncomingAccounts,
                outgoingAccount: environment.discoveryOutgoingAccount,
                portalGroupTag: environment.portalGroupTag, isid: request.isid, leading: request.tsih == 0))
        case .normal:
            // RFC 7143 §13.4: TargetName MUST be in the first request of a normal session.
            guard let targetName, !targetName.isEmpty else {
                return .failure(.init(.missingParameter, "normal session without TargetName"))
            }
            switch environment.lookupTarget(targetName, initiatorName) {
            case .notFound: return .failure(.init(.notFound, "target not found"))
            case .accessDenied: return .failure(.init(.authorizationFailure, "initiator not allowed"))
            case .unavailable: return .failure(.init(.serviceUnavailable, "target unavailable"))
            case .found(let info):
                return .success(KeyNegotiation(
                    sessionType: .normal, initiatorName: initiatorName, targetName: info.name,
                    target: info, policy: info.policy, authenticationRequired: info.authenticationRequired,
                    incomingAccounts: info.incomingAccounts, outgoingAccount: info.outgoingAccount,
                    portalGroupTag: info.portalGroupTag, isid: request.isid, leading: request.tsih == 0))
            }
        }
    }
}

/// A login failure found while negotiating.
struct NegotiationFailure: Error, Sendable {
    var status: LoginStatus
    var reason: String
    init(_ status: LoginStatus, _ reason: String) { self.status = status; self.reason = reason }
}
