/// EXTENDED COPY (LID1) — SPC-4 §6.4 — parameter list parsing and copy-target resolution. Pure: the runtime
/// (`SCSIExecutor+XCopy.swift`) moves the blocks.
///
/// Supported: CSCD descriptor E4h (identification descriptor naming a logical unit of this target by its VPD 83h
/// designator, block device type) and segment descriptor 02h (block device to block device). No inline or
/// embedded data, no held data, no stream devices.
public enum XCopyLimits {
    /// Parameter list header length (SPC-4 §6.4.3 Table 124).
    public static let headerLength = 16
    /// Every supported CSCD descriptor (E4h) is 32 bytes (SPC-4 §6.4.5.1).
    public static let cscdDescriptorLength = 32
    /// Block → block segment descriptor (02h): 4-byte header + DESCRIPTOR LENGTH 18h (SPC-4 §6.4.6.5).
    public static let blockToBlockSegmentLength = 28
    /// MAXIMUM CSCD DESCRIPTOR COUNT reported by OPERATING PARAMETERS and the Third-party Copy VPD page.
    public static let maximumCSCDDescriptors = 8
    /// MAXIMUM SEGMENT DESCRIPTOR COUNT.
    public static let maximumSegmentDescriptors = 64
    /// MAXIMUM DESCRIPTOR LIST LENGTH: exactly the largest lists above.
    public static let maximumDescriptorListLength = maximumCSCDDescriptors * cscdDescriptorLength
        + maximumSegmentDescriptors * blockToBlockSegmentLength
    /// Largest PARAMETER LIST LENGTH accepted at CDB time (bounds the data-out buffer).
    public static let maximumParameterListLength = headerLength + maximumDescriptorListLength
    /// MAXIMUM SEGMENT LENGTH in bytes: one segment never moves more than this (64 MiB).
    public static let maximumSegmentBytes: UInt64 = 64 << 20
    /// TOTAL / MAXIMUM CONCURRENT COPIES (EXTENDED COPY commands with held results at once).
    public static let maximumConcurrentCopies = 16
    /// Descriptor type codes implemented, ascending (OPERATING PARAMETERS / Supported Descriptors).
    public static let implementedDescriptorTypes: [UInt8] = [0x02, 0xE4]
}

/// SPC-4 §6.4.3 Table 125 LIST ID USAGE.
public enum XCopyListIDUsage: UInt8, Sendable, Hashable {
    /// 00b: hold results for RECEIVE COPY RESULTS; LIST IDENTIFIER unique per I_T nexus.
    case hold = 0
    /// 10b: results need not be held; LIST IDENTIFIER still unique (we hold them anyway, bounded).
    case holdOptional = 2
    /// 11b: no list identifier (LIST IDENTIFIER shall be 0); nothing held.
    case none = 3
}

/// One CSCD descriptor of type E4h (SPC-4 §6.4.5.4 identification descriptor CSCD descriptor).
public struct XCopyCSCD: Sendable, Hashable {
    /// CODE SET, ASSOCIATION, DESIGNATOR TYPE and DESIGNATOR LENGTH of the embedded designation descriptor.
    public var codeSet: UInt8
    public var association: UInt8
    public var designatorType: UInt8
    public var designatorLength: Int
    /// The DESIGNATOR field (20 bytes; a longer designator, like IET's 24-byte T10 vendor ID, is cut there).
    public var designator: [UInt8]
    /// NUL = 1: the descriptor names no device (no data can be read from or written to it).
    public var isNull: Bool
    /// DISK BLOCK LENGTH from the block device type specific parameters.
    public var diskBlockLength: UInt32
    /// Offset of the descriptor in the parameter list (for field pointers).
    public var offset: Int

    /// True when this descriptor designates `unit`: one of the unit's VPD 83h designators has the same code set,
    /// association, type and length, and the bytes that fit the 20-byte DESIGNATOR field are equal.
    public func designates(_ unit: LogicalUnitInfo) -> Bool {
        guard !isNull else { return false }
        for d in Emulator.designators(of: unit)
        where d.codeSet == codeSet && d.association == association && d.type == designatorType
            && d.bytes.count == designatorLength {
            let n = min(designatorLength, designator.count)
            if Array(d.bytes.prefix(n)) == Array(designator.prefix(n)) { return true }
        }
        return false
    }
}

