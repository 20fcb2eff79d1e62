import Testing
import SCSICommands

func emulateMissing(_ cdb: String, context: EmulationContext = EmulationContext(lunList: [0])) throws -> [UInt8] {
    let parsed = try CommandParser.parseForMissingUnit(hex(cdb))
    guard case .emulated(let command) = parsed.command else {
        Issue.record("not emulated: \(parsed)")
        return []
    }
    return try Emulator.execute(command, unit: nil, context: context)
}

@Test("Missing LUN: standard INQUIRY has peripheral qualifier 3 / type 1Fh")
func missingUnitInquiry() throws {
    let data = try emulateMissing("12 00 00 00 FF 00")
    #expect(data[0] == 0x7F)
    #expect(Array(data[1...]) == Array(standardInquiryGolden[1...]))
}

@Test("Missing LUN: VPD 00h only")
func missingUnitVPD() throws {
    #expect(try emulateMissing("12 01 00 00 FF 00") == hex("7F 00 00 01 00"))
    #expect(throws: SenseReason.invalidFieldInCDB) { try CommandParser.parseForMissingUnit(hex("12 01 83 00 FF 00")) }
}

@Test("Missing LUN: REPORT LUNS works, REQUEST SENSE reports LOGICAL UNIT NOT SUPPORTED as data")
func missingUnitReportLUNsAndRequestSense() throws {
    #expect(try emulateMissing("A0 00 00 00 00 00 00 00 00 10 00 00", context: EmulationContext(lunList: [0]))
            == hex("00 00 00 08 00 00 00 00 00 00 00 00 00 00 00 00"))
    #expect(try emulateMissing("03 00 00 00 FF 00") == SenseData.build(.logicalUnitNotSupported, format: .fixed))
}

@Test("Missing LUN: everything else → LOGICAL UNIT NOT SUPPORTED", arguments: [
    "00 00 00 00 00 00", "28 00 00 00 00 00 00 00 01 00", "25 00 00 00 00 00 00 00 00 00", "1A 00 3F 00 FF 00",
    "C0 00 00 00 00 00", "2A 00 00 00 00 00 00 00 01 00",
])
func missingUnitOthers(_ cdb: String) {
    #expect(throws: SenseReason.logicalUnitNotSupported) { try CommandParser.parseForMissingUnit(hex(cdb)) }
}

@Test("Emulator refuses unit-bound commands without a unit")
func emulatorWithoutUnit() {
    for command: EmulatedCommand in [.testUnitReady, .startStopUnit, .readCapacity10, .readCapacity16(allocationLength: 32)] {
        #expect(throws: SenseReason.logicalUnitNotSupported) {
            try Emulator.execute(command, unit: nil, context: EmulationContext())
        }
    }
}
