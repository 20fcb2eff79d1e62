/// Logical block provisioning commands (SBC-3 §4.7): WRITE SAME(10/16), UNMAP, GET LBA STATUS.
extension CommandParser {
    static func parseWriteSame(_ c: CDB, opcode: SCSIOpcode, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let sixteen = opcode == .writeSame16
        let flags = c[1]
        // SBC-3 §5.41: WRPROTECT ≠ 0 without protection information → INVALID FIELD IN CDB.
        if flags >> 5 != 0 { throw .invalidFieldInCDB }
        // SBC-3 §5.41: ANCHOR = 1 with ANC_SUP = 0 in the Logical Block Provisioning VPD → INVALID FIELD IN CDB.
        if flags & 0x10 != 0 { throw .invalidFieldInCDB }
        // SBC-3 §5.41: PBDATA / LBDATA (bits 2–1) are not supported → INVALID FIELD IN CDB.
        if flags & 0x06 != 0 { throw .invalidFieldInCDB }
        let unmap = flags & 0x08 != 0
        // SBC-4 §5.50: NDOB (byte 1 bit 0) exists only in WRITE SAME(16); in (10) the bit is reserved.
        let noDataOut = flags & 0x01 != 0
        if noDataOut && !sixteen { throw .invalidFieldInCDB }
        let lba = sixteen ? c.be64(2) : UInt64(c.be32(2))
        let requested = sixteen ? UInt64(c.be32(10)) : UInt64(c.be16(7))
        // SBC-3 §5.41: LBA past the medium → LBA OUT OF RANGE (also for NUMBER OF LOGICAL BLOCKS 0).
        guard lba <= unit.blockCount else { throw .logicalBlockAddressOutOfRange }
        // SBC-3 §5.41 with WSNZ = 0: NUMBER OF LOGICAL BLOCKS 0 means "from LBA to the last LBA".
        let blocks = requested == 0 ? unit.blockCount - lba : requested
        if requested != 0 {
            guard lba < unit.blockCount, unit.blockCount - lba >= blocks else { throw .logicalBlockAddressOutOfRange }
        }
        // An empty resolved range (LBA == capacity with 0 blocks) addresses no block at all.
        if blocks == 0 { throw .logicalBlockAddressOutOfRange }
        // SBC-3 §6.5.3: more than MAXIMUM WRITE SAME LENGTH (or, with UNMAP, MAXIMUM UNMAP LBA COUNT)
        // → INVALID FIELD IN CDB.
        let limit = unit.effectiveMaximumWriteSameBlocks
        if limit != 0 && blocks > limit { throw .invalidFieldInCDB }
        if unit.readOnly { throw .writeProtected }
        return ParsedCommand(
            command: .writeSame(lba: lba, blocks: blocks, unmap: unmap, noDataOut: noDataOut),
            direction: noDataOut ? .none : .toTarget, transferLength: noDataOut ? 0 : unit.blockSize)
    }

    static func parseUnmap(_ c: CDB, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        // SBC-3 §5.28: ANCHOR = 1 with ANC_SUP = 0 → INVALID FIELD IN CDB.
        if c[1] & 0x01 != 0 { throw .invalidFieldInCDB }
        let length = c.be16(7)
        if unit.readOnly { throw .writeProtected }
        return ParsedCommand(command: .unmap(parameterListLength: length),
                             direction: length == 0 ? .none : .toTarget, transferLength: UInt32(length))
    }

    static func parseGetLBAStatus(_ c: CDB, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let lba = c.be64(2)
        // SBC-3 §5.6: STARTING LOGICAL BLOCK ADDRESS past the last LBA → LBA OUT OF RANGE.
        guard lba < unit.blockCount else { throw .logicalBlockAddressOutOfRange }
        let allocation = c.be32(10)
        return ParsedCommand(command: .getLBAStatus(lba: lba, allocationLength: allocation),
                             direction: .fromTarget, transferLength: allocation)
    }
}

