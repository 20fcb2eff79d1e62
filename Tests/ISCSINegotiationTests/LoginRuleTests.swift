import ISCSIWire
import Testing
@testable import ISCSINegotiation

/// One test per login rule (RFC 7143 §6.3, §7, §11.12-11.13), SPDK `iscsi_ut.c` style.
@Suite struct LoginRuleTests {
    typealias F = Fixture
    private let normalFirst: [(String, String)] = [("InitiatorName", F.initiator), ("TargetName", F.target),
                                                   ("SessionType", "Normal"), ("AuthMethod", "None")]

    private func firstLogin(_ machine: inout LoginStateMachine, t: Bool = true, nsg: UInt8 = 1) -> LoginAction {
        machine.receive(F.login(csg: 0, nsg: nsg, t: t), data: F.text(normalFirst))
    }

    /// RFC 7143 §13.5: the first Login Request MUST carry InitiatorName (0x0207).
    @Test func case01_firstRequestMustCarryInitiatorName() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true), data: F.text([("TargetName", F.target)]))
        #expect(a.isFail && a.status == .missingParameter)
        #expect(m.failureReason?.contains("InitiatorName") == true)
    }

    /// RFC 7143 §13.4: a discovery session needs no TargetName.
    @Test func case02_discoveryNeedsNoTargetName() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 1, nsg: 3, t: true),
                          data: F.text([("InitiatorName", F.initiator), ("SessionType", "Discovery")]))
        #expect(a.parameters?.sessionType == .discovery)
        #expect(a.pairs == ["MaxRecvDataSegmentLength=262144"])
    }

    /// RFC 7143 §13.4: a normal session needs TargetName (0x0207).
    @Test func case03_normalSessionNeedsTargetName() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true), data: F.text([("InitiatorName", F.initiator)]))
        #expect(a.status == .missingParameter)
    }

    /// RFC 7143 §11.13.5: unknown target → 0x0203.
    @Test func case04_unknownTargetIsNotFound() {
        var m = F.machine(F.environment(targets: []))
        #expect(firstLogin(&m).status == .notFound)
    }

    /// RFC 7143 §11.13.5: initiator not allowed → 0x0202.
    @Test func case05_accessDeniedIsAuthorizationFailure() {
        var m = F.machine(F.environment(denied: [F.initiator]))
        #expect(firstLogin(&m).status == .authorizationFailure)
    }

    /// RFC 7143 §11.13.5: 0x0301 service unavailable.
    @Test func case06_unavailableTarget() {
        var m = F.machine(LoginEnvironment(lookupTarget: { _, _ in .unavailable }))
        #expect(firstLogin(&m).status == .serviceUnavailable)
    }

    /// RFC 7143 §11.12.4: version 0 must lie in [Version-min, Version-max] (0x0205).
    @Test func case07_unsupportedVersion() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true, versionMax: 2, versionMin: 1), data: F.text(normalFirst))
        #expect(a.status == .unsupportedVersion)
        #expect(a.response.versionMax == 0 && a.response.versionActive == 0)
    }

    /// RFC 7143 §11.12.2: a Login Request with C=1 MUST have T=0.
    @Test func case08_transitAndContinueBothSet() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true, c: true), data: F.text(normalFirst))
        #expect(a.status == .initiatorError)
    }

    /// RFC 7143 §11.12.3: CSG 2 is reserved; CSG 3 is not a login stage.
    @Test(arguments: [UInt8(2), 3])
    func case09_reservedOrInvalidCSG(csg: UInt8) {
        var m = F.machine()
        #expect(m.receive(F.login(csg: csg, nsg: 3, t: true), data: F.text(normalFirst)).status == .initiatorError)
    }

    /// RFC 7143 §11.12.3: with T=1, NSG must be a valid stage beyond CSG.
    @Test(arguments: [(UInt8(0), UInt8(2)), (1, 1), (1, 0), (0, 0)])
    func case10_nextStageMustAdvance(csg: UInt8, nsg: UInt8) {
        var m = F.machine()
        #expect(m.receive(F.login(csg: csg, nsg: nsg, t: true), data: F.text(normalFirst)).status == .initiatorError)
    }

    /// RFC 7143 §11.13.3: T=0 → the target stays in the stage and answers T=0.
    @Test func case11_noTransitStaysInStage() {
        var m = F.machine()
        let a = firstLogin(&m, t: false)
        #expect(a.status == .success && !a.response.transit && a.response.currentStage == 0 && a.response.nextStage == 0)
        let b = m.receive(F.login(csg: 0, nsg: 1, t: true), data: [])
        #expect(b.response.transit && b.response.nextStage == 1)
    }

    /// RFC 7143 §6.3: after the target transits, requests carry the new CSG; going back is an error.
    @Test func case12_csgMustMatchCurrentStage() {
        var m = F.machine()
        _ = firstLogin(&m)
        #expect(m.receive(F.login(csg: 0, nsg: 1, t: true), data: []).status == .initiatorError)
    }

    /// RFC 7143 §12.1: AuthMethod=None is chosen when the target needs no authentication.
    @Test func case13_securityStageWithAuthMethodNone() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true),
                          data: F.text([("InitiatorName", F.initiator), ("TargetName", F.target), ("AuthMethod", "CHAP,None")]))
        #expect(a.pairs == ["AuthMethod=None", "TargetPortalGroupTag=1"])
    }

    /// RFC 7143 §12.1: a target that requires authentication (here forced, without accounts)
    /// refuses AuthMethod=None (0x0201), a login that skips the security stage, and a discovery
    /// login that leaves the security stage without offering an AuthMethod.
    @Test func case14_authenticationRequiredFails() {
        let env = F.environment(targets: [TargetLoginInfo(name: F.target, requiresAuthentication: true)])
        var m = F.machine(env)
        #expect(firstLogin(&m).status == .authenticationFailure)
        var skip = F.machine(env)
        #expect(skip.receive(F.login(csg: 1, nsg: 3, t: true), data: F.text(normalFirst.filter { $0.0 != "AuthMethod" })).status == .authenticationFailure)
        var discovery = F.machine(F.environment(discoveryRequiresAuthentication: true))
        #expect(discovery.receive(F.login(csg: 0, nsg: 1, t: true),
                                  data: F.text([("InitiatorName", F.initiator), ("SessionType", "Discovery")])).status == .authenticationFailure)
    }

    /// RFC 7143 §12: authentication keys only in the security stage.
    @Test func case15_securityKeysOutsideSecurityStage() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 1, nsg: 3, t: true),
                          data: F.text([("InitiatorName", F.initiator), ("TargetName", F.target), ("AuthMethod", "None")]))
        #expect(a.status == .initiatorError)
    }

    /// Operational keys offered in the security stage are negotiated there (never declared back
    /// by us in a security-stage response: open-iscsi refuses that).
    @Test func case16_operationalKeysAllowedInSecurityStage() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true), data: F.text(normalFirst + [("MaxBurstLength", "65536")]))
        #expect(a.pairs == ["AuthMethod=None", "MaxBurstLength=65536", "TargetPortalGroupTag=1"])
        let b = m.receive(F.login(csg: 1, nsg: 3, t: true), data: [])
        #expect(b.parameters?.maxBurstLength == 65536)
        #expect(b.pairs == ["MaxRecvDataSegmentLength=262144"])
    }

    /// RFC 7143 §11.12: ISID, TSIH, CID and versions stay the same during a login.
    @Test(arguments: ["isid", "tsih", "cid", "version"])
    func case17_identifiersMustNotChange(field: String) {
        var m = F.machine(LoginEnvironment(lookupTarget: { _, _ in .found(TargetLoginInfo(name: F.target)) },
                                           sessionExists: { _, _, _ in true }))
        _ = firstLogin(&m, t: false)
        var next = F.login(csg: 0, nsg: 1, t: true)
        switch field {
        case "isid": next.isid ^= 1
        case "tsih": next.tsih = 5
        case "cid": next.cid = 1
        default: next.versionMax = 1
        }
        #expect(m.receive(next, data: []).status == .initiatorError)
    }

    /// RFC 7143 §11.13.4: the first response carries the initial StatSN, each later one +1;
    /// `statSN` is the next one to use after login.
    @Test func case18_statSNSequence() {
        var m = LoginStateMachine(environment: F.environment(), initialStatSN: 0xffff_ffff)
        let a = firstLogin(&m)
        let b = m.receive(F.login(csg: 1, nsg: 3, t: true), data: [])
        #expect(a.response.statSN == 0xffff_ffff && b.response.statSN == 0)
        #expect(b.parameters != nil && m.statSN == 1 && m.isComplete)
    }

    /// RFC 7143 §11.12.7: login requests are immediate; ExpCmdSN = CmdSN, MaxCmdSN = ExpCmdSN +
    /// window − 1.
    @Test func case19_commandSequenceNumbers() {
        var m = F.machine()
        let a = firstLogin(&m)
        #expect(a.response.expCmdSN == F.cmdSN && a.response.maxCmdSN == F.cmdSN)
        var env = F.environment()
        env.commandWindow = 32
        var w = F.machine(env)
        #expect(firstLogin(&w).response.maxCmdSN == F.cmdSN + 31)
    }

    /// RFC 7143 §11.12.2: text split across PDUs with C=1 — even mid key — is accumulated;
    /// each C=1 PDU gets an empty response (SPDK `PARSE("C=AAA\0D=B", partial)` case).
    @Test func case20_keysSplitAcrossPDUs() {
        var m = F.machine()
        let whole = F.text(normalFirst + [("MaxBurstLength", "65536")])
        let cut = 60
        let a = m.receive(F.login(csg: 0, nsg: 1, t: false, c: true), data: Array(whole[..<cut]))
        #expect(a.status == .success && a.data.isEmpty && !a.response.transit && !a.response.continueFlag)
        let b = m.receive(F.login(csg: 0, nsg: 1, t: true), data: Array(whole[cut...]))
        #expect(b.pairs == ["AuthMethod=None", "MaxBurstLength=65536", "TargetPortalGroupTag=1"])
        #expect(b.response.transit && b.response.nextStage == 1)
    }

    /// Accumulated continuation text is bounded (64 KiB).
    @Test func case21_continuedTextIsBounded() {
        var m = F.machine()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 8192)
        var last: LoginAction?
        for _ in 0..<9 { last = m.receive(F.login(csg: 0, t: false, c: true), data: chunk) }
        #expect(last?.status == .initiatorError)
    }

    /// RFC 7143 §13.12: during login the target receives at most 8192 bytes per PDU.
    @Test func case22_loginDataSegmentOver8192() {
        var m = F.machine()
        let data = F.text(normalFirst) + [UInt8](repeating: 0, count: 8192)
        #expect(m.receive(F.login(csg: 0, nsg: 1, t: true), data: data).status == .initiatorError)
    }

    /// RFC 7143 §11.13.3: a response longer than the initiator's 8192 bytes is sent with C=1;
    /// the initiator fetches the rest with empty requests; T only on the last part.
    @Test func case23_longResponseIsContinued() {
        var m = F.machine()
        var pairs = normalFirst
        for i in 0..<110 { pairs.append(("X-" + String(repeating: "k", count: 57) + String(1000 + i), "1")) }
        let request = F.text(pairs)
        #expect(request.count <= 8192)
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true), data: request)
        #expect(a.response.continueFlag && !a.response.transit && a.data.count == 8192)
        #expect(m.receive(F.login(csg: 0, nsg: 1, t: true), data: F.text([("A", "1")])).status == .initiatorError)
        var n = F.machine()
        _ = n.receive(F.login(csg: 0, nsg: 1, t: true), data: request)
        let b = n.receive(F.login(csg: 0, nsg: 1, t: true), data: [])
        #expect(!b.response.continueFlag && b.response.transit && b.response.nextStage == 1)
        let all = (try? TextCodec.decode(a.data + b.data)) ?? []
        #expect(all.count == 112 && all.first?.key == "AuthMethod" && all.last?.key == "TargetPortalGroupTag")
    }

    /// A login request after the login ended is invalid (0x020b).
    @Test func case24_requestAfterCompletion() {
        var m = F.machine()
        _ = m.receive(F.login(csg: 1, nsg: 3, t: true), data: F.text(normalFirst.filter { $0.0 != "AuthMethod" }))
        #expect(m.isComplete)
        #expect(m.receive(F.login(csg: 1, nsg: 3, t: true), data: []).status == .invalidDuringLogin)
    }

    /// RFC 7143 §11.13.5: TSIH ≠ 0 naming no session → 0x020a.
    @Test func case25_unknownTSIH() {
        var m = F.machine()
        #expect(m.receive(F.login(csg: 0, nsg: 1, t: true, tsih: 7), data: F.text(normalFirst)).status == .sessionDoesNotExist)
    }

    /// libiscsi re-sends InitiatorName/TargetName/SessionType in the operational stage after the
    /// security stage: the same value is tolerated, a different one is an initiator error.
    @Test func case26_identityRedeclaration() {
        var m = F.machine()
        _ = firstLogin(&m)
        let a = m.receive(F.login(csg: 1, nsg: 3, t: true),
                          data: F.text([("InitiatorName", F.initiator), ("TargetName", F.target), ("SessionType", "Normal")]))
        #expect(a.parameters != nil)
        var n = F.machine()
        _ = firstLogin(&n)
        #expect(n.receive(F.login(csg: 1, nsg: 3, t: true), data: F.text([("TargetName", "iqn.other")])).status == .initiatorError)
    }

    /// A bounded number of Login Requests per login.
    @Test func case27_tooManyLoginPDUs() {
        var m = F.machine()
        var last = firstLogin(&m, t: false)
        for _ in 0..<LoginStateMachine.maxLoginPDUs { last = m.receive(F.login(csg: 0, t: false), data: []) }
        #expect(last.status == .initiatorError)
    }

    /// RFC 7143 §13.21: an unknown SessionType → 0x0209.
    @Test func case28_unknownSessionType() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 1, t: true),
                          data: F.text([("InitiatorName", F.initiator), ("SessionType", "Weird")]))
        #expect(a.status == .sessionTypeNotSupported)
    }

    /// RFC 7143 §13.6/§13.9: TargetAlias and TargetPortalGroupTag once, normal sessions only.
    @Test func case29_targetDeclarationsOnce() {
        var m = F.machine(F.environment(targets: [TargetLoginInfo(name: F.target, alias: "Disk One", portalGroupTag: 7)]))
        let a = firstLogin(&m)
        #expect(a.pairs == ["AuthMethod=None", "TargetAlias=Disk One", "TargetPortalGroupTag=7"])
        let b = m.receive(F.login(csg: 1, nsg: 3, t: true), data: [])
        #expect(b.pairs == ["MaxRecvDataSegmentLength=262144"])
        #expect(b.parameters?.targetPortalGroupTag == 7)
    }

    /// An initiator answering our proposal with Reject leaves a default we cannot accept.
    @Test func case30_rejectedProposalFailsLogin() {
        var policy = TargetNegotiationPolicy()
        policy.dataDigest = ["CRC32C"]
        var m = F.machine(F.environment(targets: [TargetLoginInfo(name: F.target, policy: policy)]))
        let a = m.receive(F.login(csg: 1, nsg: 3, t: true), data: F.text(normalFirst.filter { $0.0 != "AuthMethod" }))
        #expect(!a.response.transit && a.pairs.contains("DataDigest=CRC32C"))
        #expect(m.receive(F.login(csg: 1, nsg: 3, t: true), data: F.text([("DataDigest", "Reject")])).status == .initiatorError)
    }

    /// Security stage straight to full feature phase is allowed when nothing needs the
    /// operational stage; the target's MaxRecvDataSegmentLength then stays at 8192.
    @Test func case31_securityDirectlyToFullFeature() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 0, nsg: 3, t: true),
                          data: F.text([("InitiatorName", F.initiator), ("SessionType", "Discovery"), ("AuthMethod", "None")]))
        #expect(a.response.nextStage == 3 && a.pairs == ["AuthMethod=None"])
        #expect(a.parameters?.maxRecvDataSegmentLength == 8192 && a.parameters?.maxXmitDataSegmentLength == 8192)
    }

    /// The final response echoes the request's TSIH (0); the caller assigns the new TSIH.
    @Test func case32_completeLeavesTSIHToCaller() {
        var m = F.machine()
        let a = m.receive(F.login(csg: 1, nsg: 3, t: true), data: F.text(normalFirst.filter { $0.0 != "AuthMethod" }))
        guard case .complete(let response, _, let parameters) = a else { Issue.record("not complete"); return }
        #expect(response.tsih == 0 && response.transit && response.nextStage == 3 && response.currentStage == 1)
        #expect(parameters.isid == F.isid && parameters.targetName == F.target)
    }

    /// Random login PDUs never trap and always produce a response of the right shape.
    @Test func case33_randomLoginRobustness() {
        var rng = SplitMix64(seed: 42)
        let keys = KeyTable.all.map(\.name) + ["X-vendor", "Bogus"]
        let values = ["Yes", "No", "0", "1", "512", "8192", "16777216", "None", "CRC32C", "None,CRC32C", "",
                      "Discovery", "Normal", F.target, F.initiator, "Reject", "NotUnderstood", "0xffffffffffffffffff"]
        for _ in 0..<400 {
            var m = F.machine()
            for _ in 0..<Int(rng.next() % 6 + 1) {
                var pairs: [(String, String)] = []
                var used: Set<String> = []
                for _ in 0..<Int(rng.next() % 8) {
                    let key = keys[Int(rng.next() % UInt64(keys.count))]
                    if used.insert(key).inserted { pairs.append((key, values[Int(rng.next() % UInt64(values.count))])) }
                }
                var data = F.text(pairs)
                if rng.next() % 5 == 0, !data.isEmpty { data.removeLast(Int(rng.next() % UInt64(data.count))) }
                let r = F.login(csg: UInt8(rng.next() % 4), nsg: UInt8(rng.next() % 4), t: rng.next() % 2 == 0,
                                c: rng.next() % 6 == 0, versionMin: rng.next() % 10 == 0 ? 1 : 0)
                let action = m.receive(r, data: data)
                #expect(action.response.initiatorTaskTag == F.itt)
                if case .fail = action { #expect(action.status.statusClass != 0); break }
                if case .complete = action { break }
            }
        }
    }
}
