import Glibc
import IETConfig
import ISCSITarget
import ISCSIWire
import LinuxIO
import Logging
import Testing

/// Starts the real runtime in-process on 127.0.0.1 (ephemeral port) with a temporary file LUN and a
/// nullio LUN, and drives it with `TestInitiator`.
final class LoopbackFixture {
    let server: TargetServer
    let port: UInt16
    let dir: String
    static let targetName = "iqn.2026-11.org.example:loopback"

    init(extraTarget: String = "") throws {
        var template = Array("/tmp/iscsi-it-XXXXXX".utf8CString)
        let d = template.withUnsafeMutableBufferPointer { buf -> UnsafeMutablePointer<CChar>? in
            guard let base = buf.baseAddress else { return nil }
            return mkdtemp(base)
        }
        guard let d else { throw TestInitiator.Failure(description: "mkdtemp") }
        dir = String(cString: d)
        let image = dir + "/lun0.img"
        let fd = open(image, O_RDWR | O_CREAT, 0o600)
        _ = ftruncate(fd, 64 << 20)
        Glibc.close(fd)
        let text = """
        Target \(LoopbackFixture.targetName)
            Alias loopback
            Lun 0 Path=\(image),Type=fileio
            Lun 3 Blocks=2048,BlockSize=4096,Type=nullio
        \(extraTarget)
        """
        let (config, diags) = ConfigParser.parse(text, path: dir + "/ietd.conf")
        guard let config else { throw TestInitiator.Failure(description: "config: \(diags)") }
        // ITEST_LOG=1 shows the daemon's log lines on stderr.
        let verbose = getenv("ITEST_LOG") != nil
        let logger = Logger(label: "test", factory: { label in
            if verbose {
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = .debug
                return h
            }
            return SwiftLogNoOpLogHandler()
        })
        let targets = try TargetBuilder.build(config, logger: logger)
        let (acl, _) = AccessControl.load(directory: dir)
        let registry = TargetRegistry(configuration: config, targets: targets, access: acl)
        server = try TargetServer(registry: registry, settings: ServerSettings(), loopCount: 2, logger: logger)
        let bound = try server.listen(on: [Portal(host: "127.0.0.1", port: 0)])
        port = bound.first?.port ?? 0
    }

    deinit {
        server.stop()
        _ = unlink(dir + "/lun0.img")
        _ = rmdir(dir)
    }
}