/// One block → block segment descriptor (SPC-4 §6.4.6.5).
public struct XCopySegment: Sendable, Hashable {
    public var sourceIndex: UInt16
    public var destinationIndex: UInt16
    /// BLOCK DEVICE NUMBER OF BLOCKS (source blocks with DC = 0, destination blocks with DC = 1; the copy manager
    /// requires equal block lengths, so both mean the same).
    public var blocks: UInt16
    public var sourceLBA: UInt64
    public var destinationLBA: UInt64
    /// Offset of the descriptor in the parameter list.
    public var offset: Int
}

/// A segment whose copy targets were found among the reachable units and whose ranges fit.
public struct XCopyResolvedSegment: Sendable, Hashable {
    /// Index into the `units` array given to `resolve`.
    public var sourceUnit: Int
    public var destinationUnit: Int
    public var sourceLBA: UInt64
    public var destinationLBA: UInt64
    public var blocks: UInt64
    public var blockSize: UInt32
}

/// A validated EXTENDED COPY (LID1) parameter list.
public struct XCopyParameterList: Sendable, Hashable {
    public var listID: UInt8
    public var listIDUsage: XCopyListIDUsage
    public var priority: UInt8
    public var targets: [XCopyCSCD]
    public var segments: [XCopySegment]

    /// Results are held for RECEIVE COPY RESULTS (LIST ID USAGE 00b / 10b).
    public var holdsResults: Bool { listIDUsage != .none }

    /// Parses and validates the whole list before any data moves (SPC-4 §6.4.3). Never traps; every length is
    /// checked against the bytes present with arithmetic that cannot overflow.
    public static func parse(_ data: [UInt8]) throws(SenseReason) -> XCopyParameterList {
        let header = XCopyLimits.headerLength
        // SPC-4 §6.4.3: a list too short for its header → PARAMETER LIST LENGTH ERROR.
        guard data.count >= header else { throw .parameterListLengthError }
        let c = CDB(data)
        let listID = c[0]
        // SPC-4 §6.4.3: STR (bit 5) only matters for stream devices; PRIORITY (bits 2–0) is advisory.
        guard let usage = XCopyListIDUsage(rawValue: (c[1] >> 3) & 0x03) else {
            throw .invalidFieldInParameterListAt(byte: 1, bit: 4)  // 01b is reserved
        }
        // SPC-4 §6.4.3 Table 125: LIST ID USAGE 11b requires LIST IDENTIFIER 0.
        if usage == .none && listID != 0 { throw .invalidFieldInParameterListAt(byte: 0, bit: nil) }
        let targetListLength = Int(c.be16(2))
        let segmentListLength = UInt64(c.be32(8))
        let inlineLength = UInt64(c.be32(12))
        // SPC-4 §6.4.3: CSCD + segment descriptor lists longer than MAXIMUM DESCRIPTOR LIST LENGTH →
        // PARAMETER LIST LENGTH ERROR.
        guard UInt64(targetListLength) + segmentListLength <= UInt64(XCopyLimits.maximumDescriptorListLength) else {
            throw .parameterListLengthError
        }
        // MAXIMUM INLINE DATA LENGTH is 0: no segment type we implement uses inline data.
        if inlineLength != 0 { throw .invalidFieldInParameterListAt(byte: 12, bit: nil) }
        // SPC-4 §6.4.3: the lists must be inside the parameter list (both lengths are bounded above: no overflow).
        let segmentLength = Int(segmentListLength)
        guard data.count - header >= targetListLength + segmentLength else { throw .parameterListLengthError }

        // CSCD descriptors (SPC-4 §6.4.5): all supported ones are 32 bytes.
        guard targetListLength % XCopyLimits.cscdDescriptorLength == 0 else {
            throw .invalidFieldInParameterListAt(byte: 2, bit: nil)
        }
        if targetListLength / XCopyLimits.cscdDescriptorLength > XCopyLimits.maximumCSCDDescriptors {
            throw .tooManyTargetDescriptors
        }
        var targets: [XCopyCSCD] = []
        var offset = header
        while offset < header + targetListLength {
            targets.append(try parseCSCD(c, at: offset))
            offset += XCopyLimits.cscdDescriptorLength
        }

        // Segment descriptors (SPC-4 §6.4.6): 4-byte header with the DESCRIPTOR LENGTH of what follows.
        var segments: [XCopySegment] = []
        let end = offset + segmentLength
        while offset < end {
            if segments.count == XCopyLimits.maximumSegmentDescriptors { throw .tooManySegmentDescriptors }
            // A descriptor header cut by the end of the list → the SEGMENT DESCRIPTOR LIST LENGTH is wrong.
            guard end - offset >= 4 else { throw .invalidFieldInParameterListAt(byte: 8, bit: nil) }
            let type = c[offset]
            // SPC-4 §6.4.6: only block → block (02h).
            guard type == 0x02 else { throw .unsupportedSegmentDescriptorTypeCode }
            let length = 4 + Int(c.be16(offset + 2))
            guard length == XCopyLimits.blockToBlockSegmentLength else {
                throw .invalidFieldInParameterListAt(byte: UInt16(truncatingIfNeeded: offset + 2), bit: nil)
            }
            guard end - offset >= length else { throw .invalidFieldInParameterListAt(byte: 8, bit: nil) }
            segments.append(XCopySegment(
                sourceIndex: c.be16(offset + 4), destinationIndex: c.be16(offset + 6), blocks: c.be16(offset + 10),
                sourceLBA: c.be64(offset + 12), destinationLBA: c.be64(offset + 20), offset: offset))
            offset += length
        }
        return XCopyParameterList(listID: listID, listIDUsage: usage, priority: c[1] & 0x07,
                                  targets: targets, segments: segments)
    }