/// The UNMAP parameter list (SBC-3 §5.28.2).
public enum UnmapParameterList {
    /// One block descriptor.
    public struct Extent: Sendable, Hashable {
        public var lba: UInt64
        public var blocks: UInt32
        public init(lba: UInt64, blocks: UInt32) {
            self.lba = lba
            self.blocks = blocks
        }
    }

    /// Parses and validates the parameter data against the unit's limits.
    /// - Returns: the extents with a non-zero block count, in list order.
    public static func parse(_ data: [UInt8], unit: LogicalUnitInfo) throws(SenseReason) -> [Extent] {
        // SBC-3 §5.28.2: a parameter list shorter than the 8-byte header → PARAMETER LIST LENGTH ERROR.
        guard data.count >= 8 else { throw .parameterListLengthError }
        let c = CDB(data)
        let dataLength = Int(c.be16(0))
        let descriptorLength = Int(c.be16(2))
        // SBC-3 §5.28.2: UNMAP DATA LENGTH / BLOCK DESCRIPTOR DATA LENGTH beyond what was sent → the list is
        // inconsistent: PARAMETER LIST LENGTH ERROR (LIO does the same).
        guard dataLength + 2 <= data.count, descriptorLength + 8 <= data.count else { throw .parameterListLengthError }
        // A partial trailing descriptor is ignored (SBC-3 §5.28.2: the length "should be a multiple of 16").
        let count = descriptorLength / 16
        // SBC-3 §5.28.1: more descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT → INVALID FIELD IN PARAMETER LIST.
        if unit.maximumUnmapDescriptors != 0 && count > Int(unit.maximumUnmapDescriptors) {
            throw .invalidFieldInParameterList
        }
        var extents: [Extent] = []
        extents.reserveCapacity(count)
        var total: UInt64 = 0
        for i in 0..<count {
            let base = 8 + i * 16
            let lba = c.be64(base)
            let blocks = c.be32(base + 8)
            // SBC-3 §5.28.1: a descriptor outside the medium → LBA OUT OF RANGE.
            try CommandParser.checkRange(lba: lba, blocks: blocks, unit: unit)
            total += UInt64(blocks)  // ≤ 256 × 2^32: no overflow
            // SBC-3 §5.28.1: more than MAXIMUM UNMAP LBA COUNT → INVALID FIELD IN PARAMETER LIST.
            if unit.maximumUnmapBlocks != 0 && total > UInt64(unit.maximumUnmapBlocks) {
                throw .invalidFieldInParameterList
            }
            if blocks > 0 { extents.append(Extent(lba: lba, blocks: blocks)) }
        }
        return extents
    }
}

/// GET LBA STATUS parameter data (SBC-3 §5.6.2).
extension Emulator {
    /// SBC-3 Table 36 PROVISIONING STATUS.
    public enum ProvisioningStatus: UInt8, Sendable, Hashable {
        case mapped = 0
        case deallocated = 1
        case anchored = 2
    }

    /// One LBA status descriptor.
    public struct LBAStatusDescriptor: Sendable, Hashable {
        public var lba: UInt64
        public var blocks: UInt32
        public var status: ProvisioningStatus
        public init(lba: UInt64, blocks: UInt32, status: ProvisioningStatus) {
            self.lba = lba
            self.blocks = blocks
            self.status = status
        }
    }

    /// How many descriptors fit `allocationLength` (at least 1, so the first one is always reported).
    public static func lbaStatusDescriptorLimit(allocationLength: UInt32) -> Int {
        max(1, min(64, (Int(allocationLength) - 8) / 16))
    }

    /// Builds the parameter data: PARAMETER DATA LENGTH counts the bytes after itself.
    public static func lbaStatus(_ descriptors: [LBAStatusDescriptor]) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(8 + descriptors.count * 16)
        data.appendBE32(UInt32(truncatingIfNeeded: 4 + descriptors.count * 16))
        data.appendZeros(4)
        for d in descriptors {
            data.appendBE64(d.lba)
            data.appendBE32(d.blocks)
            data.append(d.status.rawValue)
            data.appendZeros(3)
        }
        return data
    }
}
