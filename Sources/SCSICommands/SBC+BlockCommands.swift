/// Parsing of the block I/O commands (SBC-3 §5): READ/WRITE/WRITE AND VERIFY/VERIFY/
/// SYNCHRONIZE CACHE.
extension CommandParser {
    /// LBA, length and byte 1 of a block command, read with the field layout of its CDB size.
    struct BlockFields {
        var lba: UInt64
        var blocks: UInt32
        /// Byte 1 (RDPROTECT/WRPROTECT/VRPROTECT, DPO, FUA, BYTCHK …); 0 for 6-byte CDBs,
        /// whose byte 1 holds only LBA bits.
        var flags: UInt8

        /// Bits 7–5 of byte 1.
        var protect: UInt8 { flags >> 5 }
        /// FUA (byte 1 bit 3).
        var fua: Bool { flags & 0x08 != 0 }
        /// BYTCHK (byte 1 bits 2–1, SBC-3 §5.30).
        var byteCheck: UInt8 { (flags >> 1) & 0x03 }

        init(_ c: CDB, cdbLength: Int) {
            switch cdbLength {
            case 6:
                // SBC-3 §5.7: 21-bit LBA; TRANSFER LENGTH 0 → 256 blocks.
                self.init(lba: c.lba21, blocks: c.transferLength6, flags: 0)
            case 10:
                self.init(lba: UInt64(c.be32(2)), blocks: UInt32(c.be16(7)), flags: c[1])
            case 12:
                self.init(lba: UInt64(c.be32(2)), blocks: c.be32(6), flags: c[1])
            default:
                self.init(lba: c.be64(2), blocks: c.be32(10), flags: c[1])
            }
        }

        init(lba: UInt64, blocks: UInt32, flags: UInt8) {
            self.lba = lba
            self.blocks = blocks
            self.flags = flags
        }
    }

    /// SBC-3 §4.5 (overflow-safe, SPDK `bdev_scsi_readwrite`): the range [lba, lba + blocks)
    /// must lie within the medium. A zero-length range may start at `blockCount` but not after.
    static func checkRange<Unit: BlockAccessLimits>(lba: UInt64, blocks: UInt32, unit: Unit) throws(SenseReason) {
        let count = unit.blockCount
        if blocks == 0 {
            if lba > count { throw .logicalBlockAddressOutOfRange }
            return
        }
        if lba >= count || count - lba < UInt64(blocks) { throw .logicalBlockAddressOutOfRange }
    }

    /// SBC-3 §6.5.3 Block Limits: a transfer longer than MAXIMUM TRANSFER LENGTH → INVALID
    /// FIELD IN CDB. Also rejects lengths whose byte count does not fit the 32-bit EDTL.
    static func transferBytes<Unit: BlockAccessLimits>(blocks: UInt32, unit: Unit) throws(SenseReason) -> UInt32 {
        if unit.maximumTransferBlocks != 0 && blocks > unit.maximumTransferBlocks {
            throw .invalidFieldInCDB
        }
        let (bytes, overflow) = blocks.multipliedReportingOverflow(by: unit.blockSize)
        if overflow { throw .invalidFieldInCDB }
        return bytes
    }

    static func parseReadWrite<Unit: BlockAccessLimits>(_ c: CDB, opcode: SCSIOpcode, unit: Unit) throws(SenseReason) -> ParsedCommand {
        let fields = BlockFields(c, cdbLength: opcode.cdbLength)
        let isRead: Bool
        let isWriteAndVerify: Bool
        switch opcode {
        case .read6, .read10, .read12, .read16: (isRead, isWriteAndVerify) = (true, false)
        case .writeAndVerify10, .writeAndVerify12, .writeAndVerify16: (isRead, isWriteAndVerify) = (false, true)
        default: (isRead, isWriteAndVerify) = (false, false)
        }
        // SBC-3 §5.8/§5.35: RDPROTECT/WRPROTECT ≠ 0 on a logical unit without protection
        // information → INVALID FIELD IN CDB.
        if fields.protect != 0 { throw .invalidFieldInCDB }
        // SBC-3 §5.36 WRITE AND VERIFY: BYTCHK 00b/01b only (10b/11b reserved here).
        if isWriteAndVerify && fields.byteCheck > 1 { throw .invalidFieldInCDB }
        // DPO and FUA are accepted (MODE SENSE reports DPOFUA = 1); DPO is only a cache hint.
        let bytes = try transferBytes(blocks: fields.blocks, unit: unit)
        try checkRange(lba: fields.lba, blocks: fields.blocks, unit: unit)
        if isRead {
            return ParsedCommand(command: .read(lba: fields.lba, blocks: fields.blocks, fua: fields.fua),
                                 direction: .fromTarget, transferLength: bytes)
        }
        // SBC-3 §4.13: writes to a write-protected medium → DATA PROTECT / WRITE PROTECTED.
        if unit.readOnly { throw .writeProtected }
        // WRITE AND VERIFY: the medium must hold the data before GOOD, so it is a FUA write;
        // a byte compare right after writing the same bytes cannot miscompare.
        let fua = fields.fua || isWriteAndVerify
        return ParsedCommand(command: .write(lba: fields.lba, blocks: fields.blocks, fua: fua),
                             direction: .toTarget, transferLength: bytes)
    }

    static func parseVerify(_ c: CDB, opcode: SCSIOpcode, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let fields = BlockFields(c, cdbLength: opcode.cdbLength)
        // SBC-3 §5.30: VRPROTECT ≠ 0 without protection information → INVALID FIELD IN CDB.
        if fields.protect != 0 { throw .invalidFieldInCDB }
        // SBC-3 §5.30 Table 73: BYTCHK 00b (medium check) and 01b (byte compare) are
        // implemented; 10b is reserved and 11b (single-block compare) is not supported.
        guard fields.byteCheck <= 1 else { throw .invalidFieldInCDB }
        let byteCheck = fields.byteCheck == 1
        let bytes = try transferBytes(blocks: fields.blocks, unit: unit)
        try checkRange(lba: fields.lba, blocks: fields.blocks, unit: unit)
        return ParsedCommand(
            command: .verify(lba: fields.lba, blocks: fields.blocks, byteCheck: byteCheck),
            direction: byteCheck ? .toTarget : .none,
            transferLength: byteCheck ? bytes : 0)
    }

    static func parseSynchronizeCache(_ c: CDB, opcode: SCSIOpcode, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let lba: UInt64
        let blocks: UInt32
        if opcode == .synchronizeCache10 {
            (lba, blocks) = (UInt64(c.be32(2)), UInt32(c.be16(7)))
        } else {
            (lba, blocks) = (c.be64(2), c.be32(10))
        }
        // SBC-3 §5.22: NUMBER OF LOGICAL BLOCKS 0 means "to the last LBA"; the range is
        // checked like any other (LBA OUT OF RANGE). IMMED is accepted; the runtime answers
        // after the flush either way.
        try checkRange(lba: lba, blocks: blocks, unit: unit)
        return ParsedCommand(command: .synchronizeCache(lba: lba, blocks: blocks), direction: .none, transferLength: 0)
    }
}
