import Glibc
import ISCSITarget
import ISCSIWire
import Synchronization
import Testing

/// Plain WRITEs run without the range lock (ExclusionGate, SCSIExecutor.swift); COMPARE AND WRITE must still
/// see no WRITE of its blocks between its read and its write (SBC-3 §5.3). Two sessions on one LUN: a QD≥4
/// stream of WRITE(10)s (patterns A/B) and a stream of COMPARE AND WRITE (A → C) on the same 8 blocks.
@Suite(.serialized) struct WriteGateTests {
    static let blocks = 8
    static let rounds = 6
    static let writesPerRound = 64
    static let cawsPerRound = 24
    static let depth = 4

    /// 8 blocks of pattern `tag`: every block distinct (tag and block number in each block's first bytes).
    static func pattern(_ tag: UInt8, blockSize: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: blocks * blockSize)
        for b in 0..<blocks {
            for j in 0..<blockSize {
                out[b * blockSize + j] = j == 0 ? tag : j == 1 ? UInt8(b) : tag ^ UInt8(truncatingIfNeeded: j &* 13 &+ b)
            }
        }
        return out
    }

    static func write10(lba: UInt32, blocks: Int) -> [UInt8] {
        [0x2A, 0, UInt8(lba >> 24), UInt8((lba >> 16) & 0xFF), UInt8((lba >> 8) & 0xFF), UInt8(lba & 0xFF),
         0, UInt8(blocks >> 8), UInt8(blocks & 0xFF), 0]
    }

    static func read10(lba: UInt32, blocks: Int) -> [UInt8] {
        var cdb = write10(lba: lba, blocks: blocks)
        cdb[0] = 0x28
        return cdb
    }

    /// SBC-3 §5.3 COMPARE AND WRITE(16): opcode 0x89, LBA at bytes 2-9, NUMBER OF LOGICAL BLOCKS at byte 13.
    static func compareAndWrite(lba: UInt64, blocks: Int) -> [UInt8] {
        var cdb = [UInt8](repeating: 0, count: 16)
        cdb[0] = 0x89
        for k in 0..<8 { cdb[2 + k] = UInt8(truncatingIfNeeded: lba >> (8 * UInt64(7 - k))) }
        cdb[13] = UInt8(blocks)
        return cdb
    }

    /// Which pattern each block of `data` is ("A", "B", "C", or "?").
    static func classify(_ data: [UInt8], blockSize: Int, patterns: [(String, [UInt8])]) -> [String] {
        (0..<blocks).map { b in
            let range = (b * blockSize)..<((b + 1) * blockSize)
            guard data.count >= range.upperBound else { return "?" }
            return patterns.first { Array($0.1[range]) == Array(data[range]) }?.0 ?? "?"
        }
    }

    @Test(arguments: ["fileio", "blockio"])
    func plainWritesAndCompareAndWriteOnTheSameBlocksStayAtomic(type: String) throws {
        // The blockio LUN (O_DIRECT + libaio) gets its own image; fileio uses the fixture's LUN 0.
        var template = Array("/tmp/iscsi-wg-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        #expect(fd >= 0)
        guard fd >= 0 else { return }
        let image = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(image) }
        _ = ftruncate(fd, 16 << 20)
        Glibc.close(fd)
        let f = try LoopbackFixture(extraTarget: "    Lun 1 Path=\(image),Type=blockio")
        let lun: UInt16 = type == "blockio" ? 1 : 0

        let writer = try TestInitiator(port: f.port)
        writer.isid = 0x80_0000_0000_0001
        let (wLogin, _) = try writer.login(targetName: LoopbackFixture.targetName)
        #expect(wLogin.statusClass == 0)
        let cawSession = try TestInitiator(port: f.port)
        cawSession.isid = 0x80_0000_0000_0002
        let (cLogin, _) = try cawSession.login(targetName: LoopbackFixture.targetName)
        #expect(cLogin.statusClass == 0)
        guard wLogin.statusClass == 0, cLogin.statusClass == 0 else { return }
        // Clear the power-on unit attention on both sessions (TEST UNIT READY until GOOD, bounded).
        for session in [writer, cawSession] {
            for _ in 0..<4 {
                if try session.scsi(lun: lun, cdb: [0, 0, 0, 0, 0, 0]).status == 0 { break }
            }
        }

        // READ CAPACITY(10): the block size of this LUN.
        let cap = try writer.scsi(lun: lun, cdb: [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], readLength: 8)
        #expect(cap.status == 0)
        let blockSize = cap.data[4..<8].reduce(0) { $0 << 8 | Int($1) }
        #expect(blockSize == 512 || blockSize == 4096)
        guard cap.status == 0, blockSize > 0 else { return }
        let a = Self.pattern(0xA1, blockSize: blockSize)
        let b = Self.pattern(0xB2, blockSize: blockSize)
        let c = Self.pattern(0xC3, blockSize: blockSize)
        let patterns = [("A", a), ("B", b), ("C", c)]

        // Sanity, one session at a time: CAW succeeds on A (and writes C), and miscompares on C.
        #expect(try writer.scsi(lun: lun, cdb: Self.write10(lba: 0, blocks: Self.blocks), writeData: a).status == 0)
        let first = try cawSession.scsi(lun: lun, cdb: Self.compareAndWrite(lba: 0, blocks: Self.blocks), writeData: a + c)
        #expect(first.status == 0, "CAW on matching data: status \(first.status) sense \(first.sense)")
        let again = try cawSession.scsi(lun: lun, cdb: Self.compareAndWrite(lba: 0, blocks: Self.blocks), writeData: a + c)
        #expect(again.status == 2 && again.sense.count > 2 && again.sense[2] & 0x0F == 0x0E,
                "CAW on C must MISCOMPARE: status \(again.status) sense \(again.sense)")
        let afterSanity = try writer.scsi(lun: lun, cdb: Self.read10(lba: 0, blocks: Self.blocks), readLength: c.count)
        #expect(Self.classify(afterSanity.data, blockSize: blockSize, patterns: patterns) == Array(repeating: "C", count: Self.blocks))

        let outcomes = Outcomes()
        let sessions = SessionPair(writer: writer, caw: cawSession)
        for round in 0..<Self.rounds {
            // TEST UNIT READY: its SCSI Response carries the current MaxCmdSN for the writer's window.
            let tur = try writer.scsi(lun: lun, cdb: [0, 0, 0, 0, 0, 0])
            let window = tur.response?.maxCmdSN ?? writer.cmdSN
            runJoined([
                {
                    do {
                        let done = try pipelinedWrites(sessions.writer, lun: lun, count: Self.writesPerRound,
                                                       depth: Self.depth, maxCmdSN: window) { k in
                            (Self.write10(lba: 0, blocks: Self.blocks), k % 2 == 0 ? a : b)
                        }
                        outcomes.tally.withLock { $0.writes += done.good }
                        if !done.failures.isEmpty { outcomes.failures.withLock { $0 += done.failures.map { "round \(round) writer: \($0)" } } }
                    } catch {
                        outcomes.failures.withLock { $0.append("round \(round) writer: \(error)") }
                    }
                },
                {
                    do {
                        for k in 0..<Self.cawsPerRound {
                            let r = try sessions.caw.scsi(lun: lun, cdb: Self.compareAndWrite(lba: 0, blocks: Self.blocks),
                                                          writeData: a + c)
                            if r.status == 0 {
                                outcomes.tally.withLock { $0.good += 1 }
                            } else if r.status == 2, r.sense.count > 2, r.sense[2] & 0x0F == 0x0E {
                                outcomes.tally.withLock { $0.miscompare += 1 }
                            } else {
                                outcomes.failures.withLock { $0.append("round \(round) CAW \(k): status \(r.status) sense \(r.sense.prefix(18))") }
                            }
                        }
                    } catch {
                        outcomes.failures.withLock { $0.append("round \(round) CAW: \(error)") }
                    }
                },
            ])
            let r = try writer.scsi(lun: lun, cdb: Self.read10(lba: 0, blocks: Self.blocks), readLength: a.count)
            #expect(r.status == 0)
            let kinds = Self.classify(r.data, blockSize: blockSize, patterns: patterns)
            #expect(Set(kinds).count == 1 && kinds[0] != "?",
                    "round \(round): LBA 0..7 must hold one whole pattern, got \(kinds)")
        }
        let (failed, counts) = (outcomes.failures.withLock { $0 }, outcomes.tally.withLock { $0 })
        #expect(failed.isEmpty, "\(failed.prefix(10))")
        #expect(counts.writes == Self.rounds * Self.writesPerRound)
        #expect(counts.good + counts.miscompare == Self.rounds * Self.cawsPerRound)
        print("WriteGateTests \(type): \(counts.writes) WRITEs GOOD, CAW \(counts.good) GOOD / \(counts.miscompare) MISCOMPARE")
        _ = try? writer.logout()
        _ = try? cawSession.logout()
    }
}

