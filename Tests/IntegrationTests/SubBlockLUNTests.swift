import Glibc
import ISCSITarget
import ISCSIWire
import Synchronization
import Testing

/// BlockSize=512 on a block device with 4 KiB logical sectors (an LV on a 4Kn disk exported as IET did with
/// 512-byte blocks): READ CAPACITY(16) reports the device block as the physical block (SBC-4 §5.20.2), and writes
/// that do not cover whole device blocks (read-modify-write in the page cache) never undo an O_DIRECT write of
/// the same device block (SCSIExecutor.withRangeLock(write:)). The device is a loop device with
/// `--sector-size 4096`; without losetup (not root) the tests say why they skip.
@Suite(.serialized) struct SubBlockLUNTests {
    /// A 16 MiB image behind a 4 KiB-sector, direct-I/O loop device; nil (with the reason printed) if unavailable.
    static func fourKLoopDevice() -> (device: String, image: String)? {
        var template = Array("/tmp/iscsi-4k-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { print("skipping 512-on-4K test: mkstemp failed"); return nil }
        let image = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        _ = ftruncate(fd, 16 << 20)
        Glibc.close(fd)
        guard let pipe = popen("losetup --direct-io=on --sector-size 4096 --find --show \(image) 2>/dev/null", "r") else {
            unlink(image); print("skipping 512-on-4K test: popen failed"); return nil
        }
        var line = [CChar](repeating: 0, count: 256)
        let got = fgets(&line, Int32(line.count), pipe) != nil
        pclose(pipe)
        let device = got ? String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).filter { !$0.isWhitespace } : ""
        guard device.hasPrefix("/dev/loop") else {
            unlink(image)
            print("skipping 512-on-4K test: losetup --sector-size 4096 unavailable (needs root and loop devices)")
            return nil
        }
        return (device, image)
    }

    static func release(_ dev: (device: String, image: String)) {
        _ = system("losetup -d \(dev.device) 2>/dev/null")
        unlink(dev.image)
    }

