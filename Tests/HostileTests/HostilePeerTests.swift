import Glibc
import ISCSITarget
import ISCSIWire
import Testing

/// Hostile peers on raw sockets against the in-process server. In every case the offender gets the RFC's
/// answer (Reject, a login failure, or the connection closed), the server stays up, and a well-behaved
/// initiator with a session opened before the attack keeps doing I/O (`Bystander.check`).
///
/// Runtime behaviour that departs from the RFC is recorded with `withKnownIssue` (the test passes, the
/// issue is listed) and described in docs/hardening.md.
@Suite(.serialized) struct HostilePeerTests {
    // MARK: Before and during login

    @Test func garbageBeforeLogin() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        for garbage in [[UInt8](repeating: 0xff, count: 48), Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [UInt8](repeating: 0x20, count: 48),
                        [UInt8](repeating: 0, count: 4096)] {
            let bad = try Peer(port: f.port)
            try bad.sendRaw(garbage)
            let outcome = try bad.outcome()
            // RFC 7143 §6.3: only a Login Request may start a connection; a zero BHS is a NOP-Out, not a login.
            #expect(outcome == .closed || outcome == .loginFailure(statusClass: 2, detail: 0x0b), "\(outcome)")
        }
        try by.check()
    }

    @Test func loginWithTransitAndContinueBothSet() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let bad = try Peer(port: f.port)
        // RFC 7143 §11.12.2: T and C both set is a protocol error → status 0x0200 (initiator error), then close.
        try bad.send(.login(bad.loginRequest(transit: true, continueFlag: true, csg: 0, nsg: 1)), data: Peer.keys(Peer.securityKeys))
        #expect(try bad.outcome() == .loginFailure(statusClass: 2, detail: 0))
        try by.check()
    }

    @Test func loginStagesOutOfOrder() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        // (CSG, NSG, T) that RFC 7143 §11.12.3 / §6.3 forbid as a first request: backwards, reserved stage 2,
        // full feature phase as the current stage, NSG not beyond CSG.
        for (csg, nsg) in [(1, 0), (2, 3), (3, 3), (0, 0), (1, 1), (0, 2)] as [(UInt8, UInt8)] {
            let bad = try Peer(port: f.port)
            try bad.send(.login(bad.loginRequest(csg: csg, nsg: nsg)), data: Peer.keys(Peer.securityKeys))
            let outcome = try bad.outcome()
            #expect(outcome == .loginFailure(statusClass: 2, detail: 0), "CSG \(csg) NSG \(nsg): \(outcome)")
        }
        // Security stage done, then the initiator goes back to CSG 0 after being moved to operational.
        let back = try Peer(port: f.port)
        try back.send(.login(back.loginRequest(csg: 0, nsg: 1)), data: Peer.keys(Peer.securityKeys))
        guard case .loginResponse(let r1) = try back.expectPDU().0 else { Issue.record("no login response"); return }
        #expect(r1.statusClass == 0)
        back.expStatSN = r1.statSN &+ 1
        try back.send(.login(back.loginRequest(csg: 0, nsg: 1)), data: [])
        #expect(try back.outcome() == .loginFailure(statusClass: 2, detail: 0))
        try by.check()
    }

    @Test func thousandsOfKeysAndOversizedValues() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        // 9000 distinct unknown keys (~110 KB) over continuation PDUs: over the 64 KiB accumulation bound.
        let many = Peer.keys(Peer.securityKeys + (0..<9000).map { ("X-org.example.k\($0)", "v") })
        let flood = try Peer(port: f.port)
        var offset = 0
        var outcome: Peer.Outcome?
        while offset < many.count {
            let chunk = Array(many[offset..<min(many.count, offset + 8192)])
            offset += chunk.count
            let last = offset >= many.count
            guard try flood.send(.login(flood.loginRequest(transit: last, continueFlag: !last, csg: 0, nsg: 1)), data: chunk) else {
                outcome = .closed; break
            }
            if !last {
                // RFC 7143 §11.12.2: each C=1 request is answered by an empty Login Response.
                guard let (pdu, _) = try flood.receive() else { outcome = .closed; break }
                if case .loginResponse(let r) = pdu, r.statusClass != 0 {
                    outcome = .loginFailure(statusClass: r.statusClass, detail: r.statusDetail)
                    break
                }
            }
        }
        if outcome == nil { outcome = try flood.outcome() }
        #expect(outcome == .loginFailure(statusClass: 2, detail: 0) || outcome == .loginFailure(statusClass: 3, detail: 2)
                || outcome == .closed, "\(String(describing: outcome))")

        // A value over 255 bytes (RFC 7143 §6.1) and a key name over 63 bytes.
        for pair in [("InitiatorAlias", String(repeating: "a", count: 300)), (String(repeating: "K", count: 64), "1"),
                     ("X-org.example.big", String(repeating: "b", count: 8000))] {
            let bad = try Peer(port: f.port)
            try bad.send(.login(bad.loginRequest(csg: 0, nsg: 1)), data: Peer.keys(Peer.securityKeys + [pair]))
            let o = try bad.outcome()
            #expect(o == .loginFailure(statusClass: 2, detail: 0), "\(pair.0.prefix(20)): \(o)")
        }
        // A login data segment over the 8192 bytes allowed during login (RFC 7143 §13.12).
        let big = try Peer(port: f.port)
        try big.send(.login(big.loginRequest(csg: 0, nsg: 1)), data: Peer.keys(Peer.securityKeys) + [UInt8](repeating: 0, count: 9000))
        let o = try big.outcome()
        #expect(o == .closed || o == .loginFailure(statusClass: 2, detail: 0), "\(o)")
        try by.check()
    }

    @Test func scsiCommandBeforeLogin() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let bad = try Peer(port: f.port)
        let tag = try bad.sendCommand(cdb: cdb10(0x28, lba: 0, blocks: 8), readLength: 4096)
        _ = tag
        // RFC 7143 §6.3: before login completes only Login Requests; anything else ends the login.
        let outcome = try bad.outcome()
        #expect(outcome == .closed || outcome == .loginFailure(statusClass: 2, detail: 0x0b), "\(outcome)")
        // Logout and Text before login too.
        for pdu: InitiatorPDU in [.logout(LogoutRequest(reasonCode: 0, initiatorTaskTag: 5, cmdSN: 1, expStatSN: 0)),
                                  .text(TextRequest(initiatorTaskTag: 6, cmdSN: 1, expStatSN: 0))] {
            let p = try Peer(port: f.port)
            try p.send(pdu, data: pdu.opcode == .textRequest ? Peer.keys([("SendTargets", "All")]) : [])
            let o = try p.outcome()
            #expect(o == .closed || o == .loginFailure(statusClass: 2, detail: 0x0b), "\(o)")
        }
        try by.check()
    }

    // MARK: Full feature phase

    @Test func reservedOpcodesAndBits() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        try p.login()
        // RFC 7143 §11.17.1: an unsupported opcode → Reject, reason 0x05 (command not supported); the
        // connection stays. 0x1c is a reserved initiator opcode; 0x21 is a target opcode.
        for opcode: UInt8 in [0x1c, 0x21, 0x3f] {
            var bhs = [UInt8](repeating: 0, count: 48)
            bhs[0] = opcode
            bhs[1] = 0x80
            try p.sendRaw(bhs)
            #expect(try p.outcome() == .reject(reason: 0x05), "opcode 0x\(String(opcode, radix: 16))")
        }
        // A reserved opcode with a data segment: the data is skipped, the stream stays in sync.
        var withData = [UInt8](repeating: 0, count: 48)
        withData[0] = 0x1d
        withData[7] = 5
        try p.sendRaw(withData + [1, 2, 3, 4, 5, 0, 0, 0])
        #expect(try p.outcome() == .reject(reason: 0x05))
        // RFC 7143 §11: receivers MUST ignore reserved fields. A TUR with every reserved BHS byte set.
        let tur = SCSICommandPDU(read: false, write: false, lun: 0, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 0,
                                 cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: [UInt8](repeating: 0, count: 16))
        p.cmdSN &+= 1
        var bhs = InitiatorPDU.scsiCommand(tur).encodeBHS(dataSegmentLength: 0)
        bhs[2] = 0xff; bhs[3] = 0xff
        try p.sendRaw(bhs)
        let (answer, _) = try p.expectPDU()
        if case .scsiResponse(let r) = answer { #expect(r.status == 0) } else { Issue.record("TUR with reserved bits: \(answer)") }
        // SNACK at ERL 0 → Reject 0x05; a Login Request in full feature phase → Reject 0x04 (RFC 7143 §6.3).
        try p.send(.snack(SNACKRequest(type: 0, lun: 0, initiatorTaskTag: 1, targetTransferTag: reservedTag, expStatSN: p.expStatSN, begRun: 0, runLength: 0)))
        #expect(try p.outcome() == .reject(reason: 0x05))
        try p.send(.login(p.loginRequest(csg: 1, nsg: 3)), data: [])
        #expect(try p.outcome() == .reject(reason: 0x04))
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        try by.check()
    }

    @Test func dataSegmentLengthBeyondTheLimit() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        // After login: one byte over the MaxRecvDataSegmentLength the target declared, then 16 MiB − 1.
        for length in [262_145, 0xff_ffff] {
            let p = try Peer(port: f.port)
            try p.login()
            var bhs = InitiatorPDU.nopOut(NOPOut(initiatorTaskTag: p.nextITT(), cmdSN: p.cmdSN, expStatSN: p.expStatSN))
                .encodeBHS(dataSegmentLength: 0)
            bhs[5] = UInt8(length >> 16); bhs[6] = UInt8((length >> 8) & 0xff); bhs[7] = UInt8(length & 0xff)
            // Only the header: RFC 7143 §13.12 — the target must refuse on the header, not wait for 16 MiB.
            try p.sendRaw(bhs)
            #expect(try p.outcome() == .closed, "DataSegmentLength \(length)")
        }
        // During login: over 8192.
        let l = try Peer(port: f.port)
        var bhs = InitiatorPDU.login(l.loginRequest(csg: 0, nsg: 1)).encodeBHS(dataSegmentLength: 0)
        bhs[5] = 0xff; bhs[6] = 0xff; bhs[7] = 0xff
        try l.sendRaw(bhs)
        let o = try l.outcome()
        #expect(o == .closed || o == .loginFailure(statusClass: 2, detail: 0), "\(o)")
        try by.check()
    }

    @Test func bogusAHSLengths() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        try p.login()
        // TotalAHSLength 255 words whose segment claims more than is there; then a segment of length 0
        // with an unknown type; then TotalAHSLength on a NOP-Out (only SCSI Commands carry AHS).
        let cases: [(UInt8, [UInt8])] = [
            (0x01, [0x0f, 0xff, 0x01, 0x00] + [UInt8](repeating: 0xaa, count: 1016)),
            (0x01, [0x00, 0x00, 0x7f, 0x00]),
            (0x00, [0x00, 0x01, 0x01, 0x00]),
        ]
        for (opcode, ahs) in cases {
            let q = try Peer(port: f.port)
            try q.login()
            var bhs = [UInt8](repeating: 0, count: 48)
            bhs[0] = opcode | 0x40
            bhs[1] = 0x80
            bhs[4] = UInt8(ahs.count / 4)
            bhs[16] = 0; bhs[17] = 0; bhs[18] = 0x10; bhs[19] = 0x01
            bhs[20] = 0xff; bhs[21] = 0xff; bhs[22] = 0xff; bhs[23] = 0xff   // TTT reserved: an initiator ping
            bhs[24] = UInt8(q.cmdSN >> 24); bhs[25] = UInt8((q.cmdSN >> 16) & 0xff); bhs[26] = UInt8((q.cmdSN >> 8) & 0xff); bhs[27] = UInt8(q.cmdSN & 0xff)
            try q.sendRaw(bhs + ahs)
            if opcode == 0x00 {
                // A well-formed AHS on a NOP-Out: ignoring it (answering the ping) is as acceptable as refusing it.
                guard let (pdu, _) = try q.receive() else { continue }
                switch pdu {
                case .nopIn, .reject: continue
                default: Issue.record("NOP-Out with AHS answered by \(pdu)")
                }
                continue
            }
            let o = try q.outcome()
            // RFC 7143 §11.2.2: a malformed AHS is a format error: Reject (0x04/0x09) or close.
            #expect(o == .closed || o == .reject(reason: 0x04) || o == .reject(reason: 0x09), "AHS \(ahs.prefix(4)): \(o)")
        }
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        try by.check()
    }

    @Test func dataOutForUnknownTagsAndPastTheEnd() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        try p.login(operational: [("InitialR2T", "No"), ("ImmediateData", "No")])
        // RFC 7143 §11.7: Data-Out for a TTT/ITT the target does not know is discarded; the connection goes on.
        try p.send(.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: 0xdead, targetTransferTag: 0x1234_5678,
                                    expStatSN: p.expStatSN, dataSN: 0, bufferOffset: 0)), data: [UInt8](repeating: 1, count: 512))
        try p.send(.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: 0xbeef, targetTransferTag: reservedTag,
                                    expStatSN: p.expStatSN, dataSN: 0, bufferOffset: 0)), data: [UInt8](repeating: 1, count: 512))
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        // WRITE of one block; unsolicited Data-Out at offset 512 (past EDTL 512) → Reject 0x09 (RFC 7143 §11.7.6).
        let write = SCSICommandPDU(final: false, read: false, write: true, lun: 0, initiatorTaskTag: p.nextITT(),
                                   expectedDataTransferLength: 512, cmdSN: p.cmdSN, expStatSN: p.expStatSN,
                                   cdb: cdb10(0x2a, lba: 100, blocks: 1) + [0, 0, 0, 0, 0, 0])
        p.cmdSN &+= 1
        try p.send(.scsiCommand(write))
        try p.send(.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: write.initiatorTaskTag, targetTransferTag: reservedTag,
                                    expStatSN: p.expStatSN, dataSN: 0, bufferOffset: 512)), data: [UInt8](repeating: 2, count: 512))
        var sawReject = false
        var answers = 0
        while answers < 3 {
            let (pdu, _) = try p.expectPDU()
            answers += 1
            if case .reject(let r) = pdu { #expect(r.reason == 0x09); sawReject = true; break }
        }
        #expect(sawReject)
        // The offending task can still be completed properly.
        try p.send(.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: write.initiatorTaskTag, targetTransferTag: reservedTag,
                                    expStatSN: p.expStatSN, dataSN: 0, bufferOffset: 0)), data: [UInt8](repeating: 2, count: 512))
        var completed = false
        for _ in 0..<4 {
            let (pdu, _) = try p.expectPDU()
            if case .scsiResponse(let r) = pdu, r.initiatorTaskTag == write.initiatorTaskTag { completed = true; p.expStatSN = r.statSN &+ 1; break }
            if case .scsiResponse(let r) = pdu { p.expStatSN = r.statSN &+ 1 }
        }
        #expect(completed, "write completed after the rejected Data-Out")
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        try by.check()
    }

    @Test func immediateDataBeyondFirstBurstLength() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        let (_, keys) = try p.login(operational: [("FirstBurstLength", "4096"), ("InitialR2T", "No"), ("ImmediateData", "Yes")])
        #expect(keys["FirstBurstLength"] == "4096")
        // 16 KiB of immediate data in one PDU, F=1, with FirstBurstLength 4096 (RFC 7143 §13.14: the
        // initiator MUST NOT send more unsolicited data than that).
        let data = pattern(16384, seed: 99)
        let cmd = SCSICommandPDU(final: true, read: false, write: true, lun: 0, initiatorTaskTag: p.nextITT(),
                                 expectedDataTransferLength: UInt32(data.count), cmdSN: p.cmdSN, expStatSN: p.expStatSN,
                                 cdb: cdb10(0x2a, lba: 200, blocks: 32) + [0, 0, 0, 0, 0, 0])
        p.cmdSN &+= 1
        try p.send(.scsiCommand(cmd), data: data)
        let (pdu, _) = try p.expectPDU()
        var outcome = "\(pdu)"
        switch pdu {
        case .reject(let r): outcome = "reject \(r.reason)"
        case .scsiResponse(let r):
            p.expStatSN = r.statSN &+ 1
            outcome = "status \(r.status)"
        case .r2t: outcome = "R2T"
        default: break
        }
        // RFC 7143 §13.14: more unsolicited data than FirstBurstLength → Reject or CHECK CONDITION.
        #expect(outcome.hasPrefix("reject") || outcome == "status 2", "\(outcome)")
        if outcome == "R2T" { return }   // would need the rest of the protocol; not what this test is about
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        try by.check()
    }

    @Test func cmdSNFarOutsideTheWindow() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        try p.login()
        // RFC 7143 §4.2.2.1: commands outside [ExpCmdSN, MaxCmdSN] are silently ignored.
        for sn in [p.cmdSN &+ 0x4000_0000, p.cmdSN &+ 0x8000_0000, p.cmdSN &- 1, p.cmdSN &- 0x1000, p.cmdSN &+ 100_000] {
            _ = try p.sendCommand(cdb: cdb10(0x28, lba: 0, blocks: 1), readLength: 512, cmdSNOverride: sn)
        }
        // The next in-window command is the only one answered.
        let ok = try p.scsi(cdb: [0, 0, 0, 0, 0, 0])
        #expect(ok.status == 0)
        #expect(ok.response?.initiatorTaskTag == p.itt)
        // Immediate commands bypass the window but still get answers.
        try by.check()
    }

    @Test func hugeExpectedDataTransferLength() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        try p.login()
        // EDTL 4 GiB − 1 for an 8-block READ: the target must size buffers from the CDB and report the residual.
        let cmd = SCSICommandPDU(read: true, write: false, lun: 0, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 0xffff_ffff,
                                 cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: cdb10(0x28, lba: 0, blocks: 8) + [0, 0, 0, 0, 0, 0])
        p.cmdSN &+= 1
        try p.send(.scsiCommand(cmd))
        let r = try p.collect(tag: cmd.initiatorTaskTag, readLength: 4096)
        #expect(r.status == 0)
        // A WRITE claiming the maximum transfer with no data, then the peer vanishes: buffers are released.
        let w = SCSICommandPDU(final: true, read: false, write: true, lun: 0, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 8 << 20,
                               cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: cdb10(0x2a, lba: 0, blocks: 16384) + [0, 0, 0, 0, 0, 0])
        p.cmdSN &+= 1
        try p.send(.scsiCommand(w))
        _ = try p.expectPDU()   // the R2T
        p.abort()
        try by.check()
        #expect(f.waitForConnectionCount(1) == 1)
    }

    @Test func hundredsOfConnectionsThatNeverFinishLogin() throws {
        var settings = ServerSettings()
        settings.maxConnectionsInLogin = 256
        let f = try HostileFixture(settings: settings)
        let by = try Bystander(f)
        // 500 client sockets + 500 server sockets in this process: make sure the descriptor limit allows it.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 1500 {
            limit.rlim_cur = min(limit.rlim_max, 4096)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let count = limit.rlim_cur >= 1500 ? 500 : max(0, Int(limit.rlim_cur) / 2 - 100)
        if count < 500 { print("NOTE hundredsOfConnections: descriptor limit \(limit.rlim_cur), using \(count) connections") }
        var idle: [Peer] = []
        for i in 0..<count {
            let p = try Peer(port: f.port, timeoutSeconds: 2)
            // Some send nothing, some half a BHS, some a full first login PDU and then stall.
            switch i % 3 {
            case 0: break
            case 1: try p.sendRaw([UInt8](repeating: 0x43, count: 20))
            default: try p.send(.login(p.loginRequest(transit: false, csg: 0, nsg: 0)), data: Peer.keys(Array(Peer.securityKeys.prefix(2))))
            }
            idle.append(p)
        }
        // The established session is unaffected.
        let data = pattern(4096, seed: 5)
        #expect(try by.peer.scsi(cdb: cdb10(0x2a, lba: 31000, blocks: 8), writeData: data).status == 0)
        let back = try by.peer.scsi(cdb: cdb10(0x28, lba: 31000, blocks: 8), readLength: 4096).data == data
        #expect(back)
        let held = f.server.connectionCount
        #expect(held <= 1 + settings.maxConnectionsInLogin, "\(held) connections held; login slots bounded")
        // While every login slot is taken a new initiator cannot log in (until login timeouts free them): the
        // documented cost of bounding half-open logins (ServerSettings.maxConnectionsInLogin).
        let newcomer = try Peer(port: f.port, timeoutSeconds: 2)
        let refused = (try? newcomer.login()) == nil
        print("NOTE hundredsOfConnections: \(held) connections held, new login while slots are full: \(refused ? "refused" : "accepted")")
        idle.removeAll()
        #expect(f.waitForConnectionCount(1) == 1, "half-open connections released")
        try by.check()
    }

    @Test func headerTrickledOneByteAtATime() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        let req = p.loginRequest(csg: 0, nsg: 1)
        let data = Peer.keys(Peer.securityKeys)
        let bytes = PDUEncoder.frame(bhs: InitiatorPDU.login(req).encodeBHS(dataSegmentLength: data.count), data: data,
                                     headerDigest: false, dataDigest: false)
        for b in bytes { try p.sendRaw([b]) }
        guard case .loginResponse(let r1) = try p.expectPDU().0 else { Issue.record("no login response"); return }
        #expect(r1.statusClass == 0)
        p.expStatSN = r1.statSN &+ 1
        let op = Peer.keys(Peer.operationalKeys)
        let bytes2 = PDUEncoder.frame(bhs: InitiatorPDU.login(p.loginRequest(csg: 1, nsg: 3)).encodeBHS(dataSegmentLength: op.count),
                                      data: op, headerDigest: false, dataDigest: false)
        for b in bytes2 { try p.sendRaw([b]) }
        guard case .loginResponse(let r2) = try p.expectPDU().0 else { Issue.record("no login response"); return }
        #expect(r2.statusClass == 0)
        p.expStatSN = r2.statSN &+ 1
        // A SCSI command trickled too.
        let tur = SCSICommandPDU(read: false, write: false, lun: 0, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 0,
                                 cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: [UInt8](repeating: 0, count: 16))
        p.cmdSN &+= 1
        for b in InitiatorPDU.scsiCommand(tur).encodeBHS(dataSegmentLength: 0) { try p.sendRaw([b]) }
        if case .scsiResponse(let r) = try p.expectPDU().0 { #expect(r.status == 0) } else { Issue.record("no TUR response") }
        try by.check()
    }

    @Test func disconnectWithCommandsInFlight() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        for round in 0..<20 {
            let p = try Peer(port: f.port)
            try p.login()
            // A burst of reads and writes, then an abortive close before reading any answer.
            for k in 0..<16 {
                if k % 2 == 0 {
                    _ = try p.sendCommand(cdb: cdb10(0x28, lba: UInt32(k * 256), blocks: 256), readLength: 131_072)
                } else {
                    _ = try p.sendCommand(cdb: cdb10(0x2a, lba: UInt32(k * 256), blocks: 64), writeData: pattern(32768, seed: UInt32(round)))
                }
            }
            p.abort()
        }
        #expect(f.waitForConnectionCount(1) == 1, "connections released")
        try by.check()
    }
}

