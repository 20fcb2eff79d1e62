import ISCSIWire
import Testing
@testable import ISCSINegotiation

/// Full feature phase Text Requests (RFC 7143 §11.10-11.11, §13.3).
@Suite struct TextNegotiatorTests {
    typealias F = Fixture
    static let targets: [(name: String, addresses: [String])] = [
        (name: F.target, addresses: ["192.0.2.10:3260,1"]),
        (name: "iqn.2001-04.com.example:storage.disk2", addresses: ["192.0.2.10:3260,1"]),
    ]

    private func negotiator(_ type: SessionType, xmit: UInt32 = 8192) -> TextNegotiator {
        var p = SessionParameters(sessionType: type, initiatorName: F.initiator,
                                  targetName: type == .normal ? F.target : nil)
        p.maxXmitDataSegmentLength = xmit
        return TextNegotiator(sessionType: type, parameters: p) { which in
            which == "All" ? Self.targets : Self.targets.filter { $0.name == which }
        }
    }

    private func request(itt: UInt32 = 5, ttt: UInt32 = reservedTag, final: Bool = true, c: Bool = false) -> TextRequest {
        TextRequest(final: final, continueFlag: c, initiatorTaskTag: itt, targetTransferTag: ttt, cmdSN: 9, expStatSN: 1)
    }

    private func pairs(_ action: TextAction) -> [String] {
        guard case .respond(_, let data) = action else { return ["<reject>"] }
        return ((try? TextCodec.decode(data, rejectingDuplicates: false)) ?? []).map { "\($0.key)=\($0.value)" }
    }

    /// RFC 7143 §13.3 / Appendix C: in a normal session SendTargets reports only the session's
    /// own target (for an empty value, All, or its name).
    @Test(arguments: ["", "All", F.target])
    func normalSessionSendTargetsReportsOwnTarget(value: String) {
        var n = negotiator(.normal)
        let a = n.receive(request(), data: F.text([("SendTargets", value)]), statSN: 3, expCmdSN: 9, maxCmdSN: 40)
        #expect(pairs(a) == ["TargetName=\(F.target)", "TargetAddress=192.0.2.10:3260,1"])
        guard case .respond(let r, _) = a else { return }
        #expect(r.final && !r.continueFlag && r.targetTransferTag == reservedTag && r.statSN == 3)
        #expect(r.expCmdSN == 9 && r.maxCmdSN == 40 && r.initiatorTaskTag == 5)
    }

    @Test func normalSessionOtherTargetIsEmpty() {
        var n = negotiator(.normal)
        let a = n.receive(request(), data: F.text([("SendTargets", "iqn.2001-04.com.example:storage.disk2")]),
                          statSN: 1, expCmdSN: 9, maxCmdSN: 9)
        #expect(pairs(a).isEmpty)
    }

