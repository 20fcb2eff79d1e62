import Testing
import SCSICommands

let controlPageCurrent = hex("0A 0A 00 10 00 00 00 00 FF FF 00 00")

@Test("MODE SENSE(6) all pages golden bytes: header, short block descriptor, 01 08 0A 1C")
func modeSense6AllPages() throws {
    let data = try emulate("1A 00 3F 00 FF 00")
    var expected = hex("43 00 10 08 | 00 00 03 E8 00 00 02 00")
    expected += [0x01, 0x0A] + Array(repeating: 0, count: 10)
    expected += [0x08, 0x12] + Array(repeating: 0, count: 18)
    expected += controlPageCurrent
    expected += [0x1C, 0x0A] + Array(repeating: 0, count: 10)
    #expect(data == expected)
    #expect(Int(data[0]) == data.count - 1)
}

@Test("MODE SENSE: WP and DPOFUA in the device-specific parameter")
func modeSenseDeviceSpecific() throws {
    #expect(try emulate("1A 08 0A 00 FF 00")[2] == 0x10)
    #expect(try emulate("1A 08 0A 00 FF 00", unit: readOnlyDisk)[2] == 0x90)
}

@Test("Caching page: WCE follows IOMode=wb; changeable mask is zero")
func cachingPage() throws {
    var unit = disk
    unit.writeCacheEnabled = true
    #expect(try emulate("1A 08 08 00 FF 00", unit: unit) == hex("17 00 10 00 | 08 12 04") + Array(repeating: 0, count: 17))
    #expect(try emulate("1A 08 48 00 FF 00", unit: unit) == hex("17 00 10 00 | 08 12 00") + Array(repeating: 0, count: 17))
    #expect(try emulate("1A 08 08 00 FF 00")[6] == 0x00)
}

@Test("Control page: D_SENSE reflects the sense format; identical in 0A and 3F replies")
func controlPageDSense() throws {
    let descriptorContext = EmulationContext(lunList: [0], senseFormat: .descriptor)
    let direct = try emulate("1A 08 0A 00 FF 00", context: descriptorContext)
    #expect(Array(direct[4...]) == hex("0A 0A 04 10 00 00 00 00 FF FF 00 00"))
    let all = try emulate("1A 08 3F 00 FF 00", context: descriptorContext)
    #expect(all.count == 4 + 56)
    #expect(Array(all[(4 + 12 + 20)..<(4 + 12 + 20 + 12)]) == Array(direct[4...]))
    #expect(Array(try emulate("1A 08 0A 00 FF 00")[4...]) == controlPageCurrent)
}

@Test("Control page changeable values are all zero (libiscsi set_swp skips)")
func controlPageChangeable() throws {
    #expect(try emulate("1A 08 4A 00 FF 00") == hex("0F 00 10 00 | 0A 0A 00 00 00 00 00 00 00 00 00 00"))
}

@Test("Default values equal current values")
func defaultValues() throws {
    #expect(Array(try emulate("1A 00 BF 00 FF 00")[1...]) == Array(try emulate("1A 00 3F 00 FF 00")[1...]))
}

@Test("MODE SENSE(10) with LLBAA: 16-byte block descriptor, LONGLBA set")
func modeSense10LongLBA() throws {
    #expect(try emulate("5A 10 0A 00 00 00 00 00 FF 00") == hex("""
        00 22 00 10 01 00 00 10
        00 00 00 00 00 00 03 E8 00 00 00 00 00 00 02 00
        """) + controlPageCurrent)
}

@Test("MODE SENSE(10) without LLBAA: 8-byte descriptor; DBD drops it")
func modeSense10Short() throws {
    #expect(try emulate("5A 00 0A 00 00 00 00 00 FF 00")
            == hex("00 1A 00 10 00 00 00 08 | 00 00 03 E8 00 00 02 00") + controlPageCurrent)
    #expect(try emulate("5A 18 0A 00 00 00 00 00 FF 00") == hex("00 12 00 10 00 00 00 00") + controlPageCurrent)
}

@Test("Short block descriptor saturates NUMBER OF LOGICAL BLOCKS at FFFFFFFF")
func blockDescriptorSaturates() throws {
    var unit = disk
    unit.blockCount = 0x2_0000_0000
    unit.blockSize = 4096
    #expect(Array(try emulate("1A 00 0A 00 FF 00", unit: unit)[4..<12]) == hex("FF FF FF FF 00 00 10 00"))
}
