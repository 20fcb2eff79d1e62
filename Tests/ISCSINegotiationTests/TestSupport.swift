import ISCSIWire
import Synchronization
import Testing
@testable import ISCSINegotiation

/// A deterministic random source for CHAP: returns the queued byte strings in order (each call
/// takes the next one, whatever the count asked), then zeros.
final class ScriptedRandom: Sendable {
    private let queue: Mutex<[[UInt8]]>
    init(_ outputs: [[UInt8]]) { queue = Mutex(outputs) }
    func next(_ count: Int) -> [UInt8] {
        queue.withLock { queue in
            queue.isEmpty ? [UInt8](repeating: 0, count: count) : queue.removeFirst()
        }
    }
    var source: @Sendable (Int) -> [UInt8] { { [self] count in self.next(count) } }
}

/// Hex text → bytes (test input only).
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).compactMap {
        UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)
    }
}

/// Builders shared by the tests.
enum Fixture {
    static let isid: UInt64 = 0x023d_0000_0001
    static let itt: UInt32 = 0x11
    static let cmdSN: UInt32 = 100
    static let initialStatSN: UInt32 = 0x1000
    static let initiator = "iqn.2004-10.com.ubuntu:01:abcdef"
    static let target = "iqn.2001-04.com.example:storage.disk1"

    static func login(csg: UInt8, nsg: UInt8 = 0, t: Bool, c: Bool = false, versionMax: UInt8 = 0,
                      versionMin: UInt8 = 0, isid: UInt64 = isid, tsih: UInt16 = 0, itt: UInt32 = itt,
                      cid: UInt16 = 0) -> LoginRequest {
        LoginRequest(transit: t, continueFlag: c, currentStage: csg, nextStage: nsg, versionMax: versionMax,
                     versionMin: versionMin, isid: isid, tsih: tsih, initiatorTaskTag: itt, cid: cid,
                     cmdSN: cmdSN, expStatSN: 0)
    }

    static func text(_ pairs: [(String, String)]) -> [UInt8] {
        TextCodec.encode(pairs.map { (key: $0.0, value: $0.1) })
    }

    static func environment(targets: [TargetLoginInfo] = [TargetLoginInfo(name: target)],
                            denied: Set<String> = [], discoveryPolicy: TargetNegotiationPolicy = .init(),
                            discoveryRequiresAuthentication: Bool = false,
                            discoveryIncoming: [CHAPCredential] = [], discoveryOutgoing: CHAPCredential? = nil,
                            random: [[UInt8]] = [],
                            registry: CHAPChallengeRegistry = CHAPChallengeRegistry()) -> LoginEnvironment {
        LoginEnvironment(lookupTarget: { name, initiatorName in
            guard let info = targets.first(where: { $0.name == name }) else { return .notFound }
            if denied.contains(initiatorName) { return .accessDenied }
            return .found(info)
        }, discoveryPolicy: discoveryPolicy, discoveryIncomingAccounts: discoveryIncoming,
                         discoveryOutgoingAccount: discoveryOutgoing,
                         discoveryRequiresAuthentication: discoveryRequiresAuthentication,
                         portalGroupTag: 1, randomBytes: ScriptedRandom(random).source, challengeRegistry: registry)
    }

    static func machine(_ environment: LoginEnvironment = environment()) -> LoginStateMachine {
        LoginStateMachine(environment: environment, initialStatSN: initialStatSN)
    }

    /// open-iscsi 2.1 first-login key sets (usr/login.c, iscsid.conf defaults).
    static let openISCSISecurity: [(String, String)] = [
        ("InitiatorName", initiator), ("InitiatorAlias", "xen-dom0"), ("TargetName", target),
        ("SessionType", "Normal"), ("AuthMethod", "None"),
    ]
    static let openISCSIOperational: [(String, String)] = [
        ("HeaderDigest", "None"), ("DataDigest", "None"), ("DefaultTime2Wait", "2"),
        ("DefaultTime2Retain", "0"), ("IFMarker", "No"), ("OFMarker", "No"), ("ErrorRecoveryLevel", "0"),
        ("InitialR2T", "No"), ("ImmediateData", "Yes"), ("MaxBurstLength", "16776192"),
        ("FirstBurstLength", "262144"), ("MaxOutstandingR2T", "1"), ("MaxConnections", "1"),
        ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes"), ("MaxRecvDataSegmentLength", "262144"),
    ]
}

