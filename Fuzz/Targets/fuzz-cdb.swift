// libFuzzer entry: SCSI CDB parsing and emulation (SPC-4, SBC-3) from fuzz bytes.
//
// Input: byte 0 picks the logical unit shape (bit 0: 4096-byte blocks, bit 1: read-only, bit 2: write
// cache, bit 3: thin provisioning, bits 4-5: tiny / 2^32+ / 2^63-ish block counts), byte 1 the sense
// format, the rest is the CDB (up to 260 bytes, as with an Extended CDB AHS). Parsed commands are
// checked for consistent ranges; emulated ones are executed; the result must be bounded.
import SCSICommands

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCDB(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    let shape = input[0]
    let blockSize: UInt32 = shape & 1 != 0 ? 4096 : 512
    let blockCounts: [UInt64] = [131_072, 1, 1 << 33, (UInt64.max / 4096) - 1]
    let blocks = blockCounts[Int((shape >> 4) & 3)]
    var unit = LogicalUnitInfo(lun: 0, blockSize: blockSize, blockCount: blocks, readOnly: shape & 2 != 0,
                               writeCacheEnabled: shape & 4 != 0, scsiID: Array("fuzzscsiid".utf8), serialNumber: "fuzzsn")
    unit.thinProvisioning = shape & 8 != 0
    unit.readsZerosAfterUnmap = shape & 8 != 0
    let cdb = Array(input[2...].prefix(260))
    let context = EmulationContext(lunList: [0, 1, 3, 255, 16383], senseFormat: input[1] & 1 != 0 ? .descriptor : .fixed,
                                   pendingSense: input[1] & 2 != 0 ? .unrecoveredReadError : nil)
    for missing in [false, true] {
        let parsed: ParsedCommand
        do throws(SenseReason) {
            parsed = missing ? try CommandParser.parseForMissingUnit(cdb) : try CommandParser.parse(cdb, unit: unit)
        } catch {
            // Every rejection must map to well-formed sense in both formats.
            let fixed = SenseData.build(error, format: .fixed)
            let desc = SenseData.build(error, format: .descriptor)
            precondition(fixed.count >= 18 && fixed.count <= 252 && desc.count >= 8 && desc.count <= 252)
            continue
        }
        checkRanges(parsed, unit: unit)
        if case .emulated(let command) = parsed.command {
            do throws(SenseReason) {
                let out = try Emulator.execute(command, unit: missing ? nil : unit, context: context)
                // Responses are built in memory: they must stay small whatever the allocation length says.
                precondition(out.count <= 1 << 20, "emulated response of \(out.count) bytes")
            } catch {
                _ = SenseData.build(error, format: context.senseFormat)
            }
        }
    }
    return 0
}

/// A parsed media access must lie inside the unit, and its byte count must match the CDB.
func checkRanges(_ parsed: ParsedCommand, unit: LogicalUnitInfo) {
    func inside(_ lba: UInt64, _ count: UInt64) {
        let (end, overflow) = lba.addingReportingOverflow(count)
        precondition(!overflow && end <= unit.blockCount, "LBA \(lba)+\(count) outside \(unit.blockCount) blocks accepted")
    }
    switch parsed.command {
    case .read(let lba, let n, _), .write(let lba, let n, _), .orWrite(let lba, let n, _):
        inside(lba, UInt64(n))
        precondition(UInt64(parsed.transferLength) == UInt64(n) * UInt64(unit.blockSize), "transfer length mismatch")
    case .compareAndWrite(let lba, let n, _):
        inside(lba, UInt64(n))
        precondition(UInt64(parsed.transferLength) == 2 * UInt64(n) * UInt64(unit.blockSize), "transfer length mismatch")
    case .verify(let lba, let n, _), .synchronizeCache(let lba, let n), .prefetch(let lba, let n):
        inside(lba, UInt64(n))
    case .writeSame(let lba, let n, _, _):
        inside(lba, n)
    default:
        break
    }
}