    @Test func discoveryEmptySendTargetsIsRejected() {
        var n = negotiator(.discovery)
        #expect(pairs(n.receive(request(), data: F.text([("SendTargets", "")]), statSN: 1, expCmdSN: 9, maxCmdSN: 9))
                == ["SendTargets=Reject"])
    }

    /// RFC 7143 §13.12: MaxRecvDataSegmentLength is "Use: ALL" — it may be re-declared in FFP.
    @Test func maxRecvDataSegmentLengthRedeclared() {
        var n = negotiator(.normal)
        let a = n.receive(request(), data: F.text([("MaxRecvDataSegmentLength", "65536")]), statSN: 1, expCmdSN: 9, maxCmdSN: 9)
        #expect(pairs(a).isEmpty && n.parameters.maxXmitDataSegmentLength == 65536)
        let b = n.receive(request(itt: 6), data: F.text([("MaxRecvDataSegmentLength", "100")]), statSN: 2, expCmdSN: 9, maxCmdSN: 9)
        #expect(pairs(b) == ["MaxRecvDataSegmentLength=Reject"] && n.parameters.maxXmitDataSegmentLength == 65536)
    }

    /// Login-only keys cannot be negotiated in full feature phase; unknown keys are NotUnderstood.
    @Test func loginOnlyAndUnknownKeys() {
        var n = negotiator(.normal)
        let a = n.receive(request(), data: F.text([("MaxBurstLength", "4096"), ("AuthMethod", "None"), ("X-foo", "1")]),
                          statSN: 1, expCmdSN: 9, maxCmdSN: 9)
        #expect(pairs(a) == ["MaxBurstLength=Reject", "AuthMethod=Reject", "X-foo=NotUnderstood"])
    }

    /// RFC 7143 §11.10.4: a TTT the target did not hand out → Reject (invalid PDU field).
    @Test func unknownTargetTransferTagIsRejected() {
        var n = negotiator(.discovery)
        #expect(n.receive(request(ttt: 77), data: [], statSN: 1, expCmdSN: 9, maxCmdSN: 9) == .reject(reason: 0x09))
    }

    /// RFC 7143 §11.10.2: C=1 requires F=0.
    @Test func continueWithFinalIsRejected() {
        var n = negotiator(.discovery)
        #expect(n.receive(request(final: true, c: true), data: [], statSN: 1, expCmdSN: 9, maxCmdSN: 9) == .reject(reason: 0x04))
    }

    @Test func malformedTextIsRejected() {
        var n = negotiator(.discovery)
        #expect(n.receive(request(), data: Array("SendTargets=All".utf8), statSN: 1, expCmdSN: 9, maxCmdSN: 9) == .reject(reason: 0x04))
    }

    /// RFC 7143 §11.11: continuation fetches must be empty.
    @Test func nonEmptyContinuationFetchIsRejected() {
        var n = negotiator(.discovery, xmit: 512)
        var many: [(String, String)] = []
        for i in 0..<20 { many.append(("X-unknown-key-number-\(i)", "1")) }
        guard case .respond(let r, let d) = n.receive(request(), data: F.text(many), statSN: 1, expCmdSN: 9, maxCmdSN: 9) else {
            Issue.record("no response"); return
        }
        #expect(!r.final && r.continueFlag && d.count == 512 && r.targetTransferTag != reservedTag)
        #expect(n.receive(request(ttt: r.targetTransferTag), data: F.text([("A", "1")]), statSN: 2, expCmdSN: 9, maxCmdSN: 9)
                == .reject(reason: 0x04))
    }

    /// A new request (TTT 0xffffffff) abandons an unfinished continuation.
    @Test func newRequestResetsContinuation() {
        var n = negotiator(.discovery, xmit: 512)
        var many: [(String, String)] = []
        for i in 0..<20 { many.append(("X-unknown-key-number-\(i)", "1")) }
        guard case .respond(let r, _) = n.receive(request(), data: F.text(many), statSN: 1, expCmdSN: 9, maxCmdSN: 9) else { return }
        let b = n.receive(request(itt: 6), data: F.text([("SendTargets", F.target)]), statSN: 2, expCmdSN: 9, maxCmdSN: 9)
        #expect(pairs(b) == ["TargetName=\(F.target)", "TargetAddress=192.0.2.10:3260,1"])
        #expect(n.receive(request(ttt: r.targetTransferTag), data: [], statSN: 3, expCmdSN: 9, maxCmdSN: 9) == .reject(reason: 0x09))
    }

    /// RFC 7143 §11.10.2: initiator text split with C=1 is accumulated; each part gets an empty
    /// response with a TTT the initiator echoes.
    @Test func initiatorTextContinuation() {
        var n = negotiator(.discovery)
        let whole = F.text([("SendTargets", "All")])
        guard case .respond(let r, let d) = n.receive(request(final: false, c: true), data: Array(whole[..<5]),
                                                      statSN: 1, expCmdSN: 9, maxCmdSN: 9) else { Issue.record("no response"); return }
        #expect(d.isEmpty && !r.final && r.targetTransferTag != reservedTag)
        let b = n.receive(request(ttt: r.targetTransferTag), data: Array(whole[5...]), statSN: 2, expCmdSN: 9, maxCmdSN: 9)
        #expect(pairs(b).count == 4)
    }

    /// F=0 from the initiator keeps the exchange open: the response has F=0 and a TTT.
    @Test func nonFinalRequestKeepsExchangeOpen() {
        var n = negotiator(.normal)
        guard case .respond(let r, _) = n.receive(request(final: false), data: F.text([("X-a", "1")]),
                                                  statSN: 1, expCmdSN: 9, maxCmdSN: 9) else { return }
        #expect(!r.final && !r.continueFlag && r.targetTransferTag != reservedTag)
        guard case .respond(let s, let d) = n.receive(request(ttt: r.targetTransferTag), data: F.text([("SendTargets", "")]),
                                                      statSN: 2, expCmdSN: 9, maxCmdSN: 9) else { return }
        #expect(s.final && s.targetTransferTag == reservedTag && !d.isEmpty)
    }

    /// Random text requests never trap.
    @Test func randomTextRobustness() {
        var rng = SplitMix64(seed: 7)
        var n = negotiator(.discovery, xmit: 512)
        let bodies: [[UInt8]] = [[], F.text([("SendTargets", "All")]), F.text([("X", "1")]), Array("A=1".utf8), [0, 0]]
        for _ in 0..<2000 {
            let ttt: UInt32 = rng.next() % 3 == 0 ? reservedTag : UInt32(rng.next() % 4)
            let r = request(itt: UInt32(rng.next() % 3), ttt: ttt, final: rng.next() % 2 == 0, c: rng.next() % 4 == 0)
            _ = n.receive(r, data: bodies[Int(rng.next() % UInt64(bodies.count))], statSN: 1, expCmdSN: 1, maxCmdSN: 1)
        }
    }
}
