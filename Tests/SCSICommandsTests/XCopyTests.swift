import Testing
@testable import SCSICommands

// EXTENDED COPY (LID1) parameter lists, copy-target resolution and RECEIVE COPY RESULTS data (SPC-4 §6.4, §6.18).

/// A second unit of the same target (different ScsiId).
private let otherDisk = LogicalUnitInfo(lun: 1, blockSize: 512, blockCount: 4000,
                                        scsiID: Array("fedcba9876543210".utf8), serialNumber: "SN43")

/// An E4h identification CSCD descriptor naming `unit` the way libiscsi builds it: the VPD 83h designator copied
/// into bytes 4…, the 20-byte DESIGNATOR field then overwritten from byte 28 by the block device parameters.
private func cscd(_ unit: LogicalUnitInfo = disk, type: UInt8 = 0xE4, byte1: UInt8 = 0x00, blockLength: UInt32? = nil) -> [UInt8] {
    var d = [UInt8](repeating: 0, count: 32)
    d[0] = type
    d[1] = byte1
    let designator = Emulator.designators(of: unit)[0]
    d[4] = designator.codeSet
    d[5] = designator.association << 4 | designator.type
    d[7] = UInt8(designator.bytes.count)
    for (i, b) in designator.bytes.prefix(20).enumerated() { d[8 + i] = b }
    let length = blockLength ?? unit.blockSize
    d[29] = UInt8(truncatingIfNeeded: length >> 16)
    d[30] = UInt8(truncatingIfNeeded: length >> 8)
    d[31] = UInt8(truncatingIfNeeded: length)
    return d
}

/// A block → block segment descriptor (02h, DESCRIPTOR LENGTH 18h).
private func segment(src: UInt16 = 0, dst: UInt16 = 0, blocks: UInt16 = 16, srcLBA: UInt64 = 0, dstLBA: UInt64 = 100,
                     type: UInt8 = 0x02, descriptorLength: UInt16 = 0x18) -> [UInt8] {
    var d: [UInt8] = [type, 0x00]
    d.appendBE16(descriptorLength)
    d.appendBE16(src)
    d.appendBE16(dst)
    d += [0, 0]
    d.appendBE16(blocks)
    d.appendBE64(srcLBA)
    d.appendBE64(dstLBA)
    return d
}

/// Header + descriptors; lengths computed unless overridden.
private func parameterList(listID: UInt8 = 1, byte1: UInt8 = 0x00, targets: [[UInt8]] = [cscd()], segments: [[UInt8]] = [segment()],
                           targetLength: Int? = nil, segmentLength: Int? = nil, inline: UInt32 = 0) -> [UInt8] {
    let t = targets.flatMap { $0 }, s = segments.flatMap { $0 }
    var h: [UInt8] = [listID, byte1]
    h.appendBE16(UInt16(truncatingIfNeeded: targetLength ?? t.count))
    h += [0, 0, 0, 0]
    h.appendBE32(UInt32(truncatingIfNeeded: segmentLength ?? s.count))
    h.appendBE32(inline)
    return h + t + s
}

private func parse(_ bytes: [UInt8]) -> Result<XCopyParameterList, SenseReason> {
    do throws(SenseReason) { return .success(try XCopyParameterList.parse(bytes)) } catch { return .failure(error) }
}

private func failure(_ bytes: [UInt8]) -> SenseReason? {
    if case .failure(let e) = parse(bytes) { return e }
    return nil
}

@Test func xcopyParsesOneSegment() throws {
    let list = try XCopyParameterList.parse(parameterList(segments: [segment(blocks: 2048, srcLBA: 5, dstLBA: 900)]))
    #expect(list.listID == 1 && list.listIDUsage == .hold && list.holdsResults)
    #expect(list.targets.count == 1 && list.targets[0].designatorLength == 24 && list.targets[0].diskBlockLength == 512)
    #expect(list.segments == [XCopySegment(sourceIndex: 0, destinationIndex: 0, blocks: 2048, sourceLBA: 5, destinationLBA: 900,
                                           offset: 48)])
    #expect(list.targets[0].designates(disk))
    #expect(!list.targets[0].designates(otherDisk))
}

