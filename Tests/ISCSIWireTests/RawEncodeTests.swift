import Testing
@testable import ISCSIWire

/// One target PDU with distinctive field values and a data segment length, for the raw-encoder tests.
struct RawEncodeCase: Sendable, CustomTestStringConvertible {
    let name: String
    let pdu: TargetPDU
    let dataSegmentLength: Int
    var testDescription: String { name }
}

/// Every TargetPDU case, with no field equal to another (so a value written at the wrong offset shows).
let rawEncodeCases: [RawEncodeCase] = {
    var out: [RawEncodeCase] = []
    out.append(RawEncodeCase(name: "nopIn", pdu: .nopIn(NOPIn(
        lun: 0x0102_0304_0506_0708, initiatorTaskTag: 0x1111_2222, targetTransferTag: 0x3333_4444,
        statSN: 0x5555_6666, expCmdSN: 0x7777_8888, maxCmdSN: 0x9999_AAAA)), dataSegmentLength: 4))
    // RFC 7143 §11.4.1: byte 1 = 1 . . o u O U . — all 16 combinations of the four residual flags.
    for bits in 0..<16 {
        var p = SCSIResponsePDU(overflow: bits & 1 != 0, underflow: bits & 2 != 0, response: 0x01, status: 0x02,
                                initiatorTaskTag: 0x0A0B_0C0D, statSN: 0x1234_5678, expCmdSN: 0x2345_6789,
                                maxCmdSN: 0x3456_789A, expDataSN: 0x4567_89AB, residualCount: 0x5678_9ABC)
        p.bidiReadOverflow = bits & 4 != 0
        p.bidiReadUnderflow = bits & 8 != 0
        p.bidiReadResidualCount = 0x6789_ABCD
        out.append(RawEncodeCase(name: "scsiResponse flags=\(bits)", pdu: .scsiResponse(p), dataSegmentLength: 18))
    }
    out.append(RawEncodeCase(name: "taskManagementResponse", pdu: .taskManagementResponse(TaskManagementResponse(
        response: 0x05, initiatorTaskTag: 0xDEAD_0001, statSN: 0xDEAD_0002, expCmdSN: 0xDEAD_0003,
        maxCmdSN: 0xDEAD_0004)), dataSegmentLength: 0))
    out.append(RawEncodeCase(name: "loginResponse", pdu: .loginResponse(LoginResponse(
        transit: true, continueFlag: false, currentStage: 1, nextStage: 3, versionMax: 0x00, versionActive: 0x00,
        isid: 0x8012_3456_789A, tsih: 0xBEEF, initiatorTaskTag: 0x0102_0A0B, statSN: 0x1020_3040,
        expCmdSN: 0x5060_7080, maxCmdSN: 0x90A0_B0C0, statusClass: 0x02, statusDetail: 0x07)),
        dataSegmentLength: 0x1234))
    out.append(RawEncodeCase(name: "loginResponse continue", pdu: .loginResponse(LoginResponse(
        transit: false, continueFlag: true, currentStage: 0, nextStage: 1, versionMax: 0x01, versionActive: 0x02,
        isid: 0x0000_0000_0001, tsih: 0, initiatorTaskTag: 7, statSN: 8, expCmdSN: 9, maxCmdSN: 10)),
        dataSegmentLength: 8192))
    out.append(RawEncodeCase(name: "textResponse", pdu: .textResponse(TextResponse(
        final: false, continueFlag: true, lun: 0x0011_2233_4455_6677, initiatorTaskTag: 0x8899_AABB,
        targetTransferTag: 0xCCDD_EEFF, statSN: 0x0F0E_0D0C, expCmdSN: 0x0B0A_0908, maxCmdSN: 0x0706_0504)),
        dataSegmentLength: 0xFF_FFFF))
    out.append(RawEncodeCase(name: "dataIn with S", pdu: .dataIn(DataIn(
        final: true, acknowledge: false, overflow: true, underflow: false, statusPresent: true, status: 0x02,
        lun: 0x0A00_0000_0000_00B0, initiatorTaskTag: 0x0000_C0DE, targetTransferTag: 0xFFFF_FFFF,
        statSN: 0x1357_9BDF, expCmdSN: 0x2468_ACE0, maxCmdSN: 0x369C_F258, dataSN: 0x0000_0042,
        bufferOffset: 0x0010_0000, residualCount: 0x0000_0200)), dataSegmentLength: 512))
    out.append(RawEncodeCase(name: "dataIn with S underflow", pdu: .dataIn(DataIn(
        final: true, underflow: true, statusPresent: true, status: 0x00, lun: 3, initiatorTaskTag: 0x7000_0001,
        statSN: 11, expCmdSN: 12, maxCmdSN: 13, dataSN: 14, bufferOffset: 15, residualCount: 16)),
        dataSegmentLength: 1))
    // Without S the Status, StatSN and Residual Count are reserved: the round trip needs them 0 in the value.
    out.append(RawEncodeCase(name: "dataIn without S", pdu: .dataIn(DataIn(
        final: false, acknowledge: true, overflow: false, underflow: false, statusPresent: false, status: 0,
        lun: 0x0102_0000_0000_0000, initiatorTaskTag: 0xABCD_0123, targetTransferTag: 0x4567_89AB,
        statSN: 0, expCmdSN: 0x0C0C_0C0C, maxCmdSN: 0x0D0D_0D0D, dataSN: 0x0000_0E0E,
        bufferOffset: 0x00F0_0000, residualCount: 0)), dataSegmentLength: 262_144))
    out.append(RawEncodeCase(name: "logoutResponse", pdu: .logoutResponse(LogoutResponse(
        response: 0x02, initiatorTaskTag: 0x1010_2020, statSN: 0x3030_4040, expCmdSN: 0x5050_6060,
        maxCmdSN: 0x7070_8080, time2Wait: 0x0102, time2Retain: 0x0304)), dataSegmentLength: 0))
    out.append(RawEncodeCase(name: "r2t", pdu: .r2t(R2T(
        lun: 0x00FF_00FF_00FF_00FF, initiatorTaskTag: 0x0000_0101, targetTransferTag: 0x0000_0202,
        statSN: 0x0000_0303, expCmdSN: 0x0000_0404, maxCmdSN: 0x0000_0505, r2tSN: 0x0000_0606,
        bufferOffset: 0x0007_0000, desiredDataTransferLength: 0x0008_0000)), dataSegmentLength: 0))
    out.append(RawEncodeCase(name: "asyncMessage", pdu: .asyncMessage(AsyncMessage(
        lun: 0x4000_0000_0000_0000, statSN: 0xA1A1_A1A1, expCmdSN: 0xB2B2_B2B2, maxCmdSN: 0xC3C3_C3C3,
        asyncEvent: 0x01, asyncVCode: 0x7F, parameter1: 0x1122, parameter2: 0x3344, parameter3: 0x5566)),
        dataSegmentLength: 20))
    out.append(RawEncodeCase(name: "reject", pdu: .reject(Reject(
        reason: 0x09, statSN: 0xE1E2_E3E4, expCmdSN: 0xF1F2_F3F4, maxCmdSN: 0x0102_0304,
        dataSNOrR2TSN: 0x0506_0708)), dataSegmentLength: 48))
    return out
}()

