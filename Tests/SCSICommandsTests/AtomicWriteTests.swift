import Testing
import SCSICommands

/// `disk` with the limits the runtime sets when one block is power-fail atomic (SBC-4 §6.6.4: 1/1/1).
let atomicDisk: LogicalUnitInfo = {
    var unit = disk
    unit.setAtomicWriteLimits(blocks: 1)
    return unit
}()

/// Wider limits, to exercise ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY: at most 8 blocks, LBA a
/// multiple of 4, length a multiple of 4.
let alignedAtomicDisk: LogicalUnitInfo = {
    var unit = disk
    unit.maximumAtomicTransferBlocks = 8
    unit.atomicAlignment = 4
    unit.atomicTransferLengthGranularity = 4
    return unit
}()

extension ParsedCommand {
    static func writeAtomic(_ lba: UInt64, _ blocks: UInt32, fua: Bool = false) -> ParsedCommand {
        ParsedCommand(command: .writeAtomic(lba: lba, blocks: blocks, fua: fua), direction: .toTarget,
                      transferLength: blocks * 512)
    }
}

/// WRITE ATOMIC(16): 9C | flags | LBA (8) | ATOMIC BOUNDARY (2) | TRANSFER LENGTH (2) | group | control.
let writeAtomicTable: [CDBCase] = [
    // SBC-4 §6.6.4: MAXIMUM ATOMIC TRANSFER LENGTH 0 → not supported → INVALID COMMAND OPERATION CODE.
    CDBCase(name: "unsupported unit", cdb: "9C 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .failure(.invalidCommandOperationCode)),
    CDBCase(name: "one block", cdb: "9C 00 00 00 00 00 00 00 00 07 00 00 00 01 00 00",
            expected: .success(.writeAtomic(7, 1)), unit: atomicDisk),
    CDBCase(name: "last block", cdb: "9C 00 00 00 00 00 00 00 03 E7 00 00 00 01 00 00",
            expected: .success(.writeAtomic(999, 1)), unit: atomicDisk),
    CDBCase(name: "FUA", cdb: "9C 08 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .success(.writeAtomic(0, 1, fua: true)), unit: atomicDisk),
    CDBCase(name: "DPO FUA", cdb: "9C 18 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .success(.writeAtomic(0, 1, fua: true)), unit: atomicDisk),
    CDBCase(name: "0 blocks", cdb: "9C 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
            expected: .success(.writeAtomic(0, 0)), unit: atomicDisk),
    CDBCase(name: "0 blocks at the end", cdb: "9C 00 00 00 00 00 00 00 03 E8 00 00 00 00 00 00",
            expected: .success(.writeAtomic(1000, 0)), unit: atomicDisk),
    // SBC-4 §5.48.2: TRANSFER LENGTH > MAXIMUM ATOMIC TRANSFER LENGTH → INVALID FIELD IN CDB.
    CDBCase(name: "over max atomic length", cdb: "9C 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00",
            expected: .failure(.invalidFieldInCDBAt(byte: 12, bit: 7)), unit: atomicDisk),
    CDBCase(name: "TRANSFER LENGTH is 16-bit (byte 10-11 are ATOMIC BOUNDARY)",
            cdb: "9C 00 00 00 00 00 00 00 00 00 00 01 00 01 00 00",
            expected: .failure(.invalidFieldInCDBAt(byte: 10, bit: 7)), unit: atomicDisk),
    // SBC-4 §5.48.2: WRPROTECT ≠ 0 without protection information.
    CDBCase(name: "WRPROTECT 1", cdb: "9C 20 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .failure(.invalidFieldInCDBAt(byte: 1, bit: 7)), unit: atomicDisk),
    CDBCase(name: "WRPROTECT 7", cdb: "9C E0 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .failure(.invalidFieldInCDBAt(byte: 1, bit: 7)), unit: atomicDisk),
    // Range first: out of range whatever the length (libiscsi WriteAtomic16.BeyondEol / ZeroBlocks).
    CDBCase(name: "2 blocks, 1 past the end", cdb: "9C 00 00 00 00 00 00 00 03 E7 00 00 00 02 00 00",
            expected: .failure(.logicalBlockAddressOutOfRange), unit: atomicDisk),
    CDBCase(name: "LBA 2^63", cdb: "9C 00 80 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .failure(.logicalBlockAddressOutOfRange), unit: atomicDisk),
    CDBCase(name: "LBA -1", cdb: "9C 00 FF FF FF FF FF FF FF FF 00 00 00 01 00 00",
            expected: .failure(.logicalBlockAddressOutOfRange), unit: atomicDisk),
    CDBCase(name: "0 blocks past the end", cdb: "9C 00 00 00 00 00 00 00 03 E9 00 00 00 00 00 00",
            expected: .failure(.logicalBlockAddressOutOfRange), unit: atomicDisk),
    CDBCase(name: "read-only", cdb: "9C 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .failure(.writeProtected), unit: { var u = atomicDisk; u.readOnly = true; return u }()),
    // SBC-4 §5.48.2: alignment and granularity.
    CDBCase(name: "aligned, granular", cdb: "9C 00 00 00 00 00 00 00 00 04 00 00 00 08 00 00",
            expected: .success(.writeAtomic(4, 8)), unit: alignedAtomicDisk),
    CDBCase(name: "misaligned LBA", cdb: "9C 00 00 00 00 00 00 00 00 02 00 00 00 04 00 00",
            expected: .failure(.invalidFieldInCDBAt(byte: 2, bit: 7)), unit: alignedAtomicDisk),
    CDBCase(name: "length not a multiple of the granularity", cdb: "9C 00 00 00 00 00 00 00 00 04 00 00 00 02 00 00",
            expected: .failure(.invalidFieldInCDBAt(byte: 12, bit: 7)), unit: alignedAtomicDisk),
    CDBCase(name: "granular but over max", cdb: "9C 00 00 00 00 00 00 00 00 00 00 00 00 0C 00 00",
            expected: .failure(.invalidFieldInCDBAt(byte: 12, bit: 7)), unit: alignedAtomicDisk),
]

@Test("WRITE ATOMIC(16) table", arguments: writeAtomicTable)
func writeAtomicCase(_ row: CDBCase) {
    #expect(parseResult(hex(row.cdb), unit: row.unit) == row.expected)
}

@Suite struct AtomicWriteLimitsTests {
    /// SBC-4 §6.6.4 Block Limits bytes 44–59 (page offsets): MAXIMUM ATOMIC TRANSFER LENGTH, ATOMIC ALIGNMENT,
    /// ATOMIC TRANSFER LENGTH GRANULARITY, then the two boundary fields (always 0 here).
    private func atomicFields(_ unit: LogicalUnitInfo) throws -> [UInt8] {
        let page = try Emulator.execute(.inquiry(evpd: true, pageCode: 0xB0, allocationLength: 255), unit: unit,
                                        context: EmulationContext())
        #expect(page.count == 64)
        return Array(page[44..<64])
    }

    @Test func blockLimitsAdvertiseOneBlock() throws {
        #expect(try atomicFields(atomicDisk) == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 8))
    }

    @Test func blockLimitsAdvertiseNothingWithoutSupport() throws {
        var unit = disk
        unit.atomicAlignment = 4  // meaningless without a maximum: not reported
        #expect(try atomicFields(unit) == [UInt8](repeating: 0, count: 20))
    }

    @Test func reportSupportedOpcodesFollowsTheUnit() throws {
        let one = ReportOpcodesRequest(includeTimeouts: false, options: .opcode, requestedOpcode: 0x9C,
                                       requestedServiceAction: 0, allocationLength: 64)
        let context = EmulationContext()
        let supported = try Emulator.execute(.reportSupportedOpcodes(one), unit: atomicDisk, context: context)
        #expect(supported[1] & 0x07 == 0x03)
        // DPO and FUA are examined (libiscsi WriteAtomic16.DpoFua with DPOFUA = 1).
        #expect(supported[5] & 0x18 == 0x18)
        let unsupported = try Emulator.execute(.reportSupportedOpcodes(one), unit: disk, context: context)
        #expect(unsupported[1] & 0x07 == 0x01)
        let all = ReportOpcodesRequest(includeTimeouts: false, options: .all, requestedOpcode: 0,
                                       requestedServiceAction: 0, allocationLength: 65535)
        let withAtomic = try Emulator.execute(.reportSupportedOpcodes(all), unit: atomicDisk, context: context)
        let without = try Emulator.execute(.reportSupportedOpcodes(all), unit: disk, context: context)
        #expect(withAtomic.count == without.count + 8)
    }
}
