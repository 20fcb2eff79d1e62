import Testing
@testable import ISCSIWire

@Suite struct InitiatorCodecTests {
    @Test(arguments: initiatorFixtures)
    func decodesFixture(_ fixture: InitiatorFixture) throws {
        let bhs = hex(fixture.bhs)
        #expect(bhs.count == 48)
        let decoded = try InitiatorPDU(bhs: bhs, ahs: hex(fixture.ahs))
        #expect(decoded == fixture.pdu)
    }

    @Test(arguments: initiatorFixtures)
    func encodesFixture(_ fixture: InitiatorFixture) {
        let bhs = hex(fixture.bhs)
        let ahs = fixture.pdu.encodedAHS()
        #expect(ahs == hex(fixture.ahs))
        #expect(fixture.pdu.encodeBHS(dataSegmentLength: BHSInfo.peek(bhs).dataSegmentLength, ahs: ahs) == bhs)
    }

    // The receive path refills a finished command's CDB array: same PDU, and a spare still shared elsewhere is
    // copied, never written through.
    @Test(arguments: initiatorFixtures)
    func decodesFixtureIntoASpareCDB(_ fixture: InitiatorFixture) throws {
        let bhs = hex(fixture.bhs)
        let other = [UInt8](repeating: 0xAB, count: 16)
        var spare = other
        let decoded = try InitiatorPDU(bhs: bhs, ahs: hex(fixture.ahs), reusingCDB: &spare)
        #expect(decoded == fixture.pdu)
        #expect(other == [UInt8](repeating: 0xAB, count: 16))
        if case .scsiCommand = fixture.pdu { #expect(spare.isEmpty) } else { #expect(spare == other) }
        var wrongSize: [UInt8] = [1, 2, 3]
        #expect(try InitiatorPDU(bhs: bhs, ahs: hex(fixture.ahs), reusingCDB: &wrongSize) == fixture.pdu)
        #expect(wrongSize == [1, 2, 3])
    }

    @Test func targetOpcodeIsNotAnInitiatorPDU() {
        let bhs = hex(targetFixtures[0].bhs)
        #expect(throws: ProtocolError(.unknownOpcode)) { try InitiatorPDU(bhs: bhs) }
    }

    // RFC 7143 §11.2.1.2: undefined opcodes are rejected.
    @Test(arguments: [UInt8(0x07), 0x0f, 0x1c, 0x1f])
    func unknownOpcodeThrows(_ opcode: UInt8) {
        var bhs = [UInt8](repeating: 0, count: 48)
        bhs[0] = opcode
        #expect(throws: ProtocolError(.unknownOpcode)) { try InitiatorPDU(bhs: bhs) }
    }

    @Test func bhsMustBe48Bytes() {
        #expect(throws: ProtocolError(.truncated)) { try InitiatorPDU(bhs: [UInt8](repeating: 0, count: 47)) }
        #expect(throws: ProtocolError(.truncated)) { try InitiatorPDU(bhs: [UInt8](repeating: 0, count: 49)) }
    }

    @Test func decodesFromArraySlice() throws {
        let bytes = [0xee] + hex(initiatorFixtures[0].bhs) + [0xee]
        #expect(try InitiatorPDU(bhs: bytes[1..<49]) == initiatorFixtures[0].pdu)
    }

    // RFC 7143 §11: receivers ignore reserved fields.
    @Test func reservedBytesAreIgnored() throws {
        var bhs = hex(initiatorFixtures[0].bhs) // NOP-Out: bytes 32-47 reserved
        for i in 32..<48 { bhs[i] = 0xa5 }
        bhs[0] |= 0x80 // byte 0 bit 7 reserved
        #expect(try InitiatorPDU(bhs: bhs) == initiatorFixtures[0].pdu)
    }

    // RFC 7143 §11.2.1.4: TotalAHSLength must match the AHS bytes handed over.
    @Test func totalAHSLengthMismatchThrows() {
        let fixture = initiatorFixtures[2]
        let bhs = hex(fixture.bhs)
        #expect(throws: ProtocolError(.invalidAHS)) { try InitiatorPDU(bhs: bhs, ahs: []) }
        #expect(throws: ProtocolError(.invalidAHS)) { try InitiatorPDU(bhs: bhs, ahs: hex(fixture.ahs) + [0, 0, 0, 0]) }
    }

    // RFC 7143 §11.2.2: an AHSLength that runs past TotalAHSLength is garbage.
    @Test func ahsLengthPastEndThrows() {
        var bhs = hex(initiatorFixtures[1].bhs)
        bhs[4] = 1
        #expect(throws: ProtocolError(.invalidAHS)) { try InitiatorPDU(bhs: bhs, ahs: [0x00, 0x02, 0x01, 0x00]) }
        #expect(throws: ProtocolError(.invalidAHS)) { try InitiatorPDU(bhs: bhs, ahs: [0xff, 0xff, 0x01, 0x00]) }
    }

    // RFC 7143 §11.3.4: the Bidirectional Read Length AHS has AHSLength 5.
    @Test func malformedBidiAHSThrows() {
        var bhs = hex(initiatorFixtures[1].bhs)
        bhs[4] = 2
        #expect(throws: ProtocolError(.invalidAHS)) {
            try InitiatorPDU(bhs: bhs, ahs: [0x00, 0x04, 0x02, 0x00, 0, 0, 1, 0])
        }
    }