@Suite(.serialized) struct LoopbackTests {
    @Test func discoveryListsTheTarget() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        let (resp, _) = try i.login(targetName: nil)
        #expect(resp.statusClass == 0)
        let req = TextRequest(final: true, initiatorTaskTag: i.nextITT(), cmdSN: i.cmdSN, expStatSN: i.expStatSN)
        i.cmdSN &+= 1
        try i.send(.text(req), data: TestInitiator.keys([("SendTargets", "All")]))
        let (pdu, data) = try i.expectPDU()
        guard case .textResponse(let t) = pdu else { Issue.record("expected text response, got \(pdu)"); return }
        #expect(t.final)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("TargetName=\(LoopbackFixture.targetName)"))
        #expect(text.contains("TargetAddress=127.0.0.1:\(f.port),1"))
    }

    @Test func unknownTargetIsRefusedWith0203() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        let (resp, _) = try i.login(targetName: "iqn.2026-11.org.example:nope")
        #expect(resp.statusClass == 0x02)
        #expect(resp.statusDetail == 0x03)
    }

    @Test func inquiryPresentsIETIdentity() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        let (resp, _) = try i.login(targetName: LoopbackFixture.targetName)
        #expect(resp.statusClass == 0)
        let r = try i.scsi(cdb: [0x12, 0, 0, 0, 96, 0], readLength: 96)
        #expect(r.status == 0)
        #expect(String(decoding: r.data[8..<16], as: UTF8.self).hasPrefix("IET"))
        #expect(String(decoding: r.data[16..<32], as: UTF8.self).hasPrefix("VIRTUAL-DISK"))
        // A LUN with no unit behind it: peripheral qualifier 3 (SPC-4 §6.4.2).
        let missing = try i.scsi(lun: 7, cdb: [0x12, 0, 0, 0, 36, 0], readLength: 36)
        #expect(missing.status == 0)
        #expect(missing.data.first.map { $0 >> 5 } == 3)
        #expect(try i.logout()?.response == 0)
    }

    @Test func writeThenReadBackThroughR2TAndImmediateData() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        try i.login(targetName: LoopbackFixture.targetName)
        // READ CAPACITY(16): 64 MiB / 512.
        let cap = try i.scsi(cdb: [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], readLength: 32)
        #expect(cap.status == 0)
        let lastLBA = cap.data[0..<8].reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        #expect(lastLBA == (64 << 20) / 512 - 1)
        // 1 MiB write at LBA 100: immediate data, unsolicited and solicited (R2T) data.
        var pattern = [UInt8](repeating: 0, count: 1 << 20)
        var x: UInt32 = 12345
        for k in 0..<pattern.count { x = x &* 1103515245 &+ 12345; pattern[k] = UInt8(truncatingIfNeeded: x >> 16) }
        let blocks = pattern.count / 512
        let w = try i.scsi(cdb: [0x2a, 0, 0, 0, 0, 100, 0, UInt8(blocks >> 8), UInt8(blocks & 0xff), 0], writeData: pattern)
        #expect(w.status == 0)
        let r = try i.scsi(cdb: [0x28, 0, 0, 0, 0, 100, 0, UInt8(blocks >> 8), UInt8(blocks & 0xff), 0], readLength: pattern.count)
        #expect(r.status == 0)
        #expect(r.data == pattern)
        // SYNCHRONIZE CACHE(10).
        #expect(try i.scsi(cdb: [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]).status == 0)
    }

    /// A task lives until its response is sent: nothing (a reused receive-path object, a completion closure)
    /// may keep it alive after that, since live tasks are the queue-depth signal for busy-polling.
    @Test func tasksAreFreedOnceTheirResponsesAreSent() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        try i.login(targetName: LoopbackFixture.targetName)
        let data = [UInt8](repeating: 0x5a, count: 4096)
        // 4K write with immediate data, 4K read, a write that needs R2Ts, a command that fails (LBA out of range),
        // a read of the null LUN, TEST UNIT READY.
        #expect(try i.scsi(cdb: [0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0], writeData: data).status == 0)
        #expect(try i.scsi(cdb: [0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0], readLength: 4096).data == data)
        #expect(try i.scsi(cdb: [0x2a, 0, 0, 0, 0, 16, 0, 0, 8, 0], writeData: data, immediate: false).status == 0)
        #expect(try i.scsi(cdb: [0x28, 0, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0], readLength: 512).status == 2)
        #expect(try i.scsi(lun: 3, cdb: [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], readLength: 4096).status == 0)
        #expect(try i.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        // The last response can reach us a moment before the loop drops its references: bounded wait.
        var live = f.server.liveSCSITaskCount()
        for _ in 0..<100 where live != 0 {
            usleep(10_000)
            live = f.server.liveSCSITaskCount()
        }
        #expect(live == 0)
    }

    @Test func readPastTheEndIsLBAOutOfRange() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        try i.login(targetName: LoopbackFixture.targetName)
        let lba = UInt32((64 << 20) / 512)
        let r = try i.scsi(cdb: [0x28, 0, UInt8(lba >> 24), UInt8((lba >> 16) & 0xff), UInt8((lba >> 8) & 0xff), UInt8(lba & 0xff), 0, 0, 1, 0], readLength: 512)
        #expect(r.status == 2)
        #expect(r.sense.count >= 14)
        #expect(r.sense[2] & 0x0f == 0x05)  // ILLEGAL REQUEST
        #expect(r.sense[12] == 0x21)        // LBA OUT OF RANGE
    }

    @Test func nullioReadsZeros() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        try i.login(targetName: LoopbackFixture.targetName)
        let r = try i.scsi(lun: 3, cdb: [0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0], readLength: 8192)
        #expect(r.status == 0)
        #expect(r.data == [UInt8](repeating: 0, count: 8192))
    }

    @Test func unsupportedOpcodeIsInvalidCommandOperationCode() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        try i.login(targetName: LoopbackFixture.targetName)
        let r = try i.scsi(cdb: [0xd9, 0, 0, 0, 0, 0])
        #expect(r.status == 2)
        #expect(r.sense.count >= 14)
        #expect(r.sense[12] == 0x20)
    }

    /// RFC 7143 §4.2.2.1: a command with CmdSN beyond MaxCmdSN is silently ignored; the session goes on.
    @Test func cmdSNOutsideTheWindowIsIgnored() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        let (resp, _) = try i.login(targetName: LoopbackFixture.targetName)
        let tur = SCSICommandPDU(read: false, write: false, lun: 0, initiatorTaskTag: i.nextITT(), expectedDataTransferLength: 0,
                                 cmdSN: resp.maxCmdSN &+ 1, expStatSN: i.expStatSN, cdb: [UInt8](repeating: 0, count: 16))
        try i.send(.scsiCommand(tur))
        // The next, in-window command is answered (and is the only answer).
        let ok = try i.scsi(cdb: [0, 0, 0, 0, 0, 0])
        #expect(ok.status == 0)
        #expect(ok.response?.initiatorTaskTag == i.itt)
    }

    /// RFC 7143 §6.3.5: a new login with the same InitiatorName + ISID and TSIH 0 replaces the old session.
    @Test func sessionReinstatementClosesTheOldConnection() throws {
        let f = try LoopbackFixture()
        let a = try TestInitiator(port: f.port)
        try a.login(targetName: LoopbackFixture.targetName)
        #expect(try a.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0)
        let b = try TestInitiator(port: f.port)
        b.isid = a.isid
        let (resp, _) = try b.login(targetName: LoopbackFixture.targetName)
        #expect(resp.statusClass == 0)
        // The old connection is closed by the target.
        #expect(try a.receive() == nil)
        // The new session works and sees no unit attention.
        let tur = try b.scsi(cdb: [0, 0, 0, 0, 0, 0])
        #expect(tur.status == 0)
    }

    @Test func nopOutIsAnswered() throws {
        let f = try LoopbackFixture()
        let i = try TestInitiator(port: f.port)
        try i.login(targetName: LoopbackFixture.targetName)
        let ping = NOPOut(initiatorTaskTag: i.nextITT(), cmdSN: i.cmdSN, expStatSN: i.expStatSN)
        try i.send(.nopOut(ping), data: Array("ping".utf8))
        let (pdu, data) = try i.expectPDU()
        guard case .nopIn(let n) = pdu else { Issue.record("expected NOP-In"); return }
        #expect(n.initiatorTaskTag == ping.initiatorTaskTag)
        #expect(data == Array("ping".utf8))
    }

    @Test func garbageBeforeLoginClosesOnlyThatConnection() throws {
        let f = try LoopbackFixture()
        let bad = try TestInitiator(port: f.port)
        try bad.sendRaw([UInt8](repeating: 0xff, count: 48))
        #expect(try bad.receive() == nil)
        let good = try TestInitiator(port: f.port)
        let (resp, _) = try good.login(targetName: LoopbackFixture.targetName)
        #expect(resp.statusClass == 0)
    }
}

