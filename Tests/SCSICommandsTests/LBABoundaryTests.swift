import Testing
import SCSICommands

/// SBC-3 §4.5 / SPDK `lba_range_test`: the overflow-safe range check on every block opcode.
struct BoundaryCase: Sendable, CustomTestStringConvertible {
    let lba: UInt64
    let blocks: UInt32
    let blockCount: UInt64
    let inRange: Bool
    var testDescription: String { "lba \(lba) blocks \(blocks) of \(blockCount) → \(inRange ? "ok" : "OOB")" }
}

let boundaryMatrix: [BoundaryCase] = [
    BoundaryCase(lba: 0, blocks: 1, blockCount: 1000, inRange: true),
    BoundaryCase(lba: 999, blocks: 1, blockCount: 1000, inRange: true),         // last block
    BoundaryCase(lba: 1000, blocks: 1, blockCount: 1000, inRange: false),       // one past
    BoundaryCase(lba: 0, blocks: 1000, blockCount: 1000, inRange: true),        // whole medium
    BoundaryCase(lba: 0, blocks: 1001, blockCount: 1000, inRange: false),       // one too many
    BoundaryCase(lba: 999, blocks: 2, blockCount: 1000, inRange: false),        // straddles the end
    BoundaryCase(lba: 1000, blocks: 0, blockCount: 1000, inRange: true),        // zero length at the end
    BoundaryCase(lba: 1001, blocks: 0, blockCount: 1000, inRange: false),       // zero length past the end
    BoundaryCase(lba: 0x8000_0000, blocks: 0, blockCount: 1000, inRange: false),
    BoundaryCase(lba: UInt64.max, blocks: 1, blockCount: 1000, inRange: false), // would wrap lba + blocks
    BoundaryCase(lba: UInt64.max, blocks: 0, blockCount: 1000, inRange: false),
    BoundaryCase(lba: UInt64.max - 1, blocks: 2, blockCount: UInt64.max, inRange: false), // wraps to 0
    BoundaryCase(lba: UInt64.max - 1, blocks: 1, blockCount: UInt64.max, inRange: true),  // last LBA of a max medium
    BoundaryCase(lba: 0, blocks: 1, blockCount: 0, inRange: false),             // empty medium
    BoundaryCase(lba: 0, blocks: 0, blockCount: 0, inRange: true),
]

func cdb16(_ opcode: UInt8, lba: UInt64, blocks: UInt32, byte1: UInt8 = 0) -> [UInt8] {
    var cdb: [UInt8] = [opcode, byte1]
    for shift in stride(from: 56, through: 0, by: -8) { cdb.append(UInt8(truncatingIfNeeded: lba >> UInt64(shift))) }
    for shift in stride(from: 24, through: 0, by: -8) { cdb.append(UInt8(truncatingIfNeeded: blocks >> UInt32(shift))) }
    cdb += [0, 0]
    return cdb
}

@Test("READ/WRITE/VERIFY/SYNC CACHE(16) range matrix", arguments: boundaryMatrix)
func rangeMatrix(_ row: BoundaryCase) {
    var unit = disk
    unit.blockCount = row.blockCount
    unit.maximumTransferBlocks = 0
    for opcode: UInt8 in [0x88, 0x8A, 0x8F, 0x91, 0x8E] {
        let result = parseResult(cdb16(opcode, lba: row.lba, blocks: row.blocks), unit: unit)
        if row.inRange {
            #expect((try? result.get()) != nil, "opcode \(opcode)")
        } else {
            #expect(result == .failure(.logicalBlockAddressOutOfRange), "opcode \(opcode)")
        }
    }
}

@Test("READ(10) LBA FFFFFFFF and 2^31 with 0 blocks are out of range (libiscsi Read10.ZeroBlocks)")
func read10ZeroBlocksOutOfRange() {
    #expect(parseResult(hex("28 00 FF FF FF FF 00 00 00 00")) == .failure(.logicalBlockAddressOutOfRange))
    #expect(parseResult(hex("28 00 80 00 00 00 00 00 00 00")) == .failure(.logicalBlockAddressOutOfRange))
    #expect(parseResult(hex("28 00 00 00 03 E9 00 00 00 00")) == .failure(.logicalBlockAddressOutOfRange))
}

@Test("READ(10) 1…256 blocks one block beyond the end (libiscsi Read10.BeyondEol)")
func read10BeyondEnd() {
    for blocks in 1...256 {
        let lba = UInt32(1000 + 1 - blocks)
        var cdb: [UInt8] = [0x28, 0]
        cdb += [UInt8(lba >> 24), UInt8(truncatingIfNeeded: lba >> 16), UInt8(truncatingIfNeeded: lba >> 8), UInt8(truncatingIfNeeded: lba)]
        cdb += [0, UInt8(blocks >> 8), UInt8(truncatingIfNeeded: blocks), 0]
        #expect(parseResult(cdb) == .failure(.logicalBlockAddressOutOfRange), "blocks \(blocks)")
    }
}

@Test("READ(6) beyond the end, including length 0 = 256 at the end")
func read6Boundaries() {
    // LBA 744 + 256 = 1000: exactly fits.
    #expect(parseResult(hex("08 00 02 E8 00 00")) == .success(.read(744, 256)))
    // LBA 745 + 256 blocks: one past.
    #expect(parseResult(hex("08 00 02 E9 00 00")) == .failure(.logicalBlockAddressOutOfRange))
    // 21-bit LBA maximum.
    #expect(parseResult(hex("08 1F FF FF 01 00")) == .failure(.logicalBlockAddressOutOfRange))
}

@Test("Range is checked before write protection; protection fields before range")
func checkOrder() {
    // Out of range on a read-only unit → LBA OUT OF RANGE, not WRITE PROTECTED.
    #expect(parseResult(hex("2A 00 00 00 03 E8 00 00 01 00"), unit: readOnlyDisk) == .failure(.logicalBlockAddressOutOfRange))
    // WRPROTECT with a bad LBA → INVALID FIELD IN CDB.
    #expect(parseResult(hex("2A 20 FF FF FF FF 00 00 01 00")) == .failure(.invalidFieldInCDB))
    // Over the maximum transfer length and out of range → INVALID FIELD IN CDB (LIO order).
    #expect(parseResult(hex("28 00 FF FF FF FF 00 02 00 00")) == .failure(.invalidFieldInCDB))
    // Zero-block write on a read-only unit is still WRITE PROTECTED.
    #expect(parseResult(hex("2A 00 00 00 00 00 00 00 00 00"), unit: readOnlyDisk) == .failure(.writeProtected))
}
