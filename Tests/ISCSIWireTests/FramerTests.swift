import Checksums
import Testing
@testable import ISCSIWire

/// Full wire PDUs built from the fixtures: every fixture BHS with a data segment of a length that
/// exercises padding, under each digest setting.
func wireFixtures(headerDigest: Bool, dataDigest: Bool) -> [(bytes: [UInt8], pdu: RawPDU)] {
    var out: [(bytes: [UInt8], pdu: RawPDU)] = []
    let bhsList = initiatorFixtures.map { (hex($0.bhs), hex($0.ahs)) } + targetFixtures.map { (hex($0.bhs), [UInt8]()) }
    for (index, (bhs, ahs)) in bhsList.enumerated() {
        let data = (0..<(index * 5 % 23)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
        let wire = PDUEncoder.frame(bhs: bhs, ahs: ahs, data: data, headerDigest: headerDigest, dataDigest: dataDigest)
        var expectedBHS = bhs
        expectedBHS[5] = 0; expectedBHS[6] = 0; expectedBHS[7] = UInt8(data.count)
        out.append((wire, RawPDU(bhs: expectedBHS, ahs: ahs, data: data)))
    }
    return out
}

@Suite struct FramerTests {
    static let digestModes: [(Bool, Bool)] = [(false, false), (true, false), (false, true), (true, true)]

    @Test(arguments: 0..<4)
    func eachFixtureWholeByteWiseAndRandomChunks(mode: Int) throws {
        let (hd, dd) = Self.digestModes[mode]
        let limits = FramerLimits(maxDataSegmentLength: 8192, headerDigest: hd, dataDigest: dd)
        for (seed, fixture) in wireFixtures(headerDigest: hd, dataDigest: dd).enumerated() {
            for result in try framedEveryWay(fixture.bytes, limits: limits, seed: UInt64(seed)) {
                #expect(result == [fixture.pdu])
            }
        }
    }

    @Test(arguments: 0..<4)
    func backToBack(mode: Int) throws {
        let (hd, dd) = Self.digestModes[mode]
        let limits = FramerLimits(maxDataSegmentLength: 8192, headerDigest: hd, dataDigest: dd)
        let fixtures = wireFixtures(headerDigest: hd, dataDigest: dd)
        let stream = fixtures.flatMap(\.bytes)
        for result in try framedEveryWay(stream, limits: limits, seed: 99) {
            #expect(result == fixtures.map(\.pdu))
        }
        var framer = PDUFramer(limits: limits)
        framer.append(stream)
        #expect(framer.bufferedByteCount == stream.count)
        var count = 0
        while try framer.next() != nil { count += 1 }
        #expect(count == fixtures.count)
        #expect(framer.bufferedByteCount == 0)
    }

    // swift-asn1 pattern: every strict prefix needs more bytes and never throws.
    @Test(arguments: 0..<4)
    func everyStrictPrefixNeedsMore(mode: Int) throws {
        let (hd, dd) = Self.digestModes[mode]
        let limits = FramerLimits(maxDataSegmentLength: 8192, headerDigest: hd, dataDigest: dd)
        for fixture in wireFixtures(headerDigest: hd, dataDigest: dd) {
            for length in 0..<fixture.bytes.count {
                var framer = PDUFramer(limits: limits)
                framer.append(fixture.bytes[0..<length])
                #expect(try framer.next() == nil)
                #expect(framer.bufferedByteCount == length)
            }
        }
    }

    @Test func unsafeRawBufferAppend() throws {
        let fixture = wireFixtures(headerDigest: true, dataDigest: true)[3]
        var framer = PDUFramer(limits: FramerLimits(headerDigest: true, dataDigest: true))
        fixture.bytes.withUnsafeBytes { framer.append($0) }
        #expect(try framer.next() == fixture.pdu)
        #expect(try framer.next() == nil)
    }

    // RFC 7143 §13.12: DataSegmentLength over MaxRecvDataSegmentLength is rejected as soon as the
    // BHS is in, before any data arrives.
    @Test func oversizedDataSegmentRejectedAfterBHS() {
        var bhs = hex(initiatorFixtures[0].bhs)
        bhs[5] = 0x00; bhs[6] = 0x20; bhs[7] = 0x01 // 8193
        var framer = PDUFramer(limits: .login)
        framer.append(bhs.prefix(47))
        #expect(throws: Never.self) { try framer.next() }
        framer.append(bhs.suffix(1))
        #expect(throws: ProtocolError(.dataSegmentTooLong)) { try framer.next() }
        // Sticky: the stream cannot be resynchronised.
        #expect(throws: ProtocolError(.dataSegmentTooLong)) { try framer.next() }
    }

    @Test func dataSegmentAtLimitAccepted() throws {
        let data = [UInt8](repeating: 0x61, count: 8192)
        let wire = InitiatorPDU.text(TextRequest(initiatorTaskTag: 1, cmdSN: 1, expStatSN: 1)).encode(data: data)
        var framer = PDUFramer(limits: .login)
        framer.append(wire)
        #expect(try framer.next()?.data == data)
    }

    @Test func limitsSwitchAfterLogin() throws {
        var framer = PDUFramer(limits: .login)
        let login = InitiatorPDU.login(LoginRequest(transit: true, currentStage: 1, nextStage: 3, isid: 1,
                                                   initiatorTaskTag: 0, cmdSN: 0))
        framer.append(login.encode(data: Array("a=b\0".utf8)))
        #expect(try framer.next() != nil)
        framer.limits = FramerLimits(maxDataSegmentLength: 65536, headerDigest: true, dataDigest: true)
        let data = [UInt8](repeating: 7, count: 20000)
        let out = InitiatorPDU.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: 1, targetTransferTag: 2,
                                               expStatSN: 1, dataSN: 0, bufferOffset: 0))
        framer.append(out.encode(data: data, headerDigest: true, dataDigest: true))
        #expect(try framer.next()?.data == data)
    }

    @Test func oversizedAHSRejectedAfterBHS() {
        var bhs = hex(initiatorFixtures[1].bhs)
        bhs[4] = 9 // 36 bytes
        var framer = PDUFramer(limits: FramerLimits(maxAHSLength: 32))
        framer.append(bhs)
        #expect(throws: ProtocolError(.ahsTooLong)) { try framer.next() }
    }

    // RFC 7143 §11.2.2: an AHSLength that does not fit TotalAHSLength is garbage.
    @Test func bogusAHSLengthRejected() {
        var bhs = hex(initiatorFixtures[1].bhs)
        bhs[4] = 2
        var framer = PDUFramer(limits: .login)
        framer.append(bhs + [0x00, 0x40, 0x01, 0x00, 0, 0, 0, 0])
        #expect(throws: ProtocolError(.invalidAHS)) { try framer.next() }
    }

    // RFC 7143 §13.1: header digest over BHS+AHS.
    @Test func headerDigestMismatchDetected() {
        var wire = wireFixtures(headerDigest: true, dataDigest: false)[2].bytes
        wire[20] ^= 0x01 // flip a bit in the BHS
        var framer = PDUFramer(limits: FramerLimits(headerDigest: true))
        framer.append(wire)
        #expect(throws: ProtocolError(.headerDigestMismatch)) { try framer.next() }
    }

    @Test func headerDigestMismatchDetectedBeforeData() {
        // The header is verified as soon as it is complete, without waiting for the data.
        let bhs = InitiatorPDU.text(TextRequest(initiatorTaskTag: 1, cmdSN: 1, expStatSN: 1)).encodeBHS(dataSegmentLength: 100)
        var header = PDUEncoder.headerBytes(bhs: bhs, dataSegmentLength: 100, headerDigest: true)
        header[header.count - 1] ^= 0xff
        var framer = PDUFramer(limits: FramerLimits(headerDigest: true))
        framer.append(header)
        #expect(throws: ProtocolError(.headerDigestMismatch)) { try framer.next() }
    }

    // RFC 7143 §13.1: data digest over data + padding.
    @Test func dataDigestMismatchDetected() {
        let fixture = wireFixtures(headerDigest: false, dataDigest: true)[1]
        #expect(fixture.pdu.data.count > 0)
        var wire = fixture.bytes
        wire[48] ^= 0x80 // first data byte
        var framer = PDUFramer(limits: FramerLimits(dataDigest: true))
        framer.append(wire)
        #expect(throws: ProtocolError(.dataDigestMismatch)) { try framer.next() }
    }

    @Test func nonZeroPaddingIsCoveredByDataDigest() {
        // 5 data bytes + 3 padding bytes; corrupt the padding.
        var wire = InitiatorPDU.text(TextRequest(initiatorTaskTag: 1, cmdSN: 1, expStatSN: 1))
            .encode(data: [1, 2, 3, 4, 5], dataDigest: true)
        wire[48 + 6] = 0xff
        var framer = PDUFramer(limits: FramerLimits(dataDigest: true))
        framer.append(wire)
        #expect(throws: ProtocolError(.dataDigestMismatch)) { try framer.next() }
    }

    // RFC 7143 §11.1: no data digest when DataSegmentLength is 0.
    @Test func noDataDigestWithoutData() throws {
        let wire = InitiatorPDU.nopOut(NOPOut(initiatorTaskTag: 1, cmdSN: 1, expStatSN: 1))
            .encode(headerDigest: true, dataDigest: true)
        #expect(wire.count == 52)
        var framer = PDUFramer(limits: FramerLimits(headerDigest: true, dataDigest: true))
        framer.append(wire)
        #expect(try framer.next() != nil)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func largeStreamIsLinear() throws {
        // 2000 PDUs of 4 KiB fed in 1500-byte chunks: finishes quickly only without quadratic copying.
        let data = [UInt8](repeating: 0x5a, count: 4096)
        let one = InitiatorPDU.dataOut(DataOut(final: true, lun: 0, initiatorTaskTag: 1, targetTransferTag: 2,
                                               expStatSN: 1, dataSN: 0, bufferOffset: 0))
            .encode(data: data, headerDigest: true, dataDigest: true)
        var stream: [UInt8] = []
        stream.reserveCapacity(one.count * 2000)
        for _ in 0..<2000 { stream.append(contentsOf: one) }
        let pdus = try frame(stream, chunkSizes: [1500],
                             limits: FramerLimits(maxDataSegmentLength: 8192, headerDigest: true, dataDigest: true))
        #expect(pdus.count == 2000)
    }

    @Test func randomBytesOnlyEverThrowProtocolError() {
        // Deterministic fuzzing: random buffers (half of them with a plausible BHS start) through
        // the framer and the decoders. Typed throws guarantee only ProtocolError can escape; the
        // test checks nothing traps and the framer makes progress or stops.
        var rng = SplitMix64(seed: 0xC0FFEE)
        var decoded = 0
        for iteration in 0..<10_000 {
            let length = Int.random(in: 0...300, using: &rng)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if iteration % 2 == 0 && bytes.count >= 8 {
                bytes[4] = UInt8.random(in: 0...3, using: &rng)
                bytes[5] = 0; bytes[6] = 0; bytes[7] = UInt8.random(in: 0...64, using: &rng)
            }
            let limits = FramerLimits(maxDataSegmentLength: 8192, headerDigest: iteration % 3 == 0,
                                      dataDigest: iteration % 5 == 0)
            var framer = PDUFramer(limits: limits)
            var index = 0
            do {
                while index < bytes.count {
                    let end = min(bytes.count, index + Int.random(in: 1...64, using: &rng))
                    framer.append(bytes[index..<end])
                    index = end
                    while let pdu = try framer.next() {
                        decoded += 1
                        _ = try? InitiatorPDU(bhs: pdu.bhs, ahs: pdu.ahs)
                        _ = try? TargetPDU(bhs: pdu.bhs, ahs: pdu.ahs)
                    }
                }
            } catch {
                #expect(error.code != .truncated)
            }
            // The decoders on raw 48-byte windows too.
            if bytes.count >= 48 {
                _ = try? InitiatorPDU(bhs: bytes[0..<48], ahs: Array(bytes[48...].prefix(Int(bytes[4]) * 4)))
                _ = try? TargetPDU(bhs: bytes[0..<48])
                _ = try? AdditionalHeaderSegment.parse(Array(bytes[48...]))
            }
        }
        #expect(decoded > 0)
    }
}
