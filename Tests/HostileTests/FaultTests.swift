import BlockStore
import Glibc
import ISCSITarget
import ISCSIWire
import Testing

/// Backing-store faults through `FaultInjector` (Sources/BlockStore/FaultInjection.swift): each becomes
/// the SBC-3 sense for it, and the connection (and other sessions) carry on.
@Suite(.serialized) struct FaultTests {
    static let lba: UInt32 = 64

    func attached(_ f: HostileFixture, _ rules: [FaultRule]) throws -> (FaultInjector, BackingDevice) {
        guard let device = f.device() else { throw Peer.Failure(description: "no LUN 0 device") }
        let injector = FaultInjector(rules: rules)
        FaultInjection.attach(injector, to: device)
        return (injector, device)
    }

    /// The fault covers only LBA 64..<72 of LUN 0; the bystander works elsewhere.
    var faultRange: Range<UInt64> { UInt64(FaultTests.lba) * 512..<UInt64(FaultTests.lba + 8) * 512 }

    @Test func readEIOIsUnrecoveredReadError() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try attached(f, [.readError(faultRange)])
        defer { FaultInjection.detach(from: device) }
        let p = try Peer(port: f.port)
        try p.login()
        let r = try p.scsi(cdb: cdb10(0x28, lba: FaultTests.lba, blocks: 8), readLength: 4096)
        // SBC-3 §4.15 / SPC-4 Annex D: MEDIUM ERROR, 11/00 UNRECOVERED READ ERROR.
        #expect(r.status == 2)
        #expect(r.senseTriple?.key == 0x03 && r.senseTriple?.asc == 0x11 && r.senseTriple?.ascq == 0x00, "\(r.sense)")
        #expect(injector.statistics.injected == 1)
        // The connection is kept: the next command (outside the range) works.
        #expect(try p.scsi(cdb: cdb10(0x28, lba: 0, blocks: 8), readLength: 4096).status == 0)
        try by.check()
        #expect(injector.statistics.inFlight == 0)
    }

    @Test func writeEIOIsWriteError() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try attached(f, [.writeError(faultRange)])
        defer { FaultInjection.detach(from: device) }
        let p = try Peer(port: f.port)
        try p.login()
        let w = try p.scsi(cdb: cdb10(0x2a, lba: FaultTests.lba, blocks: 8), writeData: pattern(4096, seed: 1))
        // MEDIUM ERROR, 0C/00 WRITE ERROR.
        #expect(w.status == 2)
        #expect(w.senseTriple?.key == 0x03 && w.senseTriple?.asc == 0x0c && w.senseTriple?.ascq == 0x00, "\(w.sense)")
        #expect(injector.statistics.injected == 1)
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        try by.check()
    }

    @Test func enospcIsSpaceAllocationFailed() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try attached(f, [.writeError(faultRange, errno: ENOSPC)])
        defer { FaultInjection.detach(from: device) }
        let p = try Peer(port: f.port)
        try p.login()
        let w = try p.scsi(cdb: cdb10(0x2a, lba: FaultTests.lba, blocks: 8), writeData: pattern(4096, seed: 2))
        // SBC-3 §4.7.3.7: DATA PROTECT, 27/07 SPACE ALLOCATION FAILED WRITE PROTECT.
        #expect(w.status == 2)
        #expect(w.senseTriple?.key == 0x07 && w.senseTriple?.asc == 0x27 && w.senseTriple?.ascq == 0x07, "\(w.sense)")
        #expect(injector.statistics.injected == 1)
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        try by.check()
    }

    @Test func shortReadIsAnError() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try attached(f, [FaultRule(operations: [.read], byteRange: faultRange, effect: .shortTransfer)])
        let p = try Peer(port: f.port)
        try p.login()
        let r = try p.scsi(cdb: cdb10(0x28, lba: FaultTests.lba, blocks: 8), readLength: 4096)
        #expect(r.status == 2)
        #expect(r.senseTriple?.key == 0x03 && r.senseTriple?.asc == 0x11, "\(r.sense)")
        #expect(injector.statistics.injected == 1)
        FaultInjection.detach(from: device)
        // A real short read: the backing file shrinks under the server (pread returns 0 before the end).
        #expect(truncate(f.image, off_t(1 << 20)) == 0)
        let past = try p.scsi(cdb: cdb10(0x28, lba: 4096, blocks: 8), readLength: 4096)
        #expect(past.status == 2, "read beyond the shrunken file must not succeed with stale or zero data")
        #expect(past.senseTriple?.key == 0x03 && past.senseTriple?.asc == 0x11, "\(past.sense)")
        #expect(truncate(f.image, off_t(HostileFixture.imageSize)) == 0)
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        try by.check()
    }

    @Test func failAfterNRequests() throws {
        let f = try HostileFixture()
        let (injector, device) = try attached(f, [FaultRule(operations: [.write], skip: 3, count: 2, effect: .error(EIO))])
        defer { FaultInjection.detach(from: device) }
        let p = try Peer(port: f.port)
        try p.login()
        var statuses: [UInt8] = []
        for k in 0..<7 {
            statuses.append(try p.scsi(cdb: cdb10(0x2a, lba: UInt32(1000 + k * 8), blocks: 8), writeData: pattern(4096, seed: UInt32(k))).status)
        }
        #expect(statuses == [0, 0, 0, 2, 2, 0, 0])
        #expect(injector.statistics.injected == 2)
    }

    /// An initiator that disconnects with commands and backing I/O in flight leaves nothing behind: the
    /// connection count returns to the bystander's, and every held request completes (into a closed task).
    @Test func disconnectWithIOInFlightLeavesNoLeak() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        // Hold every read and write below the bystander's area.
        let (injector, device) = try attached(f, [FaultRule(operations: [.read, .write], byteRange: 0..<(UInt64(Bystander.baseLBA) * 512), effect: .hold)])
        defer { FaultInjection.detach(from: device) }
        for round in 0..<5 {
            let p = try Peer(port: f.port)
            try p.login()
            for k in 0..<8 {
                if k % 2 == 0 {
                    _ = try p.sendCommand(cdb: cdb10(0x28, lba: UInt32(round * 2048 + k * 128), blocks: 128), readLength: 65536)
                } else {
                    // Fits in immediate data + one PDU: the write reaches the backing store.
                    _ = try p.sendCommand(cdb: cdb10(0x2a, lba: UInt32(round * 2048 + k * 128), blocks: 16), writeData: pattern(8192, seed: UInt32(round * 8 + k)))
                }
            }
            // Wait (bounded) until the backing requests are held, then vanish.
            // Each round uses its own LBAs: overlapping writes wait for the held ones (SAM ordering).
            var polls = 0
            while injector.statistics.held < (round + 1) * 8 && polls < 500 { usleep(10_000); polls += 1 }
            #expect(injector.statistics.held >= (round + 1) * 8, "round \(round): \(injector.statistics)")
            p.abort()
        }
        // The connections are gone (or going) while their I/O is still held…
        let during = f.waitForConnectionCount(1, polls: 300)
        print("NOTE disconnectWithIOInFlight: connections while I/O held = \(during) (1 = closed before its I/O settled)")
        // …then the I/O completes into closed connections.
        injector.releaseHeld()
        #expect(f.waitForConnectionCount(1) == 1)
        var polls = 0
        while injector.statistics.inFlight != 0 && polls < 500 { usleep(10_000); polls += 1 }
        #expect(injector.statistics.inFlight == 0, "\(injector.statistics)")
        try by.check()
    }

    @Test func environmentSpecAttachesRules() {
        let device = BackingDevice.null(sizeInBytes: 1 << 20)
        setenv(FaultInjection.environmentVariable, "read:0-4096:EIO;bogus;/not/this/path=write:*:ENOSPC;null=any:*:short:count=1", 1)
        defer { unsetenv(FaultInjection.environmentVariable) }
        let (rules, invalid) = FaultInjection.attachFromEnvironment(to: device)
        defer { FaultInjection.detach(from: device) }
        #expect(rules == [FaultRule(operations: [.read], byteRange: 0..<4096, effect: .error(EIO)), FaultRule(count: 1, effect: .shortTransfer)])
        #expect(invalid == ["bogus"])
        #expect(FaultInjection.injector(for: device) != nil)
    }

    @Test func faultRuleSpecParsing() {
        #expect(FaultRule.parse("read:0-4096:EIO") == FaultRule(operations: [.read], byteRange: 0..<4096, effect: .error(EIO)))
        #expect(FaultRule.parse("write:*:ENOSPC:after=10:count=1") == FaultRule(operations: [.write], skip: 10, count: 1, effect: .error(ENOSPC)))
        #expect(FaultRule.parse("any:*:short") == FaultRule(effect: .shortTransfer))
        #expect(FaultRule.parse("read,write:*:hold")?.operations == [.read, .write])
        for bad in ["", "read", "read:5-1:EIO", "read:*:EWHAT", "read:*:EIO:after=-1", "bogus:*:EIO", "read:x-y:EIO", "a:b:c:d:e:f"] {
            #expect(FaultRule.parse(bad) == nil, "\(bad)")
        }
    }
}

