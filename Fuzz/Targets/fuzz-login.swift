// libFuzzer entry: login and text negotiation (RFC 7143 §6, §11.10-11.13, §13) driven by fuzz bytes.
//
// Input: byte 0 picks the scenario (bit 0: the target requires CHAP; bit 1: mutual CHAP account;
// bit 2: strict discovery CHAP), then a sequence of steps, each
//   [flags] [header tweak] [length hi] [length lo] [data ...]
// flags: bit 7 T, bit 6 C, bits 2-3 CSG, bits 0-1 NSG, bit 4 → a full feature Text Request instead
// (bit 7 F, bit 6 C) once the login completed. header tweak: bit 0 changes the ISID, bit 1 sets
// TSIH 1, bits 4-7 become Version-max/min. The data is whatever follows, up to length bytes, so key
// text can be split anywhere across continuation PDUs. TextCodec.decode also runs on each segment.
import ISCSIWire
import ISCSINegotiation

let target = "iqn.2001-04.com.example:storage.disk1"
let chapTarget = "iqn.2001-04.com.example:storage.chap"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLogin(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    let scenario = input[0]
    let random: @Sendable (Int) -> [UInt8] = { n in (0..<max(0, min(n, 1024))).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } }
    let account = CHAPCredential(user: "user", secret: "secretsecret1")
    let outgoing = scenario & 2 != 0 ? CHAPCredential(user: "target", secret: "targetsecret2") : nil
    let infos = [
        TargetLoginInfo(name: target, alias: "disk1"),
        TargetLoginInfo(name: chapTarget, incomingAccounts: [account], outgoingAccount: outgoing,
                        requiresAuthentication: scenario & 1 != 0),
    ]
    let env = LoginEnvironment(lookupTarget: { name, _ in
        guard let info = infos.first(where: { $0.name == name }) else { return .notFound }
        return .found(info)
    }, discoveryIncomingAccounts: scenario & 4 != 0 ? [account] : [], sessionExists: { _, _, tsih in tsih == 1 },
       commandWindow: 32, randomBytes: random, challengeRegistry: CHAPChallengeRegistry(capacity: 16))
    var machine = LoginStateMachine(environment: env, initialStatSN: 0x1000)
    var negotiator: TextNegotiator?
    var offset = 1
    var itt: UInt32 = 1
    var cmdSN: UInt32 = 1
    var steps = 0
    while offset + 4 <= input.count, steps < 64 {
        steps += 1
        let flags = input[offset], tweak = input[offset + 1]
        let length = Int(input[offset + 2]) << 8 | Int(input[offset + 3])
        offset += 4
        let end = min(input.count, offset + length)
        let data = Array(input[offset..<end])
        offset = end
        _ = try? TextCodec.decode(data)
        _ = try? TextCodec.decode(data, rejectingDuplicates: false)
        if flags & 0x10 != 0 {
            guard var n = negotiator else { continue }
            let req = TextRequest(final: flags & 0x80 != 0, continueFlag: flags & 0x40 != 0, initiatorTaskTag: itt,
                                  targetTransferTag: tweak & 1 != 0 ? 0xffff_ffff : UInt32(tweak),
                                  cmdSN: cmdSN, expStatSN: 0)
            switch n.receive(req, data: data, statSN: 1, expCmdSN: cmdSN, maxCmdSN: cmdSN &+ 32) {
            case .respond(let resp, let out):
                precondition(out.count <= 262_144, "text response segment of \(out.count) bytes")
                _ = resp
            case .reject:
                break
            }
            negotiator = n
            cmdSN &+= 1
            itt &+= 1
            continue
        }
        let req = LoginRequest(transit: flags & 0x80 != 0, continueFlag: flags & 0x40 != 0,
                               currentStage: (flags >> 2) & 3, nextStage: flags & 3,
                               versionMax: tweak >> 6, versionMin: (tweak >> 4) & 3,
                               isid: tweak & 1 != 0 ? 0x0123_4567_89ab : 0x023d_0000_0001,
                               tsih: tweak & 2 != 0 ? 1 : 0, initiatorTaskTag: itt, cmdSN: cmdSN, expStatSN: 0)
        switch machine.receive(req, data: data) {
        case .respond(let resp, let out):
            // RFC 7143 §13.12: login responses respect the default 8192-byte segment size.
            precondition(out.count <= 8192, "login response segment of \(out.count) bytes")
            precondition(resp.statusClass == 0)
        case .complete(let resp, let out, let params):
            precondition(out.count <= 8192, "login response segment of \(out.count) bytes")
            precondition(resp.transit && resp.nextStage == 3)
            precondition(FramerLimits.maxRecvDataSegmentLengthRange.contains(Int(params.maxRecvDataSegmentLength)))
            // RFC 7143 §13.14: FirstBurstLength never exceeds MaxBurstLength.
            precondition(params.firstBurstLength <= params.maxBurstLength, "FirstBurstLength > MaxBurstLength")
            negotiator = TextNegotiator(sessionType: params.sessionType, parameters: params, sendTargets: { which in
                // Many addresses so long SendTargets responses need continuation.
                (0..<40).map { i in (name: "\(target).\(i)\(which.prefix(8))", addresses: ["127.0.0.\(i % 250 + 1):3260,1", "[::1]:3260,1"]) }
            })
        case .fail(let resp, _):
            precondition(resp.statusClass != 0, "failed login with status class 0")
        }
        _ = machine.failureReason
        itt &+= 1
    }
    return 0
}
