import Testing
import SCSICommands

/// CDB table for the provisioning, atomic, reservation and reporting commands.
let extendedCDBTable: [CDBCase] = [
    // WRITE SAME(10) / (16) — SBC-3 §5.41/§5.42
    CDBCase(name: "WS10 simple", cdb: "41 00 00 00 00 0A 00 00 04 00",
            expected: .success(ParsedCommand(command: .writeSame(lba: 10, blocks: 4, unmap: false, noDataOut: false),
                                             direction: .toTarget, transferLength: 512))),
    CDBCase(name: "WS10 unmap", cdb: "41 08 00 00 00 0A 00 00 04 00",
            expected: .success(ParsedCommand(command: .writeSame(lba: 10, blocks: 4, unmap: true, noDataOut: false),
                                             direction: .toTarget, transferLength: 512))),
    CDBCase(name: "WS10 0 blocks = to the end (WSNZ 0)", cdb: "41 00 00 00 03 E0 00 00 00 00",
            expected: .success(ParsedCommand(command: .writeSame(lba: 992, blocks: 8, unmap: false, noDataOut: false),
                                             direction: .toTarget, transferLength: 512))),
    CDBCase(name: "WS10 0 blocks past end", cdb: "41 00 00 00 03 E9 00 00 00 00", expected: .failure(.logicalBlockAddressOutOfRange)),
    CDBCase(name: "WS10 0 blocks at capacity", cdb: "41 00 00 00 03 E8 00 00 00 00", expected: .failure(.logicalBlockAddressOutOfRange)),
    CDBCase(name: "WS10 beyond end", cdb: "41 00 00 00 03 E7 00 00 02 00", expected: .failure(.logicalBlockAddressOutOfRange)),
    CDBCase(name: "WS10 LBA -1", cdb: "41 00 FF FF FF FF 00 00 01 00", expected: .failure(.logicalBlockAddressOutOfRange)),
    CDBCase(name: "WS10 WRPROTECT", cdb: "41 20 00 00 00 00 00 00 01 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "WS10 ANCHOR", cdb: "41 10 00 00 00 00 00 00 01 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "WS10 LBDATA", cdb: "41 02 00 00 00 00 00 00 01 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "WS10 bit 0 reserved", cdb: "41 01 00 00 00 00 00 00 01 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "WS10 read-only", cdb: "41 00 00 00 00 00 00 00 01 00", expected: .failure(.writeProtected), unit: readOnlyDisk),
    CDBCase(name: "WS16 NDOB unmap", cdb: "93 09 00 00 00 00 00 00 00 00 00 00 00 10 00 00",
            expected: .success(ParsedCommand(command: .writeSame(lba: 0, blocks: 16, unmap: true, noDataOut: true),
                                             direction: .none, transferLength: 0))),
    CDBCase(name: "WS16 LBA 2^63", cdb: "93 00 80 00 00 00 00 00 00 00 00 00 00 01 00 00",
            expected: .failure(.logicalBlockAddressOutOfRange)),

    // UNMAP — SBC-3 §5.28
    CDBCase(name: "UNMAP 24 bytes", cdb: "42 00 00 00 00 00 00 00 18 00",
            expected: .success(ParsedCommand(command: .unmap(parameterListLength: 24), direction: .toTarget, transferLength: 24))),
    CDBCase(name: "UNMAP 0 bytes", cdb: "42 00 00 00 00 00 00 00 00 00",
            expected: .success(ParsedCommand(command: .unmap(parameterListLength: 0), direction: .none, transferLength: 0))),
    CDBCase(name: "UNMAP ANCHOR", cdb: "42 01 00 00 00 00 00 00 18 00", expected: .failure(.invalidFieldInCDB)),

    // GET LBA STATUS — SBC-3 §5.6
    CDBCase(name: "GET LBA STATUS", cdb: "9E 12 00 00 00 00 00 00 00 05 00 00 00 18 00 00",
            expected: .success(ParsedCommand(command: .getLBAStatus(lba: 5, allocationLength: 24), direction: .fromTarget, transferLength: 24))),
    CDBCase(name: "GET LBA STATUS past end", cdb: "9E 12 00 00 00 00 00 00 03 E8 00 00 00 18 00 00",
            expected: .failure(.logicalBlockAddressOutOfRange)),

    // COMPARE AND WRITE — SBC-3 §5.3
    CDBCase(name: "CAW 1 block", cdb: "89 00 00 00 00 00 00 00 00 07 00 00 00 01 00 00",
            expected: .success(ParsedCommand(command: .compareAndWrite(lba: 7, blocks: 1, fua: false), direction: .toTarget, transferLength: 1024))),
    CDBCase(name: "CAW FUA", cdb: "89 08 00 00 00 00 00 00 00 07 00 00 00 02 00 00",
            expected: .success(ParsedCommand(command: .compareAndWrite(lba: 7, blocks: 2, fua: true), direction: .toTarget, transferLength: 2048))),
    CDBCase(name: "CAW beyond end", cdb: "89 00 00 00 00 00 00 00 03 E8 00 00 00 01 00 00", expected: .failure(.logicalBlockAddressOutOfRange)),
    CDBCase(name: "CAW WRPROTECT", cdb: "89 20 00 00 00 00 00 00 00 00 00 00 00 01 00 00", expected: .failure(.invalidFieldInCDB)),

    // ORWRITE(16) — SBC-3 §5.9
    CDBCase(name: "ORWRITE", cdb: "8B 00 00 00 00 00 00 00 00 01 00 00 00 02 00 00",
            expected: .success(ParsedCommand(command: .orWrite(lba: 1, blocks: 2, fua: false), direction: .toTarget, transferLength: 1024))),
    CDBCase(name: "ORWRITE ORPROTECT", cdb: "8B 20 00 00 00 00 00 00 00 01 00 00 00 02 00 00", expected: .failure(.invalidFieldInCDB)),

    // PRE-FETCH(10)/(16) — SBC-3 §5.10/§5.11
    CDBCase(name: "PREFETCH10 IMMED", cdb: "34 02 00 00 00 01 00 00 08 00",
            expected: .success(ParsedCommand(command: .prefetch(lba: 1, blocks: 8), direction: .none, transferLength: 0))),
    CDBCase(name: "PREFETCH16 beyond", cdb: "90 00 00 00 00 00 00 00 03 E8 00 00 00 01 00 00", expected: .failure(.logicalBlockAddressOutOfRange)),

    // READ DEFECT DATA — SBC-3 §5.12/§5.13
    CDBCase(name: "READ DEFECT DATA10", cdb: "37 00 1D 00 00 00 00 00 04 00",
            expected: .success(.emulated(.readDefectData(twelveByte: false, primary: true, grown: true, format: 5, allocationLength: 4), .fromTarget, 4))),

    // RESERVE / RELEASE — SPC-2 §7.21/§7.17
    CDBCase(name: "RESERVE6", cdb: "16 00 00 00 00 00", expected: .success(ParsedCommand(command: .reserve, direction: .none, transferLength: 0))),
    CDBCase(name: "RESERVE6 extent", cdb: "16 01 00 00 00 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "RELEASE10", cdb: "57 00 00 00 00 00 00 00 00 00", expected: .success(ParsedCommand(command: .release, direction: .none, transferLength: 0))),
    CDBCase(name: "RESERVE10 3RDPTY", cdb: "56 10 00 00 00 00 00 00 00 00", expected: .failure(.invalidFieldInCDB)),

    // PERSISTENT RESERVE IN/OUT — SPC-4 §6.13/§6.14
    CDBCase(name: "PRIN READ KEYS", cdb: "5E 00 00 00 00 00 00 20 00 00",
            expected: .success(ParsedCommand(command: .persistentReserveIn(serviceAction: .readKeys, allocationLength: 0x2000),
                                             direction: .fromTarget, transferLength: 0x2000))),
    CDBCase(name: "PRIN SA 4", cdb: "5E 04 00 00 00 00 00 20 00 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "PROUT REGISTER", cdb: "5F 00 00 00 00 00 00 00 18 00",
            expected: .success(ParsedCommand(command: .persistentReserveOut(PROutRequest(serviceAction: .register, scope: 0, type: 0, parameterListLength: 24)),
                                             direction: .toTarget, transferLength: 24))),
    CDBCase(name: "PROUT RESERVE WE", cdb: "5F 01 01 00 00 00 00 00 18 00",
            expected: .success(ParsedCommand(command: .persistentReserveOut(PROutRequest(serviceAction: .reserve, scope: 0, type: 1, parameterListLength: 24)),
                                             direction: .toTarget, transferLength: 24))),
    CDBCase(name: "PROUT REGISTER AND MOVE", cdb: "5F 07 00 00 00 00 00 00 18 00", expected: .failure(.invalidFieldInCDB)),
    CDBCase(name: "PROUT length 23", cdb: "5F 00 00 00 00 00 00 00 17 00", expected: .failure(.parameterListLengthError)),
    CDBCase(name: "PROUT length 2^32-1", cdb: "5F 00 00 00 00 FF FF FF FF 00", expected: .failure(.parameterListLengthError)),

    // REPORT SUPPORTED OPERATION CODES — SPC-4 §6.35
    CDBCase(name: "RSOC all", cdb: "A3 0C 00 00 00 00 00 00 10 00 00 00",
            expected: .success(.emulated(.reportSupportedOpcodes(ReportOpcodesRequest(
                includeTimeouts: false, options: .all, requestedOpcode: 0, requestedServiceAction: 0, allocationLength: 4096)), .fromTarget, 4096))),
    CDBCase(name: "RSOC option 1 on PRIN", cdb: "A3 0C 01 5E 00 00 00 00 10 00 00 00", expected: .failure(.invalidFieldInCDBAt(byte: 2, bit: 2))),
    CDBCase(name: "RSOC option 2 on READ10", cdb: "A3 0C 02 28 00 00 00 00 10 00 00 00", expected: .failure(.invalidFieldInCDBAt(byte: 2, bit: 2))),
    CDBCase(name: "RSOC option 5", cdb: "A3 0C 05 00 00 00 00 00 10 00 00 00", expected: .failure(.invalidFieldInCDBAt(byte: 2, bit: 2))),
    CDBCase(name: "MAINTENANCE IN other SA", cdb: "A3 0A 00 00 00 00 00 00 10 00 00 00", expected: .failure(.invalidFieldInCDB)),
]

@Test(arguments: extendedCDBTable)
func extendedCDB(_ row: CDBCase) {
    #expect(parseResult(hex(row.cdb), unit: row.unit) == row.expected)
}

@Suite struct UnmapParameterListTests {
    let thin: LogicalUnitInfo = {
        var u = disk
        u.thinProvisioning = true
        u.maximumUnmapDescriptors = 2
        u.maximumUnmapBlocks = 100
        return u
    }()

    func list(_ descriptors: [(UInt64, UInt32)], descriptorLength: Int? = nil) -> [UInt8] {
        var d: [UInt8] = []
        let dl = descriptorLength ?? descriptors.count * 16
        d += [UInt8((dl + 6) >> 8), UInt8((dl + 6) & 0xFF), UInt8(dl >> 8), UInt8(dl & 0xFF), 0, 0, 0, 0]
        for (lba, n) in descriptors {
            for s in stride(from: 56, through: 0, by: -8) { d.append(UInt8(truncatingIfNeeded: lba >> UInt64(s))) }
            for s in stride(from: 24, through: 0, by: -8) { d.append(UInt8(truncatingIfNeeded: n >> UInt32(s))) }
            d += [0, 0, 0, 0]
        }
        return d
    }

    @Test func twoExtents() throws {
        let e = try UnmapParameterList.parse(list([(0, 8), (100, 0)]), unit: thin)
        #expect(e == [UnmapParameterList.Extent(lba: 0, blocks: 8)])
    }

    @Test func shortHeaderIsLengthError() {
        #expect(throws: SenseReason.parameterListLengthError) { try UnmapParameterList.parse([0, 6, 0], unit: thin) }
    }

    @Test func descriptorLengthBeyondData() {
        #expect(throws: SenseReason.parameterListLengthError) { try UnmapParameterList.parse(list([], descriptorLength: 16), unit: thin) }
    }

    @Test func tooManyDescriptors() {
        #expect(throws: SenseReason.invalidFieldInParameterList) {
            try UnmapParameterList.parse(list([(0, 1), (1, 1), (2, 1)]), unit: thin)
        }
    }

    @Test func tooManyBlocks() {
        #expect(throws: SenseReason.invalidFieldInParameterList) { try UnmapParameterList.parse(list([(0, 60), (100, 41)]), unit: thin) }
    }

    @Test func outOfRange() {
        #expect(throws: SenseReason.logicalBlockAddressOutOfRange) { try UnmapParameterList.parse(list([(999, 2)]), unit: thin) }
        #expect(throws: SenseReason.logicalBlockAddressOutOfRange) { try UnmapParameterList.parse(list([(UInt64.max, 1)]), unit: thin) }
    }
}