/// Task management, logout and session reinstatement racing backing I/O that the test holds in flight.
@Suite(.serialized) struct InFlightRaceTests {
    func holdReads(_ f: HostileFixture) throws -> (FaultInjector, BackingDevice) {
        guard let device = f.device() else { throw Peer.Failure(description: "no LUN 0 device") }
        let injector = FaultInjector(rules: [FaultRule(operations: [.read], byteRange: 0..<(1 << 20), effect: .hold)])
        FaultInjection.attach(injector, to: device)
        return (injector, device)
    }

    func waitHeld(_ injector: FaultInjector, _ n: Int) {
        var polls = 0
        while injector.statistics.held < n && polls < 500 { usleep(10_000); polls += 1 }
    }

    /// ABORT TASK for a READ whose backing read is in flight: the TMF is answered (RFC 7143 §11.5/§11.6),
    /// and when the read completes later nothing is sent for the aborted task; the connection goes on.
    @Test func abortTaskWhileItsReadIsInFlight() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try holdReads(f)
        defer { FaultInjection.detach(from: device) }
        let p = try Peer(port: f.port)
        try p.login()
        let tag = try p.sendCommand(cdb: cdb10(0x28, lba: 8, blocks: 8), readLength: 4096)
        waitHeld(injector, 1)
        #expect(injector.statistics.held == 1)
        let tmf = TaskManagementRequest(function: 1, lun: 0, initiatorTaskTag: p.nextITT(), referencedTaskTag: tag,
                                        cmdSN: p.cmdSN, expStatSN: p.expStatSN, refCmdSN: p.cmdSN &- 1)
        try p.send(.taskManagement(tmf))
        // The TMF answer may wait for the read (LIO/tgt wait for the aborted task to settle), so release first
        // when it has not come yet; either order is allowed, but both must arrive and the data must not.
        injector.releaseHeld()
        var sawTMF = false
        var sawTaskData = false
        var reads = 0
        while !sawTMF && reads < 5 {
            let (pdu, _) = try p.expectPDU()
            reads += 1
            switch pdu {
            case .taskManagementResponse(let r):
                #expect(r.response == 0 || r.response == 1, "TMF response \(r.response)")
                p.expStatSN = r.statSN &+ 1
                sawTMF = true
            case .dataIn(let d) where d.initiatorTaskTag == tag: sawTaskData = true
            case .scsiResponse(let r) where r.initiatorTaskTag == tag: sawTaskData = true; p.expStatSN = r.statSN &+ 1
            default: Issue.record("unexpected \(pdu)")
            }
        }
        #expect(sawTMF)
        withKnownIssue("the aborted READ may still have answered before the abort was processed", isIntermittent: true) {
            #expect(!sawTaskData)
        }
        injector.holdAgain()
        injector.removeAllRules()
        #expect(try p.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        #expect(try p.scsi(cdb: cdb10(0x28, lba: 8, blocks: 8), readLength: 4096).status == 0)
        try by.check()
        #expect(injector.statistics.inFlight == 0, "\(injector.statistics)")
    }

    /// LOGICAL UNIT RESET with a read in flight: answered once the read settles; the session goes on.
    @Test func lunResetWhileReadsAreInFlight() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try holdReads(f)
        defer { FaultInjection.detach(from: device) }
        let p = try Peer(port: f.port)
        try p.login()
        for k in 0..<4 { _ = try p.sendCommand(cdb: cdb10(0x28, lba: UInt32(k * 16), blocks: 8), readLength: 4096) }
        waitHeld(injector, 4)
        let tmf = TaskManagementRequest(function: 5, lun: 0, initiatorTaskTag: p.nextITT(), cmdSN: p.cmdSN, expStatSN: p.expStatSN)
        try p.send(.taskManagement(tmf))
        injector.releaseHeld()
        var sawTMF = false
        var reads = 0
        while !sawTMF && reads < 10 {
            let (pdu, _) = try p.expectPDU()
            reads += 1
            if case .taskManagementResponse(let r) = pdu {
                #expect(r.response == 0, "TMF response \(r.response)")
                p.expStatSN = r.statSN &+ 1
                sawTMF = true
            }
        }
        #expect(sawTMF)
        injector.removeAllRules()
        // The reset raised a unit attention for this nexus (SAM-5 §5.13): the next command may see it.
        var tur = try p.scsi(cdb: [0, 0, 0, 0, 0, 0])
        if tur.status == 2 { tur = try p.scsi(cdb: [0, 0, 0, 0, 0, 0]) }
        #expect(tur.status == 0)
        try by.check()
        #expect(injector.statistics.inFlight == 0, "\(injector.statistics)")
    }

    /// Logout with a read in flight: the logout response comes after the read settled (RFC 7143 §11.14: the
    /// target answers once the connection's commands are done), then the target closes.
    @Test func logoutWhileAReadIsInFlight() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try holdReads(f)
        defer { FaultInjection.detach(from: device) }
        let p = try Peer(port: f.port)
        try p.login()
        let tag = try p.sendCommand(cdb: cdb10(0x28, lba: 8, blocks: 8), readLength: 4096)
        waitHeld(injector, 1)
        let req = LogoutRequest(reasonCode: 0, initiatorTaskTag: p.nextITT(), cmdSN: p.cmdSN, expStatSN: p.expStatSN)
        try p.send(.logout(req))
        injector.releaseHeld()
        var sawLogout = false
        var closed = false
        for _ in 0..<6 {
            guard let (pdu, _) = try p.receive() else { closed = true; break }
            if case .logoutResponse(let r) = pdu { #expect(r.response == 0); sawLogout = true }
            if case .dataIn(let d) = pdu, d.statusPresent { #expect(d.initiatorTaskTag == tag && !sawLogout, "read answered after logout") }
        }
        #expect(sawLogout && closed)
        try by.check()
        #expect(f.waitForConnectionCount(1) == 1)
    }

    /// Reinstatement (same InitiatorName + ISID, TSIH 0) while the old session has a read in flight: the new
    /// login completes only after the old I/O settled (docs/architecture.md), then works.
    @Test func reinstatementWhileAReadIsInFlight() throws {
        let f = try HostileFixture()
        let by = try Bystander(f)
        let (injector, device) = try holdReads(f)
        defer { FaultInjection.detach(from: device) }
        let a = try Peer(port: f.port)
        try a.login()
        _ = try a.sendCommand(cdb: cdb10(0x28, lba: 8, blocks: 8), readLength: 4096)
        waitHeld(injector, 1)
        let b = try Peer(port: f.port)
        b.isid = a.isid
        // Security stage, then the operational request that completes the login: its answer must wait.
        try b.send(.login(b.loginRequest(csg: 0, nsg: 1)), data: Peer.keys(Peer.securityKeys))
        guard case .loginResponse(let r1) = try b.expectPDU().0, r1.statusClass == 0 else { Issue.record("security stage"); return }
        b.expStatSN = r1.statSN &+ 1
        try b.send(.login(b.loginRequest(csg: 1, nsg: 3)), data: Peer.keys(Peer.operationalKeys))
        usleep(50_000)
        injector.removeAllRules()
        injector.releaseHeld()
        let (pdu, _) = try b.expectPDU()
        guard case .loginResponse(let r2) = pdu, r2.statusClass == 0 else { Issue.record("reinstating login: \(pdu)"); return }
        b.expStatSN = r2.statSN &+ 1
        b.tsih = r2.tsih
        // The old connection ends.
        var oldClosed = false
        for _ in 0..<4 { if try a.receive() == nil { oldClosed = true; break } }
        #expect(oldClosed)
        #expect(try b.scsi(cdb: cdb10(0x28, lba: 8, blocks: 8), readLength: 4096).status == 0)
        try by.check()
        #expect(injector.statistics.inFlight == 0, "\(injector.statistics)")
    }
}
