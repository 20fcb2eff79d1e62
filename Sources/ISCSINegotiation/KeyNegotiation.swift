/// The per-login key state (LIO's per-key PSTATE flags): what the initiator offered, what was
/// agreed, what we proposed and still wait for, and what we declared.
struct KeyNegotiation: Sendable {
    let sessionType: SessionType
    let initiatorName: String
    private(set) var initiatorAlias: String?
    let targetName: String?
    let target: TargetLoginInfo?
    let policy: TargetNegotiationPolicy
    /// CHAP required: AuthMethod=None is refused (RFC 7143 §12.1).
    let authenticationRequired: Bool
    /// IncomingUser accounts an initiator may authenticate as.
    let incomingAccounts: [CHAPCredential]
    /// OutgoingUser for mutual CHAP.
    let outgoingAccount: CHAPCredential?
    let portalGroupTag: UInt16
    let isid: UInt64
    /// TSIH = 0: the leading (and only) connection of a new session.
    let leading: Bool

    /// Keys the initiator sent (offers and declarations), for RFC 7143 §6.2 renegotiation checks.
    private var offered: [String: String] = [:]
    /// Agreed values (our answers, or the answers to our proposals).
    private var results: [TextKey: String] = [:]
    /// Keys we proposed and whose answer we wait for.
    private var proposals: [TextKey: String] = [:]
    /// The initiator's declared MaxRecvDataSegmentLength.
    private var initiatorMaxRecvDataSegmentLength: UInt32?
    private var declaredIdentity = false
    private var declaredMaxRecvDataSegmentLength = false
    /// The AuthMethod we answered (nil before the initiator offered one, or when we answered Reject).
    private(set) var agreedAuthMethod: String?
    /// The initiator offered AuthMethod and we could accept none of its values.
    private(set) var authMethodRejected = false

    init(sessionType: SessionType, initiatorName: String, targetName: String?, target: TargetLoginInfo?,
         policy: TargetNegotiationPolicy, authenticationRequired: Bool, incomingAccounts: [CHAPCredential] = [],
         outgoingAccount: CHAPCredential? = nil, portalGroupTag: UInt16, isid: UInt64, leading: Bool) {
        self.sessionType = sessionType
        self.initiatorName = initiatorName
        self.targetName = targetName
        self.target = target
        self.policy = policy
        self.authenticationRequired = authenticationRequired || !incomingAccounts.isEmpty
        self.incomingAccounts = incomingAccounts
        self.outgoingAccount = outgoingAccount
        self.portalGroupTag = portalGroupTag
        self.isid = isid
        self.leading = leading
    }

    var awaitingAnswers: Bool { !proposals.isEmpty }

    // MARK: - Negotiation of initiator keys

    /// Answers one complete text of the initiator. Returns the answers in offer order.
    mutating func negotiate(_ pairs: [(key: String, value: String)], stage: UInt8) -> Result<[(key: String, value: String)], NegotiationFailure> {
        var answers: [(key: String, value: String)] = []
        for (name, value) in pairs {
            guard let descriptor = KeyTable.descriptor(for: name) else {
                // RFC 7143 §6.2: unknown keys, including X- and X# extension keys we do not
                // implement, are answered NotUnderstood.
                answers.append((name, "NotUnderstood"))
                continue
            }
            let key = descriptor.key
            if let proposed = proposals.removeValue(forKey: key) {
                // The initiator answers a key we proposed.
                guard let agreed = Self.acceptAnswer(value, to: proposed, descriptor: descriptor) else {
                    return .failure(.init(.initiatorError, "unacceptable answer to proposed \(name)"))
                }
                results[key] = agreed
                offered[name] = value
                continue
            }
            if let previous = offered[name] {
                // libiscsi re-sends InitiatorName/TargetName/SessionType/InitiatorAlias in the
                // operational stage after CHAP; the same value again changes nothing.
                if previous == value && Self.identityKeys.contains(key) { continue }
                // RFC 7143 §6.2: renegotiating a key within the login is an initiator error.
                return .failure(.init(.initiatorError, "key \(name) renegotiated"))
            }
            offered[name] = value
            if TextValue.reserved.contains(value) {
                // NotUnderstood/Irrelevant/Reject answer nothing we asked; ignore.
                continue
            }
            if descriptor.phase == .security && stage != 0 {
                // RFC 7143 §12: authentication keys only in the SecurityNegotiation stage.
                return .failure(.init(.initiatorError, "security key \(name) outside the security stage"))
            }
            if descriptor.sender == .target || descriptor.phase == .fullFeature {
                // A key the initiator may not send, or not during login (SendTargets is FFPO).
                answers.append((name, "Reject"))
                continue
            }
            if let answer = answer(descriptor, value) {
                // RFC 7143 §13.1: a target configured without "None" requires the digest; an
                // initiator offering none of our values would leave it at the default None.
                if answer == "Reject", key == .headerDigest || key == .dataDigest, !ourList(key).contains("None") {
                    return .failure(.init(.initiatorError, "\(name): CRC32C required but not offered"))
                }
                answers.append((name, answer))
            }
        }
        return .success(answers)
    }