struct XCopyListCase: CustomTestStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var expected: SenseReason
    var testDescription: String { name }
}

private let maxTargets = XCopyLimits.maximumCSCDDescriptors
private let maxSegments = XCopyLimits.maximumSegmentDescriptors

let xcopyListTable: [XCopyListCase] = {
    let good = parameterList()
    return [
        XCopyListCase(name: "header cut", bytes: Array(good.prefix(15)), expected: .parameterListLengthError),
        XCopyListCase(name: "empty", bytes: [], expected: .parameterListLengthError),
        XCopyListCase(name: "target descriptor cut", bytes: Array(good.prefix(16 + 31)), expected: .parameterListLengthError),
        XCopyListCase(name: "segment descriptor cut", bytes: Array(good.dropLast()), expected: .parameterListLengthError),
        XCopyListCase(name: "segment list length past the end", bytes: parameterList(segmentLength: 0xFFFF_FFFF),
                      expected: .parameterListLengthError),
        XCopyListCase(name: "descriptor lists over MAXIMUM DESCRIPTOR LIST LENGTH",
                      bytes: parameterList(targets: Array(repeating: cscd(), count: maxTargets + 1),
                                           segments: Array(repeating: segment(), count: maxSegments + 1)),
                      expected: .parameterListLengthError),
        XCopyListCase(name: "too many CSCD descriptors", bytes: parameterList(targets: Array(repeating: cscd(), count: maxTargets + 1)),
                      expected: .tooManyTargetDescriptors),
        XCopyListCase(name: "too many segment descriptors",
                      bytes: parameterList(segments: Array(repeating: segment(), count: maxSegments + 1)),
                      expected: .tooManySegmentDescriptors),
        XCopyListCase(name: "FC N_Port_Name CSCD (E0h)", bytes: parameterList(targets: [cscd(type: 0xE0)]),
                      expected: .unsupportedTargetDescriptorTypeCode),
        XCopyListCase(name: "stream → stream segment (03h)", bytes: parameterList(segments: [segment(type: 0x03, descriptorLength: 0x10)]),
                      expected: .unsupportedSegmentDescriptorTypeCode),
        XCopyListCase(name: "block → block with DESCRIPTOR LENGTH 14h",
                      bytes: parameterList(segments: [Array(segment(descriptorLength: 0x14).prefix(24))]),
                      expected: .invalidFieldInParameterListAt(byte: 50, bit: nil)),
        XCopyListCase(name: "segment header cut inside the segment list",
                      bytes: parameterList(segments: [segment(), [0x02, 0x00]]),
                      expected: .invalidFieldInParameterListAt(byte: 8, bit: nil)),
        XCopyListCase(name: "CSCD list length not a multiple of 32", bytes: parameterList(targetLength: 31),
                      expected: .invalidFieldInParameterListAt(byte: 2, bit: nil)),
        XCopyListCase(name: "LU ID TYPE reserved (11b)", bytes: parameterList(targets: [cscd(byte1: 0xC0)]),
                      expected: .invalidFieldInParameterListAt(byte: 17, bit: 7)),
        XCopyListCase(name: "LU ID TYPE proxy token (01b)", bytes: parameterList(targets: [cscd(byte1: 0x40)]),
                      expected: .invalidFieldInParameterListAt(byte: 17, bit: 7)),
        XCopyListCase(name: "peripheral device type tape", bytes: parameterList(targets: [cscd(byte1: 0x01)]),
                      expected: .invalidFieldInParameterListAt(byte: 17, bit: 4)),
        XCopyListCase(name: "LIST ID USAGE 01b reserved", bytes: parameterList(byte1: 0x08),
                      expected: .invalidFieldInParameterListAt(byte: 1, bit: 4)),
        XCopyListCase(name: "LIST ID USAGE 11b with a LIST IDENTIFIER", bytes: parameterList(listID: 7, byte1: 0x18),
                      expected: .invalidFieldInParameterListAt(byte: 0, bit: nil)),
        XCopyListCase(name: "inline data", bytes: parameterList(inline: 4) + [0, 0, 0, 0],
                      expected: .invalidFieldInParameterListAt(byte: 12, bit: nil)),
    ]
}()