    @Test func duplicateExtendedCDBThrows() {
        var bhs = hex(initiatorFixtures[1].bhs)
        bhs[4] = 4
        let ext: [UInt8] = [0x00, 0x05, 0x01, 0x00, 1, 2, 3, 4]
        #expect(throws: ProtocolError(.invalidAHS)) { try InitiatorPDU(bhs: bhs, ahs: ext + ext) }
    }

    @Test func unsupportedAHSTypeThrows() {
        var bhs = hex(initiatorFixtures[1].bhs)
        bhs[4] = 1
        #expect(throws: ProtocolError(.invalidAHS)) { try InitiatorPDU(bhs: bhs, ahs: [0x00, 0x01, 0x00, 0x00]) }
        #expect(throws: ProtocolError(.invalidAHS)) { try InitiatorPDU(bhs: bhs, ahs: [0x00, 0x01, 0x05, 0x00]) }
    }

    // RFC 7143 §11.2.2.1: types 60-63 are non-iSCSI extensions; ignored.
    @Test func vendorAHSTypeIsIgnored() throws {
        var bhs = hex(initiatorFixtures[1].bhs)
        bhs[4] = 1
        #expect(try InitiatorPDU(bhs: bhs, ahs: [0x00, 0x01, 60, 0x00]) == initiatorFixtures[1].pdu)
    }

    @Test func extendedCDBOfOddLengthRoundTrips() throws {
        // 20-byte CDB: Extended CDB AHS carries 4 bytes, AHSLength 5, padded to 8.
        let cdb = (0..<20).map { UInt8($0) }
        let pdu = InitiatorPDU.scsiCommand(SCSICommandPDU(read: true, write: false, lun: 0, initiatorTaskTag: 1,
                                                          expectedDataTransferLength: 0, cmdSN: 1, expStatSN: 1, cdb: cdb))
        let ahs = pdu.encodedAHS()
        #expect(ahs == [0x00, 0x05, 0x01, 0x00, 16, 17, 18, 19])
        let bhs = pdu.encodeBHS(dataSegmentLength: 0, ahs: ahs)
        #expect(bhs[4] == 2)
        #expect(try InitiatorPDU(bhs: bhs, ahs: ahs) == pdu)
    }

    // RFC 7143 §11.12: the Login Request always carries the I bit.
    @Test func loginRequestSetsImmediateBit() {
        guard case .login = initiatorFixtures[4].pdu else { Issue.record("fixture order"); return }
        #expect(initiatorFixtures[4].pdu.encodeBHS(dataSegmentLength: 0)[0] == 0x43)
    }

    @Test func encodeWritesLengths() {
        let bhs = initiatorFixtures[0].pdu.encodeBHS(dataSegmentLength: 0x12_3456)
        #expect(Array(bhs[4...7]) == [0x00, 0x12, 0x34, 0x56])
    }
}

