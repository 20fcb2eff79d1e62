// libFuzzer entry: ISCSIWire framing and decoding of received bytes (RFC 7143 §11).
//
// Input layout: byte 0 selects the framer limits (bit 0 header digest, bit 1 data digest,
// bits 2-3 the MaxRecvDataSegmentLength: 512 / 8192 / 262144 / 16777215), byte 1 the chunk size
// the rest is appended in (1...256 bytes, so resumption at every split point is exercised).
// Every framed PDU is decoded as an initiator PDU (what the target receives) and as a target PDU
// (what TestInitiator receives); a decoded PDU must survive encode → decode unchanged.
import ISCSIWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPDU(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    let mode = input[0]
    let chunk = Int(input[1]) + 1
    let segmentLimits = [512, 8192, 262_144, 16_777_215]
    let limits = FramerLimits(maxDataSegmentLength: segmentLimits[Int((mode >> 2) & 3)],
                              headerDigest: mode & 1 != 0, dataDigest: mode & 2 != 0)
    var framer = PDUFramer(limits: limits)
    var offset = 2
    var pdus = 0
    framing: while offset < input.count {
        let end = min(input.count, offset + chunk)
        framer.append(input[offset..<end])
        offset = end
        while true {
            let raw: RawPDU?
            do { raw = try framer.next() } catch { break framing }
            guard let raw else { break }
            pdus += 1
            check(raw, limits: limits)
        }
    }
    // Invariant: the framer never holds more than it was given.
    precondition(framer.bufferedByteCount <= input.count)
    _ = pdus
    return 0
}

func check(_ raw: RawPDU, limits: FramerLimits) {
    precondition(raw.bhs.count == BHS.size)
    precondition(raw.data.count <= limits.maxDataSegmentLength)
    _ = raw.info
    if let pdu = try? InitiatorPDU(bhs: raw.bhs, ahs: raw.ahs) {
        _ = pdu.opcode
        _ = pdu.initiatorTaskTag
        let ahs = pdu.encodedAHS()
        let bhs = pdu.encodeBHS(dataSegmentLength: raw.data.count, ahs: ahs)
        guard let again = try? InitiatorPDU(bhs: bhs, ahs: ahs) else {
            preconditionFailure("re-encoded initiator PDU does not decode: \(pdu)")
        }
        precondition(again == pdu, "initiator PDU round trip changed: \(pdu) → \(again)")
        let framed = pdu.encode(data: raw.data, headerDigest: limits.headerDigest, dataDigest: limits.dataDigest)
        var refr = PDUFramer(limits: limits)
        refr.append(framed)
        guard let back = try? refr.next() else { preconditionFailure("re-framed PDU does not frame") }
        precondition(back.data == raw.data)
    }
    if let pdu = try? TargetPDU(bhs: raw.bhs, ahs: raw.ahs) {
        let bhs = pdu.encodeBHS(dataSegmentLength: raw.data.count)
        _ = try? TargetPDU(bhs: bhs)
    }
    // SAM LUN decoding of whatever sits in the LUN field.
    var lun: UInt64 = 0
    for b in raw.bhs[8..<16] { lun = lun << 8 | UInt64(b) }
    _ = SAMLUN.decode(lun)
}
