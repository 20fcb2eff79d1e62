import Checksums
import Testing
@testable import ISCSIWire

@Suite struct EncoderTests {
    @Test func frameLayoutWithDigests() {
        let bhs = TargetPDU.nopIn(NOPIn(initiatorTaskTag: 1, targetTransferTag: reservedTag, statSN: 1, expCmdSN: 1, maxCmdSN: 1))
            .encodeBHS(dataSegmentLength: 5)
        let data: [UInt8] = [1, 2, 3, 4, 5]
        let wire = PDUEncoder.frame(bhs: bhs, data: data, headerDigest: true, dataDigest: true)
        // 48 BHS + 4 header digest + 5 data + 3 padding + 4 data digest.
        #expect(wire.count == 64)
        #expect(Array(wire[48..<52]) == CRC32C.wireBytes(CRC32C.checksum(bhs)))
        #expect(Array(wire[52..<57]) == data)
        #expect(Array(wire[57..<60]) == [0, 0, 0])
        #expect(Array(wire[60..<64]) == CRC32C.wireBytes(CRC32C.checksum(data + [0, 0, 0])))
    }

    @Test func frameWithoutDigests() {
        let bhs = [UInt8](repeating: 0, count: 48)
        let wire = PDUEncoder.frame(bhs: bhs, data: [9], headerDigest: false, dataDigest: false)
        #expect(wire.count == 52)
        #expect(wire[7] == 1) // DataSegmentLength patched in
        #expect(Array(wire[49...]) == [0, 0, 0])
    }

    @Test func frameWritesTotalAHSLengthAndPadsAHS() {
        let wire = PDUEncoder.frame(bhs: [UInt8](repeating: 0, count: 48), ahs: [0, 1, 60, 0, 0],
                                    data: [], headerDigest: false, dataDigest: false)
        #expect(wire[4] == 2)
        #expect(wire.count == 56)
    }

    @Test func headerDataTrailerEqualsFrame() {
        for length in [0, 1, 2, 3, 4, 5, 511, 512, 513] {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
            let pdu = TargetPDU.dataIn(DataIn(final: true, statusPresent: true, lun: 0, initiatorTaskTag: 1, statSN: 1,
                                              expCmdSN: 1, maxCmdSN: 1, dataSN: 0, bufferOffset: 0))
            let bhs = pdu.encodeBHS(dataSegmentLength: length)
            for (hd, dd) in [(false, false), (true, true), (true, false), (false, true)] {
                let whole = PDUEncoder.frame(bhs: bhs, data: data, headerDigest: hd, dataDigest: dd)
                let header = PDUEncoder.headerBytes(bhs: bhs, dataSegmentLength: length, headerDigest: hd)
                let trailer = data.withUnsafeBytes { PDUEncoder.trailerBytes(data: $0, dataDigest: dd) }
                #expect(header + data + trailer == whole)
                // Scatter variant: running CRC over two pieces.
                let split = length / 2
                var crc = CRC32C.update(CRC32C.initial, Array(data[..<split]))
                crc = CRC32C.update(crc, Array(data[split...]))
                #expect(PDUEncoder.trailerBytes(dataLength: length, runningDataCRC: crc, dataDigest: dd) == trailer)
            }
        }
    }

    @Test func targetEncodeRoundTripsThroughFramer() throws {
        for fixture in targetFixtures {
            let data = [UInt8](repeating: 0x33, count: 7)
            let wire = fixture.pdu.encode(data: data, headerDigest: true, dataDigest: true)
            var framer = PDUFramer(limits: FramerLimits(headerDigest: true, dataDigest: true))
            framer.append(wire)
            let raw = try #require(try framer.next())
            #expect(raw.data == data)
            #expect(try TargetPDU(bhs: raw.bhs, ahs: raw.ahs) == fixture.pdu)
        }
    }

    @Test func initiatorEncodeRoundTripsThroughFramer() throws {
        for fixture in initiatorFixtures {
            let wire = fixture.pdu.encode(data: [1, 2], headerDigest: true, dataDigest: false)
            var framer = PDUFramer(limits: FramerLimits(headerDigest: true))
            framer.append(wire)
            let raw = try #require(try framer.next())
            #expect(try InitiatorPDU(bhs: raw.bhs, ahs: raw.ahs) == fixture.pdu)
        }
    }
}