extension LoginAction {
    var response: LoginResponse {
        switch self {
        case .respond(let r, _), .complete(let r, _, _), .fail(let r, _): return r
        }
    }
    var data: [UInt8] {
        switch self {
        case .respond(_, let d), .complete(_, let d, _), .fail(_, let d): return d
        }
    }
    var status: LoginStatus { LoginStatus(statusClass: response.statusClass, statusDetail: response.statusDetail) }
    var parameters: SessionParameters? {
        if case .complete(_, _, let p) = self { return p }
        return nil
    }
    var isFail: Bool { if case .fail = self { return true } else { return false } }
    var pairs: [String] { (try? TextCodec.decode(data))?.map { "\($0.key)=\($0.value)" } ?? ["<undecodable>"] }
}

/// A golden negotiation transcript (style anchors, "Testing approach" 3).
///
/// ```
/// # comment
/// target <name> [alias=<alias>] [auth]          configured target (policy from the next `policy` lines)
/// incoming <user> <secret>                       IncomingUser of the last target
/// outgoing <user> <secret>                       OutgoingUser of the last target
/// discovery-incoming <user> <secret>             global IncomingUser (discovery sessions)
/// discovery-outgoing <user> <secret>             global OutgoingUser
/// random <hex>                                   next output of the random source (CHAP_I, then CHAP_C)
/// registry <hex>                                 a challenge issued earlier in this process
/// reason <text>                                  the last failure's reason contains <text>
/// user <name>                                    the CHAP user that authenticated
/// policy <IETKey>=<value>                        ietd.conf parameter of the last target (or discovery)
/// discovery-policy <IETKey>=<value>
/// address <target> <ip:port,tpgt>                SendTargets data
/// > login CSG=<n> NSG=<n> T=<0|1> [C=1]          initiator Login Request; following indented lines are pairs
/// < <status> CSG=<n> NSG=<n> T=<0|1> [C=1] <respond|complete|fail>   expected response and exact pairs
/// = <parameter> <value>                          negotiated SessionParameters field
/// > text F=<0|1> [C=1] ITT=<hex> TTT=<hex>       Text Request in full feature phase
/// < text F=<0|1> C=<0|1> TTT=<hex> [bytes=<n>]   expected Text Response (pairs, or only the byte count)
/// == <pairs...>                                  pairs of all text responses so far concatenated
/// ```
struct Transcript {
    struct PDU { var header: [String]; var pairs: [(String, String)] }

    static func run(_ source: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var targets: [TargetLoginInfo] = []
        var targetParameters: [[String: String]] = []
        var discoveryParameters: [String: String] = [:]
        var addresses: [String: [String]] = [:]
        var discoveryIncoming: [CHAPCredential] = []
        var discoveryOutgoing: CHAPCredential?
        var random: [[UInt8]] = []
        let registry = CHAPChallengeRegistry()
        var pdus: [(String, PDU)] = []
        var expectations: [(String, String)] = []
        // Pass 1: configuration and PDUs.
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let words = trimmed.split(separator: " ").map(String.init)
            switch words[0] {
            case "target":
                var info = TargetLoginInfo(name: words[1])
                for word in words.dropFirst(2) {
                    if word.hasPrefix("alias=") { info.alias = String(word.dropFirst(6)) }
                    if word == "auth" { info.requiresAuthentication = true }
                }
                targets.append(info)
                targetParameters.append([:])
            case "policy":
                let kv = words[1].split(separator: "=", maxSplits: 1).map(String.init)
                targetParameters[targetParameters.count - 1][kv[0]] = kv[1]
            case "discovery-policy":
                let kv = words[1].split(separator: "=", maxSplits: 1).map(String.init)
                discoveryParameters[kv[0]] = kv[1]
            case "address":
                addresses[words[1], default: []].append(words[2])
            case "incoming":
                targets[targets.count - 1].incomingAccounts.append(CHAPCredential(user: words[1], secret: words[2]))
            case "outgoing":
                targets[targets.count - 1].outgoingAccount = CHAPCredential(user: words[1], secret: words[2])
            case "discovery-incoming":
                discoveryIncoming.append(CHAPCredential(user: words[1], secret: words[2]))
            case "discovery-outgoing":
                discoveryOutgoing = CHAPCredential(user: words[1], secret: words[2])
            case "random":
                random.append(bytes(hex: words[1]))
            case "registry":
                #expect(registry.register(bytes(hex: words[1])), sourceLocation: sourceLocation)
            case ">", "<":
                var pairs: [(String, String)] = []
                while index < lines.count, lines[index].hasPrefix("  ") {
                    let pair = lines[index].trimmingSpaces()
                    index += 1
                    let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                    pairs.append((kv[0], kv.count > 1 ? kv[1] : ""))
                }
                pdus.append((words[0], PDU(header: Array(words.dropFirst()), pairs: pairs)))
            case "=":
                expectations.append((words[1], words.dropFirst(2).joined(separator: " ")))
                pdus.append(("=", PDU(header: Array(words.dropFirst()), pairs: [])))
            case "==":
                pdus.append(("==", PDU(header: Array(words.dropFirst()), pairs: [])))
            case "reason", "user":
                pdus.append((words[0], PDU(header: Array(words.dropFirst()), pairs: [])))
            default:
                Issue.record("transcript: bad line '\(line)'", sourceLocation: sourceLocation)
                return
            }
        }
        lines = []
        for (i, parameters) in targetParameters.enumerated() {
            let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters(parameters)
            #expect(warnings.isEmpty, "policy warnings: \(warnings)", sourceLocation: sourceLocation)
            targets[i].policy = policy
        }
        let discoveryPolicy = TargetNegotiationPolicy.fromIETParameters(discoveryParameters).0
        let configuredTargets = targets
        let configuredAddresses = addresses
        var machine = Fixture.machine(Fixture.environment(
            targets: configuredTargets, discoveryPolicy: discoveryPolicy, discoveryIncoming: discoveryIncoming,
            discoveryOutgoing: discoveryOutgoing, random: random, registry: registry))
        var negotiator: TextNegotiator?
        var parameters: SessionParameters?
        var lastRequest: (login: LoginRequest?, text: TextRequest?) = (nil, nil)
        var lastAction: LoginAction?
        var lastText: TextAction?
        var textSoFar: [UInt8] = []
        var statSN = Fixture.initialStatSN