@Test(arguments: xcopyListTable)
func xcopyRejects(_ row: XCopyListCase) {
    #expect(failure(row.bytes) == row.expected)
}

@Test func xcopyAcceptsTheLimits() throws {
    let list = try XCopyParameterList.parse(parameterList(targets: Array(repeating: cscd(), count: maxTargets),
                                                          segments: Array(repeating: segment(), count: maxSegments)))
    #expect(list.targets.count == maxTargets && list.segments.count == maxSegments)
    // LIST ID USAGE 11b with LIST IDENTIFIER 0: nothing held.
    #expect(try XCopyParameterList.parse(parameterList(listID: 0, byte1: 0x18)).holdsResults == false)
    // No segments at all is a valid (empty) copy.
    #expect(try XCopyParameterList.parse(parameterList(segments: [])).segments.isEmpty)
}

private func resolve(_ bytes: [UInt8], units: [LogicalUnitInfo] = [disk, otherDisk], preferred: Int? = 0)
    -> Result<XCopyResolvedSegment, SenseReason> {
    do throws(SenseReason) {
        return .success(try XCopyParameterList.parse(bytes).resolve(segment: 0, units: units, preferred: preferred))
    } catch {
        return .failure(error)
    }
}

@Test func xcopyResolvesCopyTargets() {
    // Same unit.
    #expect(resolve(parameterList()) == .success(XCopyResolvedSegment(
        sourceUnit: 0, destinationUnit: 0, sourceLBA: 0, destinationLBA: 100, blocks: 16, blockSize: 512)))
    // disk → otherDisk, named by their designators.
    let cross = parameterList(targets: [cscd(), cscd(otherDisk)], segments: [segment(src: 0, dst: 1, blocks: 8, dstLBA: 3990)])
    #expect(resolve(cross) == .success(XCopyResolvedSegment(
        sourceUnit: 0, destinationUnit: 1, sourceLBA: 0, destinationLBA: 3990, blocks: 8, blockSize: 512)))
    // otherDisk is not reachable when the runtime only knows the addressed unit.
    #expect(resolve(cross, units: [disk]) == .failure(.copyTargetDeviceNotReachable))
    // CSCD index past the list (libiscsi ExtendedCopy.ValidSegDescr).
    #expect(resolve(parameterList(segments: [segment(dst: 1)])) == .failure(.copyTargetDeviceNotReachable))
    // NUL = 1 (libiscsi ExtendedCopy.ValidTgtDescr).
    #expect(resolve(parameterList(targets: [cscd(byte1: 0x20)])) == .failure(.copyTargetDeviceNotReachable))
    // Destination beyond the end (libiscsi: 2048 blocks at num_blocks − 1), source beyond the end, LBA overflow.
    #expect(resolve(parameterList(segments: [segment(blocks: 2, dstLBA: 999)]))
            == .failure(.copyAborted(.rangeRejected, segmentByte: 20)))
    #expect(resolve(parameterList(segments: [segment(blocks: 1, srcLBA: 1000)]))
            == .failure(.copyAborted(.rangeRejected, segmentByte: 12)))
    #expect(resolve(parameterList(segments: [segment(blocks: 2, dstLBA: UInt64.max)]))
            == .failure(.copyAborted(.rangeRejected, segmentByte: 20)))
    // The last block exactly.
    #expect((try? resolve(parameterList(segments: [segment(blocks: 1, dstLBA: 999)])).get()) != nil)
    // DISK BLOCK LENGTH that is not the unit's.
    #expect(resolve(parameterList(targets: [cscd(blockLength: 4096)])) == .failure(.invalidFieldInParameterListAt(byte: 45, bit: nil)))
    // Read-only destination: as a WRITE would be answered.
    #expect(resolve(parameterList(), units: [readOnlyDisk]) == .failure(.writeProtected))
    // 0 blocks: nothing to write, even to a read-only unit.
    #expect((try? resolve(parameterList(segments: [segment(blocks: 0)]), units: [readOnlyDisk]).get())?.blocks == 0)
}