/// A 64-byte buffer filled with 0xAA, encoded into with `encodeBHS(into:)`; returns all 64 bytes.
func rawEncoded(_ pdu: TargetPDU, dataSegmentLength: Int, ahsLength: Int = 0) -> [UInt8] {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
    defer { raw.deallocate() }
    raw.initializeMemory(as: UInt8.self, repeating: 0xAA, count: 64)
    pdu.encodeBHS(into: raw, dataSegmentLength: dataSegmentLength, ahsLength: ahsLength)
    return Array(UnsafeRawBufferPointer(start: raw, count: 64))
}

@Suite struct RawEncodeTests {
    @Test func everyTargetOpcodeIsCovered() {
        let covered = Set(rawEncodeCases.map(\.pdu.opcode))
        let targetOpcodes = Set(Opcode.allCases.filter { $0.rawValue >= 0x20 })
        #expect(covered == targetOpcodes)
    }

    // RFC 7143 §11: the 48 BHS bytes written into a dirty slot equal the array encoder's (reserved fields 0).
    @Test(arguments: rawEncodeCases)
    func rawBytesEqualTheArrayEncoding(_ c: RawEncodeCase) {
        let raw = rawEncoded(c.pdu, dataSegmentLength: c.dataSegmentLength)
        #expect(Array(raw[0..<48]) == c.pdu.encodeBHS(dataSegmentLength: c.dataSegmentLength))
    }