    /// One CSCD descriptor at `offset` (32 bytes, present).
    static func parseCSCD(_ c: CDB, at offset: Int) throws(SenseReason) -> XCopyCSCD {
        // SPC-4 §6.4.5.1: only the identification descriptor (E4h) is implemented.
        guard c[offset] == 0xE4 else { throw .unsupportedTargetDescriptorTypeCode }
        let b1 = c[offset + 1]
        // SPC-4 §6.4.5.1 LU ID TYPE: 00b (LUN) only; proxy tokens (01b) and reserved values are rejected.
        guard b1 >> 6 == 0 else { throw .invalidFieldInParameterListAt(byte: UInt16(truncatingIfNeeded: offset + 1), bit: 7) }
        // PERIPHERAL DEVICE TYPE: block devices (00h) only.
        guard b1 & 0x1F == 0 else { throw .invalidFieldInParameterListAt(byte: UInt16(truncatingIfNeeded: offset + 1), bit: 4) }
        let length = Int(c[offset + 7])
        let designator = (0..<min(length, 20)).map { c[offset + 8 + $0] }
        // Block device type specific parameters (SPC-4 §6.4.5.9): PAD in byte 28, DISK BLOCK LENGTH in 29–31.
        let blockLength = UInt32(c[offset + 29]) << 16 | UInt32(c[offset + 30]) << 8 | UInt32(c[offset + 31])
        return XCopyCSCD(codeSet: c[offset + 4] & 0x0F, association: (c[offset + 5] >> 4) & 0x03,
                         designatorType: c[offset + 5] & 0x0F, designatorLength: length, designator: designator,
                         isNull: b1 & 0x20 != 0, diskBlockLength: blockLength, offset: offset)
    }

    /// Resolves segment `index` against the logical units the copy manager can reach (SPC-4 §6.4.6.1), in the
    /// order the runtime processes segments.
    /// - Parameters:
    ///   - units: the target's logical units; `preferred` (the addressed unit) wins when several match.
    /// - Throws: COPY TARGET DEVICE NOT REACHABLE for an index past the CSCD list, a NUL descriptor or a designator
    ///   that names no unit; INVALID FIELD IN PARAMETER LIST for a block length that differs from the unit's;
    ///   COPY ABORTED with a segment pointer for a range outside a unit; WRITE PROTECTED for a read-only destination.
    public func resolve(segment index: Int, units: [LogicalUnitInfo], preferred: Int?) throws(SenseReason) -> XCopyResolvedSegment {
        guard index >= 0 && index < segments.count else { throw .internalTargetFailure }
        let s = segments[index]
        let source = try unit(for: s.sourceIndex, units: units, preferred: preferred)
        let destination = try unit(for: s.destinationIndex, units: units, preferred: preferred)
        let src = units[source], dst = units[destination]
        let segmentField = { (byte: Int) -> UInt16 in UInt16(truncatingIfNeeded: s.offset + byte) }
        // Blocks are copied unchanged: both copy targets must use the same logical block length.
        guard src.blockSize == dst.blockSize else { throw .invalidFieldInParameterListAt(byte: segmentField(10), bit: nil) }
        let blocks = UInt64(s.blocks)
        // MAXIMUM SEGMENT LENGTH (OPERATING PARAMETERS).
        guard blocks * UInt64(src.blockSize) <= XCopyLimits.maximumSegmentBytes else {
            throw .invalidFieldInParameterListAt(byte: segmentField(10), bit: nil)
        }
        // SPC-4 §6.4.6.5: both ranges inside their units (overflow-safe: lba ≤ count, then count − lba ≥ blocks).
        guard s.sourceLBA <= src.blockCount && src.blockCount - s.sourceLBA >= blocks else {
            throw .copyAborted(.rangeRejected, segmentByte: 12)
        }
        guard s.destinationLBA <= dst.blockCount && dst.blockCount - s.destinationLBA >= blocks else {
            throw .copyAborted(.rangeRejected, segmentByte: 20)
        }
        // The destination is written as a WRITE would be.
        if dst.readOnly && blocks > 0 { throw .writeProtected }
        return XCopyResolvedSegment(sourceUnit: source, destinationUnit: destination, sourceLBA: s.sourceLBA,
                                    destinationLBA: s.destinationLBA, blocks: blocks, blockSize: src.blockSize)
    }