/// What the two session threads report.
private final class Outcomes: Sendable {
    let failures = Mutex<[String]>([])
    let tally = Mutex((good: 0, miscompare: 0, writes: 0))
}

/// The two blocking initiators, handed to one thread each (each is used by one thread at a time).
private final class SessionPair: @unchecked Sendable {
    let writer: TestInitiator
    let caw: TestInitiator
    init(writer: TestInitiator, caw: TestInitiator) { self.writer = writer; self.caw = caw }
}

/// Sends `count` write commands keeping up to `depth` outstanding (immediate data, then Data-Out on R2T) and
/// collects their SCSI responses. Returns how many ended GOOD and a description of each other outcome.
/// Every wait is the initiator's receive timeout (SO_RCVTIMEO).
func pipelinedWrites(_ i: TestInitiator, lun: UInt16, count: Int, depth: Int, maxCmdSN: UInt32,
                             _ command: (Int) -> (cdb: [UInt8], data: [UInt8])) throws -> (good: Int, failures: [String]) {
    var outstanding: [UInt32: [UInt8]] = [:]
    var sent = 0, good = 0
    var failures: [String] = []
    var window = maxCmdSN
    let lunField = SAMLUN.encode(lun)
    // RFC 7143 §4.2.2.1: CmdSN may not pass MaxCmdSN (serial arithmetic).
    func inWindow() -> Bool { Int32(bitPattern: i.cmdSN &- window) <= 0 }
    while sent < count || !outstanding.isEmpty {
        while sent < count && outstanding.count < depth && inWindow() {
            let (cdb, data) = command(sent)
            var cdb16 = cdb
            while cdb16.count < 16 { cdb16.append(0) }
            let tag = i.nextITT()
            let immediate = Array(data.prefix(min(i.maxSendSegment, 262_144)))
            let pdu = SCSICommandPDU(final: immediate.count == data.count, read: false, write: true, lun: lunField,
                                     initiatorTaskTag: tag, expectedDataTransferLength: UInt32(data.count),
                                     cmdSN: i.cmdSN, expStatSN: i.expStatSN, cdb: cdb16)
            i.cmdSN &+= 1
            try i.send(.scsiCommand(pdu), data: immediate)
            outstanding[tag] = data
            sent += 1
        }
        if outstanding.isEmpty {
            throw TestInitiator.Failure(description: "CmdSN \(i.cmdSN) outside the window (MaxCmdSN \(window)) with nothing outstanding")
        }
        let (pdu, data) = try i.expectPDU()
        switch pdu {
        case .scsiResponse(let r):
            i.expStatSN = r.statSN &+ 1
            window = r.maxCmdSN
            guard outstanding.removeValue(forKey: r.initiatorTaskTag) != nil else {
                failures.append("response for unknown ITT \(r.initiatorTaskTag)")
                continue
            }
            if r.status == 0 {
                good += 1
            } else {
                failures.append("WRITE ITT \(r.initiatorTaskTag): status \(r.status) sense \(data.prefix(20))")
            }
        case .r2t(let r2t):
            window = r2t.maxCmdSN
            guard let payload = outstanding[r2t.initiatorTaskTag] else {
                failures.append("R2T for unknown ITT \(r2t.initiatorTaskTag)")
                continue
            }
            var offset = Int(r2t.bufferOffset)
            let end = min(payload.count, offset + Int(r2t.desiredDataTransferLength))
            var dataSN: UInt32 = 0
            while offset < end {
                let n = min(i.maxSendSegment, end - offset)
                let out = DataOut(final: offset + n >= end, lun: lunField, initiatorTaskTag: r2t.initiatorTaskTag,
                                  targetTransferTag: r2t.targetTransferTag, expStatSN: i.expStatSN, dataSN: dataSN,
                                  bufferOffset: UInt32(offset))
                dataSN += 1
                try i.send(.dataOut(out), data: Array(payload[offset..<(offset + n)]))
                offset += n
            }
        case .nopIn(let n):
            window = n.maxCmdSN
        default:
            failures.append("unexpected PDU \(pdu)")
        }
    }
    return (good, failures)
}