    static let identityKeys: Set<TextKey> = [.initiatorName, .targetName, .sessionType, .initiatorAlias]

    /// The answer to one initiator offer, or nil for declarations (which need none).
    private mutating func answer(_ descriptor: KeyDescriptor, _ value: String) -> String? {
        let key = descriptor.key
        switch key {
        case .initiatorName, .targetName, .sessionType:
            // Declarations checked by the state machine on the first text.
            return nil
        case .initiatorAlias:
            initiatorAlias = value
            return nil
        case .maxRecvDataSegmentLength:
            // RFC 7143 §13.12: declarative; what the initiator can receive.
            guard let number = TextValue.number(value), KeyTable.dataSegmentLengthRange.contains(number) else {
                return "Reject"
            }
            initiatorMaxRecvDataSegmentLength = UInt32(number)
            return nil
        case .authMethod:
            // RFC 7143 §12.1: the acceptor picks the first offered method it supports. A target
            // with IncomingUser accounts accepts only CHAP; one without accepts only None.
            let ours = authenticationRequired ? ["CHAP"] : ["None"]
            guard let chosen = TextValue.list(value).first(where: { ours.contains($0) }) else {
                authMethodRejected = true
                return "Reject"
            }
            agreedAuthMethod = chosen
            return chosen
        case .chapA, .chapI, .chapC, .chapN, .chapR:
            // CHAP was not selected (RFC 7143 §12.1.3 keys only follow AuthMethod=CHAP).
            return "Irrelevant"
        default:
            break
        }
        if descriptor.obsolete {
            // RFC 7143 §13.25: IFMarker/OFMarker SHOULD be answered Reject, MAY be answered No;
            // we answer No (what RFC 3720 initiators expect from an AND with our No).
            // IFMarkInt/OFMarkInt MUST be answered Reject.
            if descriptor.domain == .boolean, TextValue.boolean(value) != nil { return "No" }
            return "Reject"
        }
        if sessionType == .discovery && descriptor.irrelevantInDiscovery {
            // RFC 7143 §13: "Irrelevant when: SessionType=Discovery".
            return "Irrelevant"
        }
        if descriptor.leadingOnly && !leading {
            // LO keys are negotiated only on the leading connection.
            return "Irrelevant"
        }
        switch (descriptor.resultFunction, descriptor.domain) {
        case (.and, .boolean), (.or, .boolean):
            guard let offered = TextValue.boolean(value), let ours = ourBoolean(key) else { return "Reject" }
            let result = descriptor.resultFunction == .and ? (offered && ours) : (offered || ours)
            results[key] = TextValue.string(result)
            return TextValue.string(result)
        case (.minimum, .numeric(let range)), (.maximum, .numeric(let range)):
            // RFC 7143 §6.2: out-of-range or malformed values are answered Reject.
            guard let offered = TextValue.number(value), range.contains(offered), let ours = ourNumber(key) else {
                return "Reject"
            }
            let result = descriptor.resultFunction == .minimum ? min(offered, ours) : max(offered, ours)
            results[key] = String(result)
            return String(result)
        case (.list, _):
            // RFC 7143 §6.2: pick the first value of the initiator's list we support; unknown
            // values are ignored; no common value → Reject.
            let ours = ourList(key)
            guard let chosen = TextValue.list(value).first(where: { ours.contains($0) }) else { return "Reject" }
            results[key] = chosen
            return chosen
        default:
            return "Reject"
        }
    }