/// Digest errors (RFC 7143 §7.8 at ERL 0): a bad header digest closes the connection; a bad data digest is
/// answered with Reject 0x02 and the command is not executed.
@Suite(.serialized) struct DigestErrorTests {
    func loginWithDigests(_ f: HostileFixture) throws -> Peer {
        let p = try Peer(port: f.port)
        let (_, keys) = try p.login(operational: [("HeaderDigest", "CRC32C"), ("DataDigest", "CRC32C")])
        #expect(keys["HeaderDigest"] == "CRC32C" && keys["DataDigest"] == "CRC32C")
        p.digests = true
        return p
    }

    @Test func badHeaderDigestClosesTheConnection() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try loginWithDigests(f)
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        let tur = SCSICommandPDU(read: false, write: false, lun: 0, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 0,
                                 cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: [UInt8](repeating: 0, count: 16))
        var bytes = PDUEncoder.frame(bhs: InitiatorPDU.scsiCommand(tur).encodeBHS(dataSegmentLength: 0), data: [],
                                     headerDigest: true, dataDigest: true)
        bytes[49] ^= 0x55
        try p.sendRaw(bytes)
        #expect(try p.outcome() == .closed)
        try by.check()
    }

    @Test func badDataDigestIsRejectedAndNotExecuted() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try loginWithDigests(f)
        let lba: UInt32 = 500
        let before = try p.scsi(cdb: cdb10(0x28, lba: lba, blocks: 8), readLength: 4096)
        let data = pattern(4096, seed: 77)
        let cmd = SCSICommandPDU(final: true, read: false, write: true, lun: 0, initiatorTaskTag: p.nextITT(),
                                 expectedDataTransferLength: 4096, cmdSN: p.cmdSN, expStatSN: p.expStatSN,
                                 cdb: cdb10(0x2a, lba: lba, blocks: 8) + [0, 0, 0, 0, 0, 0])
        p.cmdSN &+= 1
        var bytes = PDUEncoder.frame(bhs: InitiatorPDU.scsiCommand(cmd).encodeBHS(dataSegmentLength: data.count), data: data,
                                     headerDigest: true, dataDigest: true)
        bytes[bytes.count - 1] ^= 0xff
        try p.sendRaw(bytes)
        #expect(try p.outcome() == .reject(reason: 0x02))
        // The connection stays; the write did not happen (read on an immediate command: outside the CmdSN window).
        let read = SCSICommandPDU(immediate: true, read: true, write: false, lun: 0, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 4096,
                                  cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: cdb10(0x28, lba: lba, blocks: 8) + [0, 0, 0, 0, 0, 0])
        try p.send(.scsiCommand(read))
        let after = try p.collect(tag: read.initiatorTaskTag, readLength: 4096)
        #expect(after.status == 0)
        let unchanged = after.data == before.data
        #expect(unchanged, "a write with a bad data digest must not reach the medium")
        // RFC 7143 §7.2: the rejected command's CmdSN is not considered received; the initiator plugs the gap by
        // sending the command again with the same CmdSN.
        let retry = SCSICommandPDU(final: true, read: false, write: true, lun: 0, initiatorTaskTag: p.nextITT(),
                                   expectedDataTransferLength: 4096, cmdSN: cmd.cmdSN, expStatSN: p.expStatSN,
                                   cdb: cdb10(0x2a, lba: lba, blocks: 8) + [0, 0, 0, 0, 0, 0])
        try p.send(.scsiCommand(retry), data: data)
        let sawAnswer = try withTimeoutAnswer(p, tag: retry.initiatorTaskTag)
        #expect(sawAnswer, "the resent command (same CmdSN) must be executed")
        if !sawAnswer { return }
        p.cmdSN = cmd.cmdSN &+ 1
        try by.check()
    }
}