@Test func xcopyDesignatorMatchIsExact() {
    // A designator differing inside the 20 bytes that fit is another unit.
    var other = disk
    other.scsiID = Array("0123456789abXXXX".utf8)  // differs after the 12 ScsiId bytes that fit: same prefix
    var different = disk
    different.scsiID = Array("0123456789aZcdef".utf8)
    let list = try? XCopyParameterList.parse(parameterList())
    #expect(list?.targets[0].designates(other) == true)      // only 20 of IET's 24 bytes are carried
    #expect(list?.targets[0].designates(different) == false)
    // The addressed unit wins over an identical prefix elsewhere.
    #expect((try? resolve(parameterList(), units: [other, disk], preferred: 1).get())?.sourceUnit == 1)
}

@Test func xcopyCDBs() {
    // EXTENDED COPY(LID1): 16-byte CDB, PARAMETER LIST LENGTH in 10–13.
    var cdb = [UInt8](repeating: 0, count: 16)
    cdb[0] = 0x83
    cdb[13] = 60
    #expect(parseResult(cdb) == .success(ParsedCommand(command: .extendedCopy(parameterListLength: 60), direction: .toTarget,
                                                       transferLength: 60)))
    cdb[1] = 0x01  // LID4
    #expect(parseResult(cdb) == .failure(.invalidFieldInCDBAt(byte: 1, bit: 4)))
    cdb[1] = 0
    cdb[10] = 0xFF  // a 4 GiB list never sizes a buffer
    #expect(parseResult(cdb) == .failure(.parameterListLengthError))
    // RECEIVE COPY RESULTS.
    var rcr = [UInt8](repeating: 0, count: 16)
    rcr[0] = 0x84
    rcr[1] = 0x03
    rcr[2] = 9
    rcr[12] = 0x04
    #expect(parseResult(rcr) == .success(ParsedCommand(
        command: .receiveCopyResults(CopyResultsRequest(serviceAction: .operatingParameters, listID: 9, allocationLength: 1024)),
        direction: .fromTarget, transferLength: 1024)))
    rcr[1] = 0x01  // RECEIVE DATA: no held data
    #expect(parseResult(rcr) == .failure(.invalidFieldInCDBAt(byte: 1, bit: 4)))
}

@Test func xcopySense() {
    let unreachable = SenseData.build(.copyTargetDeviceNotReachable, format: .fixed)
    #expect(unreachable[2] == 0x0A && unreachable[12] == 0x0D && unreachable[13] == 0x02)
    let range = SenseData.build(.copyAborted(.rangeRejected, segmentByte: 20), format: .fixed)
    #expect(range[2] == 0x0A && range[12] == 0 && range[13] == 0)
    #expect(Array(range[15...17]) == [0xA0, 0x00, 20])  // SKSV | SD, segment pointer
    let list = SenseData.build(.invalidFieldInParameterListAt(byte: 45, bit: nil), format: .fixed)
    #expect(list[12] == 0x26 && Array(list[15...17]) == [0x80, 0x00, 45])  // C/D = 0: parameter list
    #expect(SenseReason.tooManyTargetDescriptors.detail.ascq == 0x06)
    #expect(SenseReason.unsupportedSegmentDescriptorTypeCode.detail.ascq == 0x09)
    #expect(SenseReason.copyAborted(.spaceAllocationFailed, segmentByte: nil).detail.asc == 0x27)
}