    private func unit(for cscdIndex: UInt16, units: [LogicalUnitInfo], preferred: Int?) throws(SenseReason) -> Int {
        guard Int(cscdIndex) < targets.count else { throw .copyTargetDeviceNotReachable }
        let cscd = targets[Int(cscdIndex)]
        let found: Int?
        if let preferred, preferred < units.count, cscd.designates(units[preferred]) {
            found = preferred
        } else {
            found = units.indices.first { cscd.designates(units[$0]) }
        }
        guard let found else { throw .copyTargetDeviceNotReachable }
        // DISK BLOCK LENGTH must be the unit's logical block length.
        guard cscd.diskBlockLength == units[found].blockSize else {
            throw .invalidFieldInParameterListAt(byte: UInt16(truncatingIfNeeded: cscd.offset + 29), bit: nil)
        }
        return found
    }
}

extension CommandParser {
    /// EXTENDED COPY (SPC-4 §6.4.1): service action 00h (LID1) only; PARAMETER LIST LENGTH in bytes 10–13.
    static func parseExtendedCopy(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        // LID4 (01h) and the ROD token service actions are not implemented.
        guard c[1] & 0x1F == 0 else { throw .invalidFieldInCDBAt(byte: 1, bit: 4) }
        let length = c.be32(10)
        // SPC-4 §6.4.3: a list longer than any we accept (header + MAXIMUM DESCRIPTOR LIST LENGTH, no inline data)
        // → PARAMETER LIST LENGTH ERROR, before any buffer is sized from it.
        guard length <= UInt32(XCopyLimits.maximumParameterListLength) else { throw .parameterListLengthError }
        return ParsedCommand(command: .extendedCopy(parameterListLength: length), direction: .toTarget, transferLength: length)
    }

    /// RECEIVE COPY RESULTS (SPC-4 §6.18.1): LID1 service actions COPY STATUS, OPERATING PARAMETERS and FAILED SEGMENT
    /// DETAILS. RECEIVE DATA (01h) is rejected: no segment type we implement holds data.
    static func parseReceiveCopyResults(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        guard let action = CopyResultsRequest.ServiceAction(rawValue: c[1] & 0x1F) else {
            throw .invalidFieldInCDBAt(byte: 1, bit: 4)
        }
        let allocation = c.be32(10)
        let request = CopyResultsRequest(serviceAction: action, listID: c[2], allocationLength: allocation)
        return ParsedCommand(command: .receiveCopyResults(request), direction: .fromTarget, transferLength: allocation)
    }
}

/// A validated RECEIVE COPY RESULTS CDB.
public struct CopyResultsRequest: Sendable, Hashable {
    /// SPC-4 §6.18.1 Table 350 (LID1 service actions).
    public enum ServiceAction: UInt8, Sendable, Hashable, CaseIterable {
        case copyStatus = 0x00
        case operatingParameters = 0x03
        case failedSegmentDetails = 0x04
    }
    public var serviceAction: ServiceAction
    public var listID: UInt8
    public var allocationLength: UInt32

    public init(serviceAction: ServiceAction, listID: UInt8, allocationLength: UInt32) {
        self.serviceAction = serviceAction
        self.listID = listID
        self.allocationLength = allocationLength
    }
}
