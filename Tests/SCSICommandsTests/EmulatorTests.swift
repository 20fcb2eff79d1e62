import Testing
import SCSICommands

/// Parses `cdb` against `unit`, then executes the emulated command.
func emulate(_ cdb: String, unit: LogicalUnitInfo = disk, context: EmulationContext = EmulationContext(lunList: [0])) throws -> [UInt8] {
    let parsed = try CommandParser.parse(hex(cdb), unit: unit)
    guard case .emulated(let command) = parsed.command else {
        Issue.record("not emulated: \(parsed)")
        return []
    }
    return try Emulator.execute(command, unit: unit, context: context)
}

// MARK: - INQUIRY (IET identity, anchors §1.7)

let standardInquiryGolden = hex("""
    00 00 05 02 45 08 00 02
    49 45 54 20 20 20 20 20
    56 49 52 54 55 41 4C 2D 44 49 53 4B 20 20 20 20
    30 20 20 20
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00 60 09 60 03 00 04 C0 00 00 00 00 00 00 00 00
    """)

@Test("Standard INQUIRY golden bytes: IET / VIRTUAL-DISK / 0, SPC-3, CMDQUE, SBC-3 claimed")
func standardInquiry() throws {
    let data = try emulate("12 00 00 01 04 00")
    #expect(data == standardInquiryGolden)
    // libiscsi Inquiry.Standard: ADDITIONAL LENGTH = size − 5; AERC/TRMTSK clear.
    #expect(Int(data[4]) == data.count - 5)
    #expect(data[3] & 0xC0 == 0)
}

@Test("INQUIRY vendor/product/revision are space padded and cut to width")
func inquiryFieldWidths() throws {
    var unit = disk
    unit.vendor = "ABCDEFGHIJ"
    unit.product = "P\u{1}Q"
    unit.revision = "12345"
    let data = try emulate("12 00 00 00 FF 00", unit: unit)
    #expect(Array(data[8..<16]) == Array("ABCDEFGH".utf8))
    #expect(Array(data[16..<32]) == Array("P Q             ".utf8))
    #expect(Array(data[32..<36]) == Array("1234".utf8))
}

@Test("VPD 00h lists 00 80 83 8F B0 B1 B2")
func vpdSupportedPages() throws {
    #expect(try emulate("12 01 00 00 FF 00") == hex("00 00 00 07 00 80 83 8F B0 B1 B2"))
}

@Test("VPD 80h: IET serial right-aligned, space-padded to 16")
func vpdSerialShort() throws {
    #expect(try emulate("12 01 80 00 FF 00") == hex("00 80 00 10 20 20 20 20 20 20 20 20 20 20 20 20 53 4E 34 32"))
}

@Test("VPD 80h: serial longer than 16 → 32 bytes; longer than 32 is cut; empty → 16 spaces")
func vpdSerialLong() throws {
    var unit = disk
    unit.serialNumber = String(repeating: "A", count: 20)
    var data = try emulate("12 01 80 00 FF 00", unit: unit)
    #expect(data.count == 36 && data[3] == 32)
    #expect(Array(data[4..<16]) == Array(repeating: 0x20, count: 12))
    #expect(Array(data[16...]) == Array(repeating: 0x41, count: 20))
    unit.serialNumber = String(repeating: "B", count: 40)
    data = try emulate("12 01 80 00 FF 00", unit: unit)
    #expect(data.count == 36 && Array(data[4...]) == Array(repeating: 0x42, count: 32))
    unit.serialNumber = ""
    data = try emulate("12 01 80 00 FF 00", unit: unit)
    #expect(data == [0x00, 0x80, 0x00, 0x10] + Array(repeating: 0x20, count: 16))
}

