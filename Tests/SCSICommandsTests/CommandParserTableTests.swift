import Testing
import SCSICommands

/// One row of the CDB table: hex CDB against `disk` → parsed command or sense reason.
struct CDBCase: Sendable, CustomTestStringConvertible {
    let name: String
    let cdb: String
    let expected: Result<ParsedCommand, SenseReason>
    var unit: LogicalUnitInfo = disk

    var testDescription: String { name }
}

let cdbTable: [CDBCase] = [
    // TEST UNIT READY
    CDBCase(name: "TUR", cdb: "00 00 00 00 00 00", expected: .success(.emulated(.testUnitReady, .none, 0))),
    // SAM-5 §5.2: NACA = 1 without ACA support
    CDBCase(name: "TUR NACA", cdb: "00 00 00 00 00 04", expected: .failure(.invalidFieldInCDB)),

    // READ(6): SBC-3 §5.7 transfer length 0 → 256
    CDBCase(name: "READ6 len 0 = 256", cdb: "08 00 00 00 00 00", expected: .success(.read(0, 256))),
    CDBCase(name: "READ6 21-bit LBA", cdb: "08 00 03 E7 01 00", expected: .success(.read(999, 1))),
    CDBCase(name: "READ6 top LBA bits ignored above 21", cdb: "08 E0 00 05 02 00", expected: .success(.read(5, 2))),
    CDBCase(name: "WRITE6 len 0 = 256", cdb: "0A 00 00 10 00 00", expected: .success(.write(16, 256))),

    // READ(10)
    CDBCase(name: "READ10 simple", cdb: "28 00 00 00 00 0A 00 00 04 00", expected: .success(.read(10, 4))),
    CDBCase(name: "READ10 DPO", cdb: "28 10 00 00 00 00 00 00 01 00", expected: .success(.read(0, 1))),
    CDBCase(name: "READ10 FUA", cdb: "28 08 00 00 00 00 00 00 01 00", expected: .success(.read(0, 1, fua: true))),
    CDBCase(name: "READ10 0 blocks", cdb: "28 00 00 00 00 00 00 00 00 00", expected: .success(.read(0, 0))),
    CDBCase(name: "READ10 RDPROTECT 1", cdb: "28 20 00 00 00 00 00 00 01 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "READ10 RDPROTECT 7", cdb: "28 E0 00 00 00 00 00 00 01 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "READ10 over max transfer", cdb: "28 00 00 00 00 00 00 01 01 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "READ10 at max transfer", cdb: "28 00 00 00 00 00 00 01 00 00", expected: .success(.read(0, 256))),
    CDBCase(name: "READ10 NACA", cdb: "28 00 00 00 00 00 00 00 01 04", expected: .failure(.invalidFieldInCDB)),

    // READ(12) / READ(16)
    CDBCase(name: "READ12 simple", cdb: "A8 00 00 00 00 02 00 00 00 03 00 00", expected: .success(.read(2, 3))),
    CDBCase(name: "READ12 RDPROTECT", cdb: "A8 40 00 00 00 02 00 00 00 03 00 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "READ16 simple", cdb: "88 08 00 00 00 00 00 00 03 E7 00 00 00 01 00 00",
            expected: .success(.read(999, 1, fua: true))),
    CDBCase(name: "READ16 LBA -1", cdb: "88 00 FF FF FF FF FF FF FF FF 00 00 00 01 00 00",
            expected: .failure(.logicalBlockAddressOutOfRange)),

    // WRITE(10/12/16) and WRITE AND VERIFY
    CDBCase(name: "WRITE10 simple", cdb: "2A 00 00 00 00 01 00 00 02 00", expected: .success(.write(1, 2))),
    CDBCase(name: "WRITE10 DPO+FUA", cdb: "2A 18 00 00 00 01 00 00 02 00", expected: .success(.write(1, 2, fua: true))),
    CDBCase(name: "WRITE10 WRPROTECT", cdb: "2A 20 00 00 00 01 00 00 02 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "WRITE12 simple", cdb: "AA 00 00 00 00 01 00 00 00 02 00 00", expected: .success(.write(1, 2))),
    CDBCase(name: "WRITE16 simple", cdb: "8A 00 00 00 00 00 00 00 00 01 00 00 00 02 00 00", expected: .success(.write(1, 2))),
    CDBCase(name: "WRITE10 read-only", cdb: "2A 00 00 00 00 01 00 00 02 00",
            expected: .failure(.writeProtected), unit: readOnlyDisk),
    CDBCase(name: "WRITE6 read-only", cdb: "0A 00 00 01 01 00", expected: .failure(.writeProtected), unit: readOnlyDisk),
    CDBCase(name: "READ10 read-only is fine", cdb: "28 00 00 00 00 01 00 00 02 00",
            expected: .success(.read(1, 2)), unit: readOnlyDisk),
    CDBCase(name: "WRITE AND VERIFY10 → FUA write", cdb: "2E 00 00 00 00 01 00 00 02 00",
            expected: .success(.write(1, 2, fua: true))),
    CDBCase(name: "WRITE AND VERIFY16 BYTCHK 1", cdb: "8E 02 00 00 00 00 00 00 00 01 00 00 00 02 00 00",
            expected: .success(.write(1, 2, fua: true))),
    CDBCase(name: "WRITE AND VERIFY12 BYTCHK 2", cdb: "AE 04 00 00 00 01 00 00 00 02 00 00",
            expected: .failure(.invalidFieldInCDB)),

    // VERIFY
    CDBCase(name: "VERIFY10 BYTCHK 0", cdb: "2F 00 00 00 00 05 00 00 02 00",
            expected: .success(ParsedCommand(command: .verify(lba: 5, blocks: 2, byteCheck: false),
                                             direction: .none, transferLength: 0))),
    CDBCase(name: "VERIFY16 BYTCHK 1", cdb: "8F 02 00 00 00 00 00 00 00 05 00 00 00 02 00 00",
            expected: .success(ParsedCommand(command: .verify(lba: 5, blocks: 2, byteCheck: true),
                                             direction: .toTarget, transferLength: 1024))),
    CDBCase(name: "VERIFY12 BYTCHK 3", cdb: "AF 06 00 00 00 05 00 00 00 02 00 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "VERIFY10 VRPROTECT", cdb: "2F 20 00 00 00 05 00 00 02 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "VERIFY10 beyond end", cdb: "2F 00 00 00 03 E7 00 00 02 00", expected: .failure(.logicalBlockAddressOutOfRange)),
    CDBCase(name: "VERIFY on read-only unit", cdb: "2F 02 00 00 00 05 00 00 01 00",
            expected: .success(ParsedCommand(command: .verify(lba: 5, blocks: 1, byteCheck: true),
                                             direction: .toTarget, transferLength: 512)), unit: readOnlyDisk),

    // SYNCHRONIZE CACHE
    CDBCase(name: "SYNC CACHE10 all", cdb: "35 00 00 00 00 00 00 00 00 00",
            expected: .success(ParsedCommand(command: .synchronizeCache(lba: 0, blocks: 0), direction: .none, transferLength: 0))),
    CDBCase(name: "SYNC CACHE16 range", cdb: "91 02 00 00 00 00 00 00 00 10 00 00 00 20 00 00",
            expected: .success(ParsedCommand(command: .synchronizeCache(lba: 16, blocks: 32), direction: .none, transferLength: 0))),
    CDBCase(name: "SYNC CACHE10 beyond end", cdb: "35 00 00 00 03 E8 00 00 01 00", expected: .failure(.logicalBlockAddressOutOfRange)),
    CDBCase(name: "SYNC CACHE on read-only", cdb: "35 00 00 00 00 00 00 00 00 00",
            expected: .success(ParsedCommand(command: .synchronizeCache(lba: 0, blocks: 0), direction: .none, transferLength: 0)),
            unit: readOnlyDisk),

    // INQUIRY
    CDBCase(name: "INQUIRY standard", cdb: "12 00 00 00 FF 00",
            expected: .success(.emulated(.inquiry(evpd: false, pageCode: 0, allocationLength: 255), .fromTarget, 255))),
    CDBCase(name: "INQUIRY 16-bit alloc", cdb: "12 00 00 01 04 00",
            expected: .success(.emulated(.inquiry(evpd: false, pageCode: 0, allocationLength: 260), .fromTarget, 260))),
    CDBCase(name: "INQUIRY alloc 0", cdb: "12 00 00 00 00 00",
            expected: .success(.emulated(.inquiry(evpd: false, pageCode: 0, allocationLength: 0), .fromTarget, 0))),
    CDBCase(name: "INQUIRY EVPD=0 page≠0", cdb: "12 00 01 01 00 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "INQUIRY CMDDT", cdb: "12 02 00 00 FF 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "INQUIRY VPD 83", cdb: "12 01 83 00 FF 00",
            expected: .success(.emulated(.inquiry(evpd: true, pageCode: 0x83, allocationLength: 255), .fromTarget, 255))),
    CDBCase(name: "INQUIRY unsupported VPD", cdb: "12 01 86 00 FF 00", expected: .failure(.invalidFieldInCDB)),

    // REQUEST SENSE
    CDBCase(name: "REQUEST SENSE fixed", cdb: "03 00 00 00 12 00",
            expected: .success(.emulated(.requestSense(descriptorFormat: false, allocationLength: 18), .fromTarget, 18))),
    CDBCase(name: "REQUEST SENSE DESC", cdb: "03 01 00 00 FC 00",
            expected: .success(.emulated(.requestSense(descriptorFormat: true, allocationLength: 252), .fromTarget, 252))),

    // REPORT LUNS
    CDBCase(name: "REPORT LUNS", cdb: "A0 00 00 00 00 00 00 00 00 10 00 00",
            expected: .success(.emulated(.reportLUNs(selectReport: 0, allocationLength: 16), .fromTarget, 16))),
    CDBCase(name: "REPORT LUNS select 2", cdb: "A0 00 02 00 00 00 00 00 10 00 00 00",
            expected: .success(.emulated(.reportLUNs(selectReport: 2, allocationLength: 4096), .fromTarget, 4096))),
    CDBCase(name: "REPORT LUNS alloc 15", cdb: "A0 00 00 00 00 00 00 00 00 0F 00 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "REPORT LUNS select 3", cdb: "A0 00 03 00 00 00 00 00 00 10 00 00", expected: .failure(.invalidFieldInCDB)),

    // READ CAPACITY
    CDBCase(name: "READ CAPACITY10", cdb: "25 00 00 00 00 00 00 00 00 00",
            expected: .success(.emulated(.readCapacity10, .fromTarget, 8))),
    CDBCase(name: "READ CAPACITY10 PMI=0 LBA≠0", cdb: "25 00 00 00 00 01 00 00 00 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "READ CAPACITY10 PMI=1 LBA≠0", cdb: "25 00 00 00 00 01 00 00 01 00",
            expected: .success(.emulated(.readCapacity10, .fromTarget, 8))),
    CDBCase(name: "READ CAPACITY16", cdb: "9E 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00",
            expected: .success(.emulated(.readCapacity16(allocationLength: 32), .fromTarget, 32))),
    CDBCase(name: "READ CAPACITY16 alloc 0", cdb: "9E 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
            expected: .success(.emulated(.readCapacity16(allocationLength: 0), .fromTarget, 0))),
    CDBCase(name: "READ CAPACITY16 PMI=0 LBA≠0", cdb: "9E 10 00 00 00 00 00 00 00 01 00 00 00 20 00 00",
            expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "SERVICE ACTION IN unknown SA", cdb: "9E 13 00 00 00 00 00 00 00 00 00 00 00 20 00 00",
            expected: .failure(.invalidFieldInCDB)),

    // MODE SENSE
    CDBCase(name: "MODE SENSE6 all pages", cdb: "1A 00 3F 00 FF 00",
            expected: .success(.emulated(.modeSense(ModeSenseRequest(
                isTenByte: false, disableBlockDescriptors: false, longLBAAccepted: false,
                pageControl: .current, pageCode: 0x3F, subpageCode: 0, allocationLength: 255)), .fromTarget, 255))),
    CDBCase(name: "MODE SENSE10 LLBAA DBD changeable", cdb: "5A 18 48 00 00 00 00 01 00 00",
            expected: .success(.emulated(.modeSense(ModeSenseRequest(
                isTenByte: true, disableBlockDescriptors: true, longLBAAccepted: true,
                pageControl: .changeable, pageCode: 0x08, subpageCode: 0, allocationLength: 256)), .fromTarget, 256))),
    CDBCase(name: "MODE SENSE6 LLBAA bit ignored", cdb: "1A 10 0A 00 FF 00",
            expected: .success(.emulated(.modeSense(ModeSenseRequest(
                isTenByte: false, disableBlockDescriptors: false, longLBAAccepted: false,
                pageControl: .current, pageCode: 0x0A, subpageCode: 0, allocationLength: 255)), .fromTarget, 255))),
    CDBCase(name: "MODE SENSE6 saved", cdb: "1A 00 FF 00 FF 00", expected: .failure(.savingParametersNotSupported)),
    CDBCase(name: "MODE SENSE6 unknown page", cdb: "1A 00 19 00 FF 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "MODE SENSE6 subpage 1", cdb: "1A 00 0A 01 FF 00", expected: .failure(.invalidFieldInCDB)),

    // START STOP UNIT
    CDBCase(name: "START STOP start", cdb: "1B 01 00 00 01 00", expected: .success(.emulated(.startStopUnit, .none, 0))),
    CDBCase(name: "START STOP stop", cdb: "1B 00 00 00 00 00", expected: .success(.emulated(.startStopUnit, .none, 0))),
    CDBCase(name: "START STOP eject fixed disk", cdb: "1B 01 00 00 02 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "START STOP load fixed disk", cdb: "1B 00 00 00 03 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "START STOP power condition ignores LOEJ", cdb: "1B 01 00 00 12 00",
            expected: .success(.emulated(.startStopUnit, .none, 0))),

    // Unsupported opcodes
    CDBCase(name: "MODE SELECT6", cdb: "15 10 00 00 18 00", expected: .failure(.invalidCommandOperationCode)),
    CDBCase(name: "MODE SELECT10", cdb: "55 10 00 00 00 00 00 00 18 00", expected: .failure(.invalidCommandOperationCode)),
    CDBCase(name: "WRITE ATOMIC16", cdb: "9C 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .failure(.invalidCommandOperationCode)),
    CDBCase(name: "vendor opcode", cdb: "C0 00 00 00 00 00", expected: .failure(.invalidCommandOperationCode)),
    CDBCase(name: "empty CDB", cdb: "", expected: .failure(.invalidFieldInCDB)),
]

@Test("CDB table", arguments: cdbTable)
func cdbTableCase(_ row: CDBCase) {
    #expect(parseResult(hex(row.cdb), unit: row.unit) == row.expected)
}

@Test("Trailing bytes past the CDB length (16-byte BHS field) are ignored")
func trailingBytesIgnored() {
    let cdb = hex("28 00 00 00 00 0A 00 00 04 00 FF FF FF FF FF FF")
    #expect(parseResult(cdb) == .success(.read(10, 4)))
}

@Test("4096-byte blocks scale the transfer length")
func blockSizeScalesTransferLength() {
    var unit = disk
    unit.blockSize = 4096
    #expect(parseResult(hex("28 00 00 00 00 00 00 00 02 00"), unit: unit) == .success(.read(0, 2, blockSize: 4096)))
}

@Test("Transfer length that does not fit 32 bits → INVALID FIELD IN CDB (no limit configured)")
func transferLengthOverflow() {
    var unit = disk
    unit.maximumTransferBlocks = 0
    unit.blockCount = UInt64.max
    unit.blockSize = 4096
    // 0x00100000 blocks × 4096 = 2^32 bytes: overflows the 32-bit EDTL.
    #expect(parseResult(hex("88 00 00 00 00 00 00 00 00 00 00 10 00 00 00 00"), unit: unit) == .failure(.invalidFieldInCDB))
    // One block less fits.
    #expect(parseResult(hex("88 00 00 00 00 00 00 00 00 00 00 0F FF FF 00 00"), unit: unit)
            == .success(.read(0, 0x000F_FFFF, blockSize: 4096)))
}

@Test("Unit attention exemptions (SAM-5 §5.14)")
func unitAttentionExempt() {
    #expect(SCSIOpcode.inquiry.isUnitAttentionExempt)
    #expect(SCSIOpcode.reportLUNs.isUnitAttentionExempt)
    #expect(SCSIOpcode.requestSense.isUnitAttentionExempt)
    #expect(!SCSIOpcode.testUnitReady.isUnitAttentionExempt)
    #expect(!SCSIOpcode.read10.isUnitAttentionExempt)
}

@Test("CDB length by group code", arguments: SCSIOpcode.allCases)
func cdbLengthMatchesGroup(_ opcode: SCSIOpcode) {
    let expected: Int
    switch opcode.rawValue {
    case 0x00...0x1F: expected = 6
    case 0x20...0x5F: expected = 10
    case 0x80...0x9F: expected = 16
    default: expected = 12
    }
    #expect(opcode.cdbLength == expected)
}
