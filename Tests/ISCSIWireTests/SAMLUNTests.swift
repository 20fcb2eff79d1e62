import Testing
@testable import ISCSIWire

@Suite struct SAMLUNTests {
    // SAM-5 §4.7.5: peripheral device addressing below 256.
    @Test func peripheralBelow256() {
        #expect(SAMLUN.encode(0) == 0)
        #expect(SAMLUN.encode(1) == 0x0001_0000_0000_0000)
        #expect(SAMLUN.encode(255) == 0x00ff_0000_0000_0000)
    }

    // SAM-5 §4.7.7: flat space addressing from 256 to 16383.
    @Test func flatFrom256() {
        #expect(SAMLUN.encode(256) == 0x4100_0000_0000_0000)
        #expect(SAMLUN.encode(16383) == 0x7fff_0000_0000_0000)
    }

    // SAM-5 §4.7.8: extended flat space above the 14-bit range.
    @Test func extendedFlatAbove16383() {
        #expect(SAMLUN.encode(16384) == 0xd200_4000_0000_0000)
        #expect(SAMLUN.decode(0xd200_4000_0000_0000) == 16384)
    }

    @Test func everyValueRoundTrips() {
        for lun in 0...Int(UInt16.max) {
            let value = UInt16(lun)
            if SAMLUN.decode(SAMLUN.encode(value)) != value {
                Issue.record("LUN \(lun) does not round-trip")
                return
            }
        }
    }

    @Test func flatEncodingOfSmallLUNDecodes() {
        // Some initiators use flat addressing for every LUN.
        #expect(SAMLUN.decode(0x4000_0000_0000_0000) == 0)
        #expect(SAMLUN.decode(0x4005_0000_0000_0000) == 5)
    }

    @Test func rejectsNonSingleLevel() {
        #expect(SAMLUN.decode(0x0001_0001_0000_0000) == nil) // second level present
        #expect(SAMLUN.decode(0x0000_0000_0000_0001) == nil)
        #expect(SAMLUN.decode(0x4001_0000_0000_0001) == nil)
        #expect(SAMLUN.decode(0x0101_0000_0000_0000) == nil) // peripheral, bus 1
        #expect(SAMLUN.decode(0x8001_0000_0000_0000) == nil) // logical unit addressing
        #expect(SAMLUN.decode(0xe200_0000_0000_0000) == nil) // other extended method
        #expect(SAMLUN.decode(0xd201_0000_0000_0000) == nil) // 24-bit value over 16 bits
        #expect(SAMLUN.decode(0xd200_0001_0000_0001) == nil)
        #expect(SAMLUN.decode(0xffff_ffff_ffff_ffff) == nil)
    }
}