    /// 8 blocks of 512 bytes, each block tagged with `version` and its block number.
    static func unit(version: UInt32, block0: Int = 0, blocks: Int = 8) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: blocks * 512)
        for b in 0..<blocks {
            for j in 0..<512 {
                out[b * 512 + j] = UInt8(truncatingIfNeeded: (version &* 31) &+ UInt32(j &* 7 &+ (block0 + b) &* 13))
            }
            out[b * 512] = UInt8(truncatingIfNeeded: version >> 8)
            out[b * 512 + 1] = UInt8(truncatingIfNeeded: version)
        }
        return out
    }

    static func cdb10(_ opcode: UInt8, lba: UInt32, blocks: Int) -> [UInt8] {
        [opcode, 0, UInt8(lba >> 24), UInt8((lba >> 16) & 0xFF), UInt8((lba >> 8) & 0xFF), UInt8(lba & 0xFF),
         0, UInt8(blocks >> 8), UInt8(blocks & 0xFF), 0]
    }

    @Test func readCapacityReportsTheDeviceBlockAsThePhysicalBlock() throws {
        guard let dev = Self.fourKLoopDevice() else { return }
        defer { Self.release(dev) }
        let f = try LoopbackFixture(extraTarget: "    Lun 1 Path=\(dev.device),Type=blockio,BlockSize=512")
        let i = try TestInitiator(port: f.port)
        let (login, _) = try i.login(targetName: LoopbackFixture.targetName)
        #expect(login.statusClass == 0)
        for _ in 0..<4 where try i.scsi(lun: 1, cdb: [0, 0, 0, 0, 0, 0]).status != 0 {}
        // SERVICE ACTION IN(16) / READ CAPACITY(16), allocation length 32.
        let rc = try i.scsi(lun: 1, cdb: [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], readLength: 32)
        #expect(rc.status == 0)
        guard rc.status == 0, rc.data.count >= 14 else { return }
        let lastLBA = rc.data[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let blockLength = rc.data[8..<12].reduce(0) { $0 << 8 | Int($1) }
        #expect(blockLength == 512)
        #expect(lastLBA == (16 << 20) / 512 - 1)
        #expect(rc.data[13] & 0x0F == 3, "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: 8 × 512 = 4096")
        _ = try? i.logout()
    }

    /// One session rewrites the 4 KiB device block at LBA 0-7 (O_DIRECT path) with a new version each time and
    /// reads it back; another keeps rewriting LBA 3 alone (page-cache read-modify-write of the same device block),
    /// four at a time. LBAs 0-2 and 4-7 are written only by the first session, so every read-back must show its
    /// latest version there: an unlocked RMW that overlapped a direct write would bring an older one back.
    @Test func partialBlockWritesNeverUndoAWholeBlockWrite() throws {
        guard let dev = Self.fourKLoopDevice() else { return }
        defer { Self.release(dev) }
        let f = try LoopbackFixture(extraTarget: "    Lun 1 Path=\(dev.device),Type=blockio,BlockSize=512")
        let whole = try TestInitiator(port: f.port)
        whole.isid = 0x80_0000_0000_0011
        let partial = try TestInitiator(port: f.port)
        partial.isid = 0x80_0000_0000_0012
        for s in [whole, partial] {
            let (login, _) = try s.login(targetName: LoopbackFixture.targetName)
            #expect(login.statusClass == 0)
            guard login.statusClass == 0 else { return }
            for _ in 0..<4 where try s.scsi(lun: 1, cdb: [0, 0, 0, 0, 0, 0]).status != 0 {}
        }
        let rounds = 150
        let partialWrites = 600
        let failures = Mutex<[String]>([])
        let sessions = SessionBox(whole: whole, partial: partial)
        let tur = try partial.scsi(lun: 1, cdb: [0, 0, 0, 0, 0, 0])
        let window = tur.response?.maxCmdSN ?? partial.cmdSN
        runJoined([
            {
                do {
                    for v in 1...UInt32(rounds) {
                        let data = Self.unit(version: v)
                        let w = try sessions.whole.scsi(lun: 1, cdb: Self.cdb10(0x2A, lba: 0, blocks: 8), writeData: data)
                        guard w.status == 0 else { failures.withLock { $0.append("WRITE v\(v): status \(w.status)") }; return }
                        let r = try sessions.whole.scsi(lun: 1, cdb: Self.cdb10(0x28, lba: 0, blocks: 8), readLength: data.count)
                        guard r.status == 0, r.data.count == data.count else {
                            failures.withLock { $0.append("READ after v\(v): status \(r.status)") }; return
                        }
                        for b in [0, 1, 2, 4, 5, 6, 7] where Array(r.data[(b * 512)..<((b + 1) * 512)]) != Array(data[(b * 512)..<((b + 1) * 512)]) {
                            let seen = UInt32(r.data[b * 512]) << 8 | UInt32(r.data[b * 512 + 1])
                            failures.withLock { $0.append("after WRITE v\(v) LBA \(b) holds version \(seen)") }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("whole-block session: \(error)") }
                }
            },
            {
                do {
                    let done = try pipelinedWrites(sessions.partial, lun: 1, count: partialWrites, depth: 4, maxCmdSN: window) { k in
                        (Self.cdb10(0x2A, lba: 3, blocks: 1), Self.unit(version: 0xF000 + UInt32(k), block0: 3, blocks: 1))
                    }
                    if !done.failures.isEmpty { failures.withLock { $0 += done.failures.prefix(5).map { "LBA 3 writer: \($0)" } } }
                    #expect(done.good == partialWrites)
                } catch {
                    failures.withLock { $0.append("LBA 3 session: \(error)") }
                }
            },
        ])
        let failed = failures.withLock { $0 }
        #expect(failed.isEmpty, "\(failed.prefix(10))")
        _ = try? whole.logout()
        _ = try? partial.logout()
    }
}

/// The two blocking initiators, one per thread.
private final class SessionBox: @unchecked Sendable {
    let whole: TestInitiator
    let partial: TestInitiator
    init(whole: TestInitiator, partial: TestInitiator) { self.whole = whole; self.partial = partial }
}