@Suite struct ReportSupportedOpcodesTests {
    @Test func allListsEveryCommandWithServiceActionFlags() throws {
        let data = try Emulator.reportSupportedOpcodes(ReportOpcodesRequest(
            includeTimeouts: false, options: .all, requestedOpcode: 0, requestedServiceAction: 0, allocationLength: 65535))
        let length = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
        #expect(length == Emulator.supportedCommands.count * 8)
        // Every descriptor with a non-zero service action has SERVACTV.
        for i in 0..<Emulator.supportedCommands.count {
            let d = Array(data[(4 + i * 8)..<(12 + i * 8)])
            if d[2] != 0 || d[3] != 0 { #expect(d[5] & 0x01 == 1) }
        }
    }

    @Test func everyParsedOpcodeIsListed() {
        for op in SCSIOpcode.allCases {
            #expect(Emulator.supportedCommands.contains { $0.opcode == op.rawValue }, "\(op)")
        }
        for c in Emulator.supportedCommands {
            #expect(c.usage.first == c.opcode)
            #expect(c.usage.count == SCSIOpcode(rawValue: c.opcode)?.cdbLength)
        }
    }

    @Test func oneCommandWithTimeouts() throws {
        let data = try Emulator.reportSupportedOpcodes(ReportOpcodesRequest(
            includeTimeouts: true, options: .opcode, requestedOpcode: 0x28, requestedServiceAction: 0, allocationLength: 512))
        #expect(data[1] == 0x83)
        #expect(data[2] == 0 && data[3] == 10)
        #expect(data[4] == 0x28)
        #expect(data.count == 4 + 10 + 12)
    }

    @Test func unsupportedOpcodeReportsSupport001() throws {
        let data = try Emulator.reportSupportedOpcodes(ReportOpcodesRequest(
            includeTimeouts: false, options: .opcode, requestedOpcode: 0xC0, requestedServiceAction: 0, allocationLength: 512))
        #expect(data == [0x00, 0x01, 0x00, 0x00])
    }
}

@Suite struct ProvisioningPagesTests {
    @Test func thinUnitReportsLBPMEAndLBPRZ() throws {
        var u = disk
        u.thinProvisioning = true
        u.readsZerosAfterUnmap = true
        let rc16 = try Emulator.execute(.readCapacity16(allocationLength: 32), unit: u, context: EmulationContext())
        #expect(rc16[14] == 0xC0)
        let b2 = try Emulator.execute(.inquiry(evpd: true, pageCode: 0xB2, allocationLength: 255), unit: u, context: EmulationContext())
        #expect(b2[5] == 0xE4)
        let b0 = try Emulator.execute(.inquiry(evpd: true, pageCode: 0xB0, allocationLength: 255), unit: u, context: EmulationContext())
        #expect(b0.count == 64)
        #expect(Array(b0[20..<24]) == [0x00, 0x10, 0x00, 0x00])  // MAXIMUM UNMAP LBA COUNT 1 Mi
    }