    private func ourBoolean(_ key: TextKey) -> Bool? {
        switch key {
        case .initialR2T: return policy.initialR2T
        case .immediateData: return policy.immediateData
        // Only in-order data is implemented.
        case .dataPDUInOrder: return true
        case .dataSequenceInOrder: return true
        default: return nil
        }
    }

    private func ourNumber(_ key: TextKey) -> UInt64? {
        switch key {
        case .maxConnections: return UInt64(max(1, min(policy.maxConnections, 1)))
        case .maxBurstLength: return UInt64(policy.maxBurstLength)
        case .firstBurstLength: return UInt64(min(policy.firstBurstLength, policy.maxBurstLength))
        case .defaultTime2Wait: return UInt64(policy.defaultTime2Wait)
        case .defaultTime2Retain: return UInt64(policy.defaultTime2Retain)
        case .maxOutstandingR2T: return UInt64(policy.maxOutstandingR2T)
        // Only ERL 0 is implemented.
        case .errorRecoveryLevel: return 0
        case .iSCSIProtocolLevel: return KeyTable.supportedProtocolLevel
        default: return nil
        }
    }

    private func ourList(_ key: TextKey) -> [String] {
        switch key {
        case .headerDigest: return policy.headerDigest
        case .dataDigest: return policy.dataDigest
        case .taskReporting: return ["RFC3720"]
        default: return []
        }
    }

    /// Validates the initiator's answer to our proposal; returns the agreed value.
    private static func acceptAnswer(_ answer: String, to proposed: String, descriptor: KeyDescriptor) -> String? {
        switch (descriptor.resultFunction, descriptor.domain) {
        case (.list, _):
            let ours = TextValue.list(proposed)
            return ours.contains(answer) ? answer : nil
        case (.and, .boolean), (.or, .boolean):
            guard let ours = TextValue.boolean(proposed), let theirs = TextValue.boolean(answer) else { return nil }
            let expected = descriptor.resultFunction == .and ? (ours && theirs) : (ours || theirs)
            return theirs == expected ? answer : nil
        case (.minimum, .numeric(let range)):
            guard let ours = TextValue.number(proposed), let theirs = TextValue.number(answer),
                  range.contains(theirs), theirs <= ours else { return nil }
            return String(theirs)
        case (.maximum, .numeric(let range)):
            guard let ours = TextValue.number(proposed), let theirs = TextValue.number(answer),
                  range.contains(theirs), theirs >= ours else { return nil }
            return String(theirs)
        default:
            return nil
        }
    }

    // MARK: - Target declarations and proposals

    /// TargetAlias and TargetPortalGroupTag, once, in the first response of a normal session
    /// (RFC 7143 §13.6: TargetAlias SHOULD be sent when SessionType=Normal; §13.9: the target
    /// returns TargetPortalGroupTag in the response to the first request naming a TargetName).
    mutating func identityDeclarations() -> [(key: String, value: String)] {
        guard !declaredIdentity else { return [] }
        declaredIdentity = true
        guard sessionType == .normal else { return [] }
        var out: [(key: String, value: String)] = []
        if let alias = target?.alias, !alias.isEmpty {
            out.append((TextKey.targetAlias.rawValue, alias))
        }
        out.append((TextKey.targetPortalGroupTag.rawValue, String(portalGroupTag)))
        return out
    }