@Test("VPD 83h golden bytes: one T10 vendor ID designator, binary, IET zero-padded + ScsiId")
func vpdDeviceIdentification() throws {
    #expect(try emulate("12 01 83 00 FF 00") == hex("""
        00 83 00 1C 01 01 00 18
        49 45 54 00 00 00 00 00
        30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66
        """))
}

@Test("VPD 83h: short ScsiId zero-padded, long ScsiId cut to 16")
func vpdDeviceIdentificationPadding() throws {
    var unit = disk
    unit.scsiID = [0xAA, 0xBB]
    var data = try emulate("12 01 83 00 FF 00", unit: unit)
    #expect(Array(data[16...]) == [0xAA, 0xBB] + Array(repeating: 0, count: 14))
    unit.scsiID = Array(0..<40)
    data = try emulate("12 01 83 00 FF 00", unit: unit)
    #expect(Array(data[16...]) == Array(0..<16))
}

@Test("VPD B0h Block Limits: page length 3Ch, limits from the unit, no UNMAP on a fully provisioned unit")
func vpdBlockLimits() throws {
    let data = try emulate("12 01 B0 00 40 00")
    // MAXIMUM COMPARE AND WRITE LENGTH FFh; MAXIMUM WRITE SAME LENGTH capped at MAXIMUM TRANSFER LENGTH (256).
    #expect(data == hex("00 B0 00 3C 00 FF 00 01 00 00 01 00 00 00 00 40") + Array(repeating: 0, count: 20)
        + hex("00 00 00 00 00 00 01 00") + Array(repeating: 0, count: 20))
    var unit = disk
    unit.physicalBlockExponent = 3
    #expect(try emulate("12 01 B0 00 40 00", unit: unit)[6...7] == [0x00, 0x08])
}

@Test("VPD B1h and B2h")
func vpdCharacteristicsAndProvisioning() throws {
    var unit = disk
    unit.mediumRotationRate = 1
    let b1 = try emulate("12 01 B1 00 FF 00", unit: unit)
    #expect(b1 == hex("00 B1 00 3C 00 01") + Array(repeating: 0, count: 58))
    #expect(try emulate("12 01 B2 00 FF 00") == hex("00 B2 00 04 00 00 00 00"))
}

@Test("Every listed VPD page can be read (libiscsi Inquiry.SupportedVPD)")
func everyListedVPDPageReads() throws {
    let list = try emulate("12 01 00 00 FF 00")
    for page in list[4...] {
        let data = try emulate("12 01 \(String(page >> 4, radix: 16))\(String(page & 0x0F, radix: 16)) 00 FF 00")
        #expect(data[1] == page)
        #expect(Int(data[2]) << 8 | Int(data[3]) == data.count - 4)
    }
}

// MARK: - READ CAPACITY

@Test("READ CAPACITY(10) and (16) golden bytes")
func readCapacity() throws {
    #expect(try emulate("25 00 00 00 00 00 00 00 00 00") == hex("00 00 03 E7 00 00 02 00"))
    #expect(try emulate("9E 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00")
            == hex("00 00 00 00 00 00 03 E7 00 00 02 00 00 00 00 00") + Array(repeating: 0, count: 16))
}

@Test("READ CAPACITY(10) saturates at FFFFFFFF; (16) carries the full LBA and LBPPBE")
func readCapacityLarge() throws {
    var unit = disk
    unit.blockCount = 0x1_0000_0001
    unit.blockSize = 4096
    unit.physicalBlockExponent = 0x13  // only the low nibble is reported
    #expect(try emulate("25 00 00 00 00 00 00 00 00 00", unit: unit) == hex("FF FF FF FF 00 00 10 00"))
    let rc16 = try emulate("9E 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00", unit: unit)
    #expect(Array(rc16[0..<14]) == hex("00 00 00 01 00 00 00 00 00 00 10 00 00 03"))
    // Exactly FFFFFFFF blocks: last LBA FFFFFFFE still fits READ CAPACITY(10).
    unit.blockCount = 0xFFFF_FFFF
    #expect(Array(try emulate("25 00 00 00 00 00 00 00 00 00", unit: unit)[0..<4]) == hex("FF FF FF FE"))
}

@Test("READ CAPACITY on an empty medium reports LBA 0 without trapping")
func readCapacityEmpty() throws {
    var unit = disk
    unit.blockCount = 0
    #expect(try emulate("25 00 00 00 00 00 00 00 00 00", unit: unit) == hex("00 00 00 00 00 00 02 00"))
}

// MARK: - REPORT LUNS

@Test("REPORT LUNS: sorted, de-duplicated, SAM LUN encoding")
func reportLUNs() throws {
    let context = EmulationContext(lunList: [300, 0, 1, 1, 20000])
    let data = try emulate("A0 00 00 00 00 00 00 00 00 10 00 00", context: context)
    #expect(data == hex("""
        00 00 00 20 00 00 00 00
        00 00 00 00 00 00 00 00
        00 01 00 00 00 00 00 00
        41 2C 00 00 00 00 00 00
        D2 00 4E 20 00 00 00 00
        """))
}

@Test("REPORT LUNS SELECT REPORT 01h (well-known only) is empty")
func reportLUNsWellKnown() throws {
    let data = try emulate("A0 00 01 00 00 00 00 00 00 10 00 00", context: EmulationContext(lunList: [0, 1]))
    #expect(data == hex("00 00 00 00 00 00 00 00"))
}

// MARK: - REQUEST SENSE

@Test("REQUEST SENSE: NO SENSE when nothing pending, pending sense in the DESC format")
func requestSense() throws {
    #expect(try emulate("03 00 00 00 12 00") == SenseData.build(.noSense, format: .fixed))
    let context = EmulationContext(lunList: [0], senseFormat: .fixed, pendingSense: .powerOnResetOccurred)
    #expect(try emulate("03 01 00 00 FF 00", context: context) == hex("72 06 29 00 00 00 00 00"))
    #expect(try emulate("03 00 00 00 FF 00", context: context) == SenseData.build(.powerOnResetOccurred, format: .fixed))
}

// MARK: - No-data commands

@Test("TEST UNIT READY and START STOP UNIT return no data")
func noData() throws {
    #expect(try emulate("00 00 00 00 00 00").isEmpty)
    #expect(try emulate("1B 00 00 00 01 00").isEmpty)
}