/// Waits (bounded by a 2 s receive timeout on a cloned descriptor setting) for the answer to `tag`.
func withTimeoutAnswer(_ p: Peer, tag: UInt32) throws -> Bool {
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    defer {
        var back = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &back, socklen_t(MemoryLayout<timeval>.size))
    }
    guard let r = try? p.collect(tag: tag) else { return false }
    return r.status == 0
}

/// Odd but well-framed full feature phase traffic.
@Suite(.serialized) struct OddCommandTests {
    @Test func tagReuseBidiAndStrangeLUNs() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let p = try Peer(port: f.port)
        try p.login(operational: [("InitialR2T", "Yes")])
        // A WRITE waiting for R2T data, then a second command with the same ITT: Reject 0x07 (task in progress).
        let w = SCSICommandPDU(final: true, read: false, write: true, lun: 0, initiatorTaskTag: 0x7777, expectedDataTransferLength: 4096,
                               cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: cdb10(0x2a, lba: 300, blocks: 8) + [0, 0, 0, 0, 0, 0])
        p.cmdSN &+= 1
        try p.send(.scsiCommand(w))
        guard case .r2t(let r2t) = try p.expectPDU().0 else { Issue.record("expected R2T"); return }
        let dup = SCSICommandPDU(read: false, write: false, lun: 0, initiatorTaskTag: 0x7777, expectedDataTransferLength: 0,
                                 cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: [UInt8](repeating: 0, count: 16))
        p.cmdSN &+= 1
        try p.send(.scsiCommand(dup))
        #expect(try p.outcome() == .reject(reason: 0x07))
        // RFC 7143 §7.2: a rejected command's CmdSN is not considered received; the initiator plugs the gap.
        p.cmdSN &-= 1
        // Finish the write properly.
        try p.send(.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: 0x7777, targetTransferTag: r2t.targetTransferTag,
                                    expStatSN: p.expStatSN, dataSN: 0, bufferOffset: 0)), data: pattern(4096, seed: 3))
        let (done, _) = try p.expectPDU()
        if case .scsiResponse(let r) = done { #expect(r.status == 0); p.expStatSN = r.statSN &+ 1 } else { Issue.record("\(done)") }
        // R and W both set on a READ(10) with a bidirectional read length AHS: refused with sense or a Reject, never a hang.
        let bidi = SCSICommandPDU(final: true, read: true, write: true, lun: 0, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 4096,
                                  cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: cdb10(0x28, lba: 0, blocks: 8) + [0, 0, 0, 0, 0, 0],
                                  bidirectionalReadLength: 4096)
        p.cmdSN &+= 1
        try p.send(.scsiCommand(bidi), ahs: InitiatorPDU.scsiCommand(bidi).encodedAHS())
        var answered = false
        for _ in 0..<4 {
            let (pdu, _) = try p.expectPDU()
            switch pdu {
            case .scsiResponse(let r): p.expStatSN = r.statSN &+ 1; answered = true
            case .dataIn(let d) where d.statusPresent: p.expStatSN = d.statSN &+ 1; answered = true
            case .reject: answered = true
            case .r2t(let r):
                // Accepted as a write: send the data so the task can end.
                try p.send(.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: r.initiatorTaskTag, targetTransferTag: r.targetTransferTag,
                                            expStatSN: p.expStatSN, dataSN: 0, bufferOffset: r.bufferOffset)),
                           data: [UInt8](repeating: 0, count: Int(r.desiredDataTransferLength)))
            default: break
            }
            if answered { break }
        }
        #expect(answered)
        // LUN fields the target does not map: extended/high-level addressing, a LUN past 16383, all ones.
        for raw: UInt64 in [0xc000_0000_0000_0000, 0x4fff_0000_0000_0000, 0xffff_ffff_ffff_ffff, 0x0000_0000_0000_0001] {
            let tur = SCSICommandPDU(read: true, write: false, lun: raw, initiatorTaskTag: p.nextITT(), expectedDataTransferLength: 36,
                                     cmdSN: p.cmdSN, expStatSN: p.expStatSN, cdb: [0x12, 0, 0, 0, 36, 0] + [UInt8](repeating: 0, count: 10))
            p.cmdSN &+= 1
            try p.send(.scsiCommand(tur))
            let r = try p.collect(tag: tur.initiatorTaskTag, readLength: 36)
            // SPC-4 §6.4.2: INQUIRY to a LUN with no unit: GOOD with peripheral qualifier 3.
            #expect(r.status == 0 && r.data.first.map { $0 >> 5 } == 3, "LUN 0x\(String(raw, radix: 16)): status \(r.status)")
        }
        // A Text Request continuation flood in full feature phase: bounded (64 KiB), then a Reject or close.
        var outcome: Peer.Outcome?
        let chunk = Peer.keys((0..<600).map { ("X-org.example.t\($0)", "v") })
        var ttt = reservedTag
        for _ in 0..<10 {
            let t = TextRequest(final: false, continueFlag: true, initiatorTaskTag: 0x9999, targetTransferTag: ttt,
                                cmdSN: p.cmdSN, expStatSN: p.expStatSN)
            p.cmdSN &+= 1
            guard try p.send(.text(t), data: Array(chunk.prefix(8192))) else { outcome = .closed; break }
            let (pdu, _) = try p.expectPDU()
            if case .reject(let r) = pdu {
                outcome = .reject(reason: r.reason)
                p.cmdSN &-= 1   // RFC 7143 §7.2: the rejected request's CmdSN is not consumed
                break
            }
            if case .textResponse(let r) = pdu { p.expStatSN = r.statSN &+ 1; ttt = r.targetTransferTag; continue }
            outcome = .other("\(pdu)"); break
        }
        #expect(outcome != nil, "10 × 8 KiB of continued text accepted without a bound")
        try by.check()
    }
}