    @Test(arguments: rawEncodeCases)
    func rawBytesDecodeBackToTheSameValue(_ c: RawEncodeCase) throws {
        let raw = rawEncoded(c.pdu, dataSegmentLength: c.dataSegmentLength)
        #expect(try TargetPDU(bhs: raw[0..<48]) == c.pdu)
        // RFC 7143 §11.2.1.5: DataSegmentLength at bytes 5-7, big-endian; TotalAHSLength 0.
        #expect(BHSInfo.peek(Array(raw[0..<48])).dataSegmentLength == c.dataSegmentLength)
        #expect(raw[4] == 0)
        #expect(raw[0] == c.pdu.opcode.rawValue)
    }

    /// The encoder writes exactly 48 bytes: whatever follows the header slot is not touched.
    @Test(arguments: rawEncodeCases)
    func bytesPastTheBHSStayUntouched(_ c: RawEncodeCase) {
        let raw = rawEncoded(c.pdu, dataSegmentLength: c.dataSegmentLength)
        #expect(raw[48..<64].allSatisfy { $0 == 0xAA })
    }

    // RFC 7143 §11.7.4/§11.7.5: without S, Status, StatSN and Residual Count are reserved (0), whatever the value holds.
    @Test func dataInWithoutStatusZeroesTheStatusFields() {
        let p = DataIn(final: true, statusPresent: false, status: 0x02, lun: 1, initiatorTaskTag: 2, statSN: 0xFFFF_FFFF,
                       expCmdSN: 3, maxCmdSN: 4, dataSN: 5, bufferOffset: 6, residualCount: 0xFFFF_FFFF)
        let raw = rawEncoded(.dataIn(p), dataSegmentLength: 0)
        #expect(raw[1] & 0x01 == 0)
        #expect(raw[3] == 0)
        #expect(raw[24..<28].allSatisfy { $0 == 0 })
        #expect(raw[44..<48].allSatisfy { $0 == 0 })
        #expect(raw[48..<64].allSatisfy { $0 == 0xAA })
    }

    // RFC 7143 §11.2.1.4: TotalAHSLength counts padded 4-byte words; same as the array encoder's.
    @Test(arguments: [0, 1, 4, 5, 8, 1020])
    func ahsLengthIsEncodedInWords(_ ahsLength: Int) {
        let pdu = rawEncodeCases[0].pdu
        let raw = rawEncoded(pdu, dataSegmentLength: 0x01_0203, ahsLength: ahsLength)
        #expect(Int(raw[4]) == (ahsLength + 3) / 4)
        #expect(Array(raw[5..<8]) == [0x01, 0x02, 0x03])
        let array = pdu.encodeBHS(dataSegmentLength: 0x01_0203, ahs: [UInt8](repeating: 0, count: ahsLength))
        #expect(Array(raw[0..<48]) == array)
        #expect(raw[48..<64].allSatisfy { $0 == 0xAA })
    }

    /// RawBHSWriter: zeroes exactly 48 bytes, stores big-endian at the given offsets.
    @Test func rawWriterZeroesExactly48BytesAndStoresBigEndian() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xAA, count: 64)
        let w = RawBHSWriter(zeroing: raw)
        var bytes = Array(UnsafeRawBufferPointer(start: raw, count: 64))
        #expect(bytes[0..<48].allSatisfy { $0 == 0 })
        #expect(bytes[48..<64].allSatisfy { $0 == 0xAA })
        w[0] = 0x3F
        w.put16(1, 0x0102)          // unaligned offsets on purpose
        w.put24(5, 0xFF_0A0B_0C)    // only the low 24 bits
        w.put32(9, 0x1122_3344)
        w.put48(14, 0xFFFF_5566_7788_99AA)  // only the low 48 bits
        w.put64(21, 0xA1A2_A3A4_A5A6_A7A8)
        #expect(w[0] == 0x3F && w[2] == 0x02)
        bytes = Array(UnsafeRawBufferPointer(start: raw, count: 64))
        #expect(Array(bytes[0..<3]) == [0x3F, 0x01, 0x02])
        #expect(Array(bytes[5..<8]) == [0x0A, 0x0B, 0x0C])
        #expect(Array(bytes[9..<13]) == [0x11, 0x22, 0x33, 0x44])
        #expect(Array(bytes[14..<20]) == [0x55, 0x66, 0x77, 0x88, 0x99, 0xAA])
        #expect(Array(bytes[21..<29]) == [0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8])
        #expect(bytes[3] == 0 && bytes[4] == 0 && bytes[8] == 0 && bytes[13] == 0 && bytes[20] == 0)
        #expect(bytes[29..<48].allSatisfy { $0 == 0 })
        #expect(bytes[48..<64].allSatisfy { $0 == 0xAA })
    }
}