@Test func copyResultsTable() throws {
    var table = CopyResultsTable<Int>(capacity: 2)
    // Nothing held → INVALID FIELD IN CDB (libiscsi ReceiveCopyResults.CopyStatus "no copy in progress").
    #expect(throws: SenseReason.invalidFieldInCDBAt(byte: 2, bit: nil)) { try table.copyStatus(1) }
    #expect(try table.begin(1))
    // Same list identifier while running → OPERATION IN PROGRESS.
    #expect(throws: SenseReason.operationInProgress) { try table.begin(1) }
    #expect(try table.copyStatus(1) == [0, 0, 0, 8, 0x00, 0, 0, 0, 0, 0, 0, 0])
    #expect(try table.failedSegmentDetails(1) == [0, 0, 0, 0])
    table.progress(1, segmentsProcessed: 1, bytesTransferred: 1 << 20)
    table.finish(1, status: .good, sense: nil)
    #expect(try table.copyStatus(1) == [0, 0, 0, 8, 0x01, 0, 1, 0, 0x00, 0x10, 0x00, 0x00])
    // A transfer count beyond 32 bits is reported in KiB.
    #expect(try table.begin(2))
    table.progress(2, segmentsProcessed: 3, bytesTransferred: 1 << 33)
    table.finish(2, status: .checkCondition, sense: .copyTargetDeviceNotReachable)
    let status = try table.copyStatus(2)
    #expect(status[4] == 0x02 && status[7] == 0x01 && Array(status[8...11]) == [0x00, 0x80, 0x00, 0x00])
    let details = try table.failedSegmentDetails(2)
    #expect(details.count == 60 + 18 && details[3] == 56 + 18 && details[56] == 0x02 && details[59] == 18)
    #expect(details[60 + 2] == 0x0A && details[60 + 12] == 0x0D)
    // Full: the oldest finished record makes room; a finished id may be reused.
    #expect(try table.begin(3))
    #expect(table.count == 2 && table.record(1) == nil)
    #expect(try table.begin(2))
    // Full of copies in progress: the copy runs without held results.
    #expect(try table.begin(4) == false)
    table.removeAll { $0 == 2 || $0 == 3 }
    #expect(table.count == 0)
}

@Test func copyManagerReports() throws {
    let op = Emulator.copyOperatingParameters(disk)
    #expect(op.count == 46 && op[3] == 42)                          // AVAILABLE DATA = n − 3
    #expect(op[9] == UInt8(maxTargets) && op[11] == UInt8(maxSegments))
    #expect(op[37] == 9 && op[43] == 2 && Array(op[44...45]) == [0x02, 0xE4])
    // Third-party Copy VPD page: listed in page 00h, every descriptor a multiple of 4 bytes, 84h with 00h/03h/04h.
    let pages = try Emulator.execute(.inquiry(evpd: true, pageCode: 0, allocationLength: 255), unit: disk, context: EmulationContext())
    #expect(pages.contains(0x8F))
    let page = try Emulator.execute(.inquiry(evpd: true, pageCode: 0x8F, allocationLength: 1024), unit: disk,
                                    context: EmulationContext())
    #expect(page[1] == 0x8F && Int(page[2]) << 8 | Int(page[3]) == page.count - 4)
    var offset = 4
    var types: [Int] = []
    while offset + 4 <= page.count {
        let length = Int(page[offset + 2]) << 8 | Int(page[offset + 3])
        #expect(length % 4 == 0)
        types.append(Int(page[offset]) << 8 | Int(page[offset + 1]))
        offset += 4 + length
    }
    #expect(offset == page.count && types == [0x0001, 0x0004, 0x0008, 0x000C, 0x8001])
    #expect(Array(page[8...17]) == [8, 0x83, 1, 0x00, 0x84, 3, 0x00, 0x03, 0x04, 0x00])
    // Standard INQUIRY: 3PC.
    let standard = try Emulator.execute(.inquiry(evpd: false, pageCode: 0, allocationLength: 255), unit: disk,
                                        context: EmulationContext())
    #expect(standard[5] & 0x08 != 0)
}

@Test func xcopyParserNeverTraps() {
    var rng = SystemRandomNumberGenerator()
    let good = parameterList(targets: [cscd(), cscd(otherDisk)], segments: [segment(), segment(src: 1, dst: 0)])
    for iteration in 0..<20_000 {
        var bytes = good
        if iteration % 3 == 0 {
            bytes = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        } else {
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if iteration % 5 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
        }
        guard case .success(let list) = parse(bytes) else { continue }
        #expect(list.targets.count <= maxTargets && list.segments.count <= maxSegments)
        // Whatever resolves lies inside both units.
        let units = [disk, otherDisk]
        if !list.segments.isEmpty, case .success(let s) = resolve(bytes, units: units) {
            #expect(units[s.sourceUnit].blockCount - s.sourceLBA >= s.blocks)
            #expect(units[s.destinationUnit].blockCount - s.destinationLBA >= s.blocks)
        }
    }
}