    @Test func fullUnitReportsNoProvisioning() throws {
        let rc16 = try Emulator.execute(.readCapacity16(allocationLength: 32), unit: disk, context: EmulationContext())
        #expect(rc16[14] == 0x00)
        let b2 = try Emulator.execute(.inquiry(evpd: true, pageCode: 0xB2, allocationLength: 255), unit: disk, context: EmulationContext())
        #expect(b2[5] == 0x00)
    }

    @Test func lbaStatusLayout() {
        let data = Emulator.lbaStatus([.init(lba: 0, blocks: 8, status: .mapped), .init(lba: 8, blocks: 2, status: .deallocated)])
        #expect(data.count == 40)
        #expect(Array(data[0..<4]) == [0, 0, 0, 36])
        #expect(data[8 + 16 + 12] == 1)
    }
}

@Test func fieldPointerSense() {
    let fixed = SenseData.build(.invalidFieldInCDBAt(byte: 2, bit: 2), format: .fixed)
    #expect(fixed[12] == 0x24 && fixed[15] == 0xCA && fixed[16] == 0 && fixed[17] == 2)
    let descriptor = SenseData.build(.invalidFieldInCDBAt(byte: 2, bit: nil), format: .descriptor)
    #expect(Array(descriptor[8...]) == [0x02, 0x06, 0x00, 0x00, 0xC0, 0x00, 0x02, 0x00])
}