@Suite struct TargetCodecTests {
    @Test(arguments: targetFixtures)
    func decodesFixture(_ fixture: TargetFixture) throws {
        let bhs = hex(fixture.bhs)
        #expect(bhs.count == 48)
        #expect(try TargetPDU(bhs: bhs) == fixture.pdu)
    }

    @Test(arguments: targetFixtures)
    func encodesFixture(_ fixture: TargetFixture) {
        let bhs = hex(fixture.bhs)
        #expect(fixture.pdu.encodeBHS(dataSegmentLength: BHSInfo.peek(bhs).dataSegmentLength) == bhs)
    }

    @Test func initiatorOpcodeIsNotATargetPDU() {
        #expect(throws: ProtocolError(.unknownOpcode)) { try TargetPDU(bhs: hex(initiatorFixtures[0].bhs)) }
    }

    @Test(arguments: [UInt8(0x27), 0x30, 0x33, 0x3c, 0x3e])
    func unknownOpcodeThrows(_ opcode: UInt8) {
        var bhs = [UInt8](repeating: 0, count: 48)
        bhs[0] = opcode
        #expect(throws: ProtocolError(.unknownOpcode)) { try TargetPDU(bhs: bhs) }
    }

    // RFC 7143 §11.7.4/§11.7.5: without S, Status, StatSN and Residual Count are not encoded.
    @Test func dataInWithoutStatusEncodesNoStatus() {
        let pdu = TargetPDU.dataIn(DataIn(final: false, statusPresent: false, status: 2, lun: 0, initiatorTaskTag: 1,
                                          statSN: 77, expCmdSN: 1, maxCmdSN: 2, dataSN: 0, bufferOffset: 0,
                                          residualCount: 99))
        let bhs = pdu.encodeBHS(dataSegmentLength: 512)
        #expect(bhs[3] == 0)
        #expect(Array(bhs[24..<28]) == [0, 0, 0, 0])
        #expect(Array(bhs[44..<48]) == [0, 0, 0, 0])
    }

    @Test func dataInWithoutStatusDecodesNoStatus() throws {
        var bhs = hex(targetFixtures[8].bhs) // Data-In without status
        bhs[3] = 0x02
        bhs[24] = 0x55
        bhs[47] = 0x66
        #expect(try TargetPDU(bhs: bhs) == targetFixtures[8].pdu)
    }

    // RFC 7143 §11.9, §11.17: Async Message and Reject carry ITT 0xffffffff.
    @Test func asyncAndRejectUseReservedTag() {
        for fixture in [targetFixtures[11], targetFixtures[12]] {
            let bhs = fixture.pdu.encodeBHS(dataSegmentLength: 0)
            #expect(Array(bhs[16..<20]) == [0xff, 0xff, 0xff, 0xff])
        }
    }
}

@Suite struct BHSInfoTests {
    @Test func peekReadsHeaderFields() {
        var bhs = hex(initiatorFixtures[2].bhs)
        bhs[5] = 0x01; bhs[6] = 0x02; bhs[7] = 0x03
        let info = BHSInfo.peek(bhs)
        #expect(info.opcode == 0x01)
        #expect(info.knownOpcode == .scsiCommand)
        #expect(info.immediate)
        #expect(info.flags == 0xe2)
        #expect(info.totalAHSLength == 28)
        #expect(info.dataSegmentLength == 0x01_0203)
        #expect(info.initiatorTaskTag == 0x0b)
    }

    @Test func peekNeverTrapsOnShortInput() {
        for n in 0..<48 {
            let info = BHSInfo.peek([UInt8](repeating: 0xff, count: n))
            #expect(info.opcode <= 0x3f)
        }
    }
}

@Suite struct PaddingTests {
    @Test func paddedLengthRoundsUpToWords() {
        #expect(paddedLength(0) == 0)
        #expect(paddedLength(1) == 4)
        #expect(paddedLength(4) == 4)
        #expect(paddedLength(5) == 8)
        #expect(paddedLength(-3) == 0)
        #expect(paddedLength(Int.max) == Int.max & ~3)
    }
}