        func field(_ header: [String], _ name: String) -> String? {
            header.first(where: { $0.hasPrefix(name + "=") }).map { String($0.dropFirst(name.count + 1)) }
        }
        func hex(_ s: String?) -> UInt32 { s.flatMap { UInt32($0, radix: 16) } ?? reservedTag }

        for (kind, pdu) in pdus {
            let h = pdu.header
            switch kind {
            case ">" where h.first == "login":
                let request = Fixture.login(csg: UInt8(field(h, "CSG") ?? "0") ?? 0, nsg: UInt8(field(h, "NSG") ?? "0") ?? 0,
                                            t: field(h, "T") == "1", c: field(h, "C") == "1")
                lastRequest = (request, nil)
                let action = machine.receive(request, data: Fixture.text(pdu.pairs))
                lastAction = action
                if let p = action.parameters { parameters = p }
            case ">" where h.first == "text":
                guard let p = parameters else { Issue.record("text before login completed", sourceLocation: sourceLocation); return }
                if negotiator == nil {
                    negotiator = TextNegotiator(sessionType: p.sessionType, parameters: p) { which in
                        let names = which == "All" ? configuredTargets.map(\.name) : [which]
                        return names.compactMap { name in
                            configuredTargets.contains(where: { $0.name == name })
                                ? (name: name, addresses: configuredAddresses[name] ?? []) : nil
                        }
                    }
                }
                let request = TextRequest(final: field(h, "F") != "0", continueFlag: field(h, "C") == "1",
                                          initiatorTaskTag: hex(field(h, "ITT")), targetTransferTag: hex(field(h, "TTT")),
                                          cmdSN: 200, expStatSN: statSN)
                lastRequest = (nil, request)
                lastText = negotiator?.receive(request, data: Fixture.text(pdu.pairs), statSN: statSN, expCmdSN: 200, maxCmdSN: 232)
                statSN &+= 1
            case "<" where h.first == "text":
                guard case .respond(let r, let data)? = lastText else {
                    Issue.record("expected a text response, got \(String(describing: lastText))", sourceLocation: sourceLocation)
                    return
                }
                #expect(r.final == (field(h, "F") == "1"), "F bit", sourceLocation: sourceLocation)
                #expect(r.continueFlag == (field(h, "C") == "1"), "C bit", sourceLocation: sourceLocation)
                #expect(r.targetTransferTag == hex(field(h, "TTT")), "TTT", sourceLocation: sourceLocation)
                #expect(r.initiatorTaskTag == lastRequest.text?.initiatorTaskTag, sourceLocation: sourceLocation)
                if let bytes = field(h, "bytes") {
                    #expect(data.count == Int(bytes), "byte count", sourceLocation: sourceLocation)
                } else {
                    let got = (try? TextCodec.decode(data, rejectingDuplicates: false))?.map { "\($0.key)=\($0.value)" } ?? []
                    #expect(got == pdu.pairs.map { "\($0.0)=\($0.1)" }, sourceLocation: sourceLocation)
                }
                textSoFar.append(contentsOf: data)
            case "==":
                var expected: [String] = []
                expected = pdu.header
                let got = (try? TextCodec.decode(textSoFar, rejectingDuplicates: false))?.map { "\($0.key)=\($0.value)" } ?? ["<undecodable>"]
                #expect(got == expected, sourceLocation: sourceLocation)
                textSoFar = []
            case "<":
                guard let action = lastAction, let request = lastRequest.login else {
                    Issue.record("response without request", sourceLocation: sourceLocation); return
                }
                let r = action.response
                #expect(action.status.description == h[0], "status", sourceLocation: sourceLocation)
                #expect(r.currentStage == UInt8(field(h, "CSG") ?? "") ?? 9, "CSG", sourceLocation: sourceLocation)
                #expect(r.nextStage == UInt8(field(h, "NSG") ?? "") ?? 9, "NSG", sourceLocation: sourceLocation)
                #expect(r.transit == (field(h, "T") == "1"), "T", sourceLocation: sourceLocation)
                #expect(r.continueFlag == (field(h, "C") == "1"), "C", sourceLocation: sourceLocation)
                let outcome: String
                switch action { case .respond: outcome = "respond"; case .complete: outcome = "complete"; case .fail: outcome = "fail" }
                #expect(h.last == outcome, "outcome", sourceLocation: sourceLocation)
                #expect(r.initiatorTaskTag == request.initiatorTaskTag && r.isid == request.isid, sourceLocation: sourceLocation)
                #expect(r.statSN == statSN, "StatSN", sourceLocation: sourceLocation)
                #expect(r.expCmdSN == request.cmdSN && r.maxCmdSN == request.cmdSN, sourceLocation: sourceLocation)
                statSN &+= 1
                #expect(action.pairs == pdu.pairs.map { "\($0.0)=\($0.1)" }, sourceLocation: sourceLocation)
                lastAction = nil
            case "reason":
                let expected = h.joined(separator: " ")
                #expect(machine.failureReason?.contains(expected) == true,
                        "reason '\(machine.failureReason ?? "nil")' lacks '\(expected)'", sourceLocation: sourceLocation)
            case "user":
                #expect(machine.authenticatedUser == h.first, "authenticated user", sourceLocation: sourceLocation)
            case "=":
                guard let p = parameters else { Issue.record("no parameters", sourceLocation: sourceLocation); return }
                let name = h[0]
                let value = h.dropFirst().joined(separator: " ")
                #expect(describe(p, name) == value, "\(name)", sourceLocation: sourceLocation)
            default:
                Issue.record("transcript: unknown PDU \(kind) \(h)", sourceLocation: sourceLocation)
            }
        }
        _ = expectations
    }

    static func describe(_ p: SessionParameters, _ name: String) -> String {
        switch name {
        case "sessionType": return p.sessionType.rawValue
        case "initiatorName": return p.initiatorName
        case "initiatorAlias": return p.initiatorAlias ?? "nil"
        case "targetName": return p.targetName ?? "nil"
        case "targetPortalGroupTag": return String(p.targetPortalGroupTag)
        case "maxRecvDataSegmentLength": return String(p.maxRecvDataSegmentLength)
        case "maxXmitDataSegmentLength": return String(p.maxXmitDataSegmentLength)
        case "maxBurstLength": return String(p.maxBurstLength)
        case "firstBurstLength": return String(p.firstBurstLength)
        case "initialR2T": return String(p.initialR2T)
        case "immediateData": return String(p.immediateData)
        case "maxOutstandingR2T": return String(p.maxOutstandingR2T)
        case "maxConnections": return String(p.maxConnections)
        case "defaultTime2Wait": return String(p.defaultTime2Wait)
        case "defaultTime2Retain": return String(p.defaultTime2Retain)
        case "errorRecoveryLevel": return String(p.errorRecoveryLevel)
        case "dataPDUInOrder": return String(p.dataPDUInOrder)
        case "dataSequenceInOrder": return String(p.dataSequenceInOrder)
        case "headerDigest": return String(p.headerDigest)
        case "dataDigest": return String(p.dataDigest)
        default: return "<unknown field \(name)>"
        }
    }
}