    /// Our MaxRecvDataSegmentLength declaration and the keys we must propose, in the first
    /// operational-stage response. Only sent in the operational stage: open-iscsi refuses
    /// operational keys in a security-stage response.
    mutating func operationalDeclarationsAndProposals() -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        if !declaredMaxRecvDataSegmentLength {
            declaredMaxRecvDataSegmentLength = true
            // RFC 7143 §13.12: each side declares what it can receive.
            out.append((TextKey.maxRecvDataSegmentLength.rawValue, String(policy.maxRecvDataSegmentLength)))
        }
        for (key, value) in neededProposals() {
            proposals[key] = value
            out.append((key.rawValue, value))
        }
        return out
    }

    /// Whether the login must pass through the operational stage: we have to declare a
    /// MaxRecvDataSegmentLength below the default, or propose a key.
    func needsOperationalStage() -> Bool {
        if !declaredMaxRecvDataSegmentLength && policy.maxRecvDataSegmentLength < KeyTable.defaultMaxRecvDataSegmentLength {
            return true
        }
        return !neededProposals().isEmpty
    }

    /// Keys the initiator did not mention whose RFC default this target cannot accept. An
    /// unmentioned key takes its default, so we must propose our value (and wait for the answer)
    /// before the login may end. Defaults that are merely less efficient (InitialR2T=Yes, the
    /// smaller default bursts) are accepted without an extra round trip; DefaultTime2Retain only
    /// matters for task reassignment (ERL 2) and is not proposed.
    func neededProposals() -> [(TextKey, String)] {
        var out: [(TextKey, String)] = []
        func consider(_ key: TextKey, _ value: String?) {
            guard let value, offered[key.rawValue] == nil, results[key] == nil, proposals[key] == nil else { return }
            let descriptor = KeyTable.descriptor(for: key)
            if sessionType == .discovery && descriptor.irrelevantInDiscovery { return }
            if descriptor.leadingOnly && !leading { return }
            out.append((key, value))
        }
        // RFC 7143 §13.1: default None; propose when the policy forbids no digest.
        if !policy.headerDigest.contains("None") {
            consider(.headerDigest, policy.headerDigest.joined(separator: ","))
        }
        if !policy.dataDigest.contains("None") {
            consider(.dataDigest, policy.dataDigest.joined(separator: ","))
        }
        // RFC 7143 §13.11: default Yes (AND).
        if !policy.immediateData { consider(.immediateData, "No") }
        // RFC 7143 §13.13/§13.14 (Minimum): defaults 262144 / 65536.
        if policy.maxBurstLength < 262_144 { consider(.maxBurstLength, String(policy.maxBurstLength)) }
        let firstBurst = min(policy.firstBurstLength, policy.maxBurstLength)
        if firstBurst < 65_536 { consider(.firstBurstLength, String(firstBurst)) }
        // RFC 7143 §13.15 (Maximum): default 2.
        if policy.defaultTime2Wait > 2 { consider(.defaultTime2Wait, String(policy.defaultTime2Wait)) }
        return out
    }

    // MARK: - Result

    func sessionParameters() -> SessionParameters {
        var parameters = SessionParameters(sessionType: sessionType, initiatorName: initiatorName,
                                           initiatorAlias: initiatorAlias, targetName: targetName,
                                           isid: isid, targetPortalGroupTag: portalGroupTag)
        if declaredMaxRecvDataSegmentLength {
            parameters.maxRecvDataSegmentLength = policy.maxRecvDataSegmentLength
        }
        // RFC 7143 §13.12: 8192 unless the initiator declared otherwise; IET's
        // MaxXmitDataSegmentLength caps it further.
        let declared = initiatorMaxRecvDataSegmentLength ?? KeyTable.defaultMaxRecvDataSegmentLength
        parameters.maxXmitDataSegmentLength = max(512, min(declared, policy.maxXmitDataSegmentLength))
        func number(_ key: TextKey) -> UInt32? { results[key].flatMap(TextValue.number).map { UInt32(clamping: $0) } }
        func boolean(_ key: TextKey) -> Bool? { results[key].flatMap(TextValue.boolean) }
        if let v = number(.maxBurstLength) { parameters.maxBurstLength = v }
        if let v = number(.firstBurstLength) { parameters.firstBurstLength = v }
        if let v = boolean(.initialR2T) { parameters.initialR2T = v }
        if let v = boolean(.immediateData) { parameters.immediateData = v }
        if let v = number(.maxOutstandingR2T) { parameters.maxOutstandingR2T = v }
        if let v = number(.maxConnections) { parameters.maxConnections = v }
        if let v = number(.defaultTime2Wait) { parameters.defaultTime2Wait = v }
        if let v = number(.defaultTime2Retain) { parameters.defaultTime2Retain = v }
        if let v = number(.errorRecoveryLevel) { parameters.errorRecoveryLevel = v }
        if let v = boolean(.dataPDUInOrder) { parameters.dataPDUInOrder = v }
        if let v = boolean(.dataSequenceInOrder) { parameters.dataSequenceInOrder = v }
        parameters.headerDigest = results[.headerDigest] == "CRC32C"
        parameters.dataDigest = results[.dataDigest] == "CRC32C"
        // RFC 7143 §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength.
        parameters.firstBurstLength = min(parameters.firstBurstLength, parameters.maxBurstLength)
        return parameters
    }
}
