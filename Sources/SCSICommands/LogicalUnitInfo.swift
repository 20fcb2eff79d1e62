/// What the SCSI layer needs to know about one logical unit. Built by the runtime from the
/// IET `Lun` line and the opened backing store.
public struct LogicalUnitInfo: Sendable, Hashable {
    /// LUN number (0…16383 under IET rules).
    public var lun: UInt16
    /// Logical block length in bytes (512 or 4096).
    public var blockSize: UInt32
    /// Number of logical blocks (the last LBA is `blockCount - 1`).
    public var blockCount: UInt64
    /// IOMode=ro: writes fail with DATA PROTECT / WRITE PROTECTED and MODE SENSE reports WP.
    public var readOnly: Bool
    /// IOMode=wb: WCE = 1 in the Caching mode page.
    public var writeCacheEnabled: Bool
    /// IET ScsiId (VPD 83h T10 vendor ID designator); cut or zero-padded to 16 bytes.
    public var scsiID: [UInt8]
    /// IET ScsiSN (VPD 80h unit serial number).
    public var serialNumber: String
    /// READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (low 4 bits used).
    public var physicalBlockExponent: UInt8
    /// Block Limits VPD MAXIMUM TRANSFER LENGTH in blocks; READ/WRITE/VERIFY longer than this
    /// fail with INVALID FIELD IN CDB. 0 = no limit (transfers must still fit in 4 GiB − 1).
    public var maximumTransferBlocks: UInt32
    /// Block Limits VPD OPTIMAL TRANSFER LENGTH in blocks (0 = not reported).
    public var optimalTransferBlocks: UInt32
    /// Block Device Characteristics VPD MEDIUM ROTATION RATE: 0 = not reported, 1 = non-rotating.
    public var mediumRotationRate: UInt16
    /// Standard INQUIRY T10 VENDOR IDENTIFICATION (8 bytes on the wire).
    public var vendor: String = "IET"
    /// Standard INQUIRY PRODUCT IDENTIFICATION (16 bytes on the wire).
    public var product: String = "VIRTUAL-DISK"
    /// Standard INQUIRY PRODUCT REVISION LEVEL (4 bytes on the wire).
    public var revision: String = "0"

    /// SBC-3 §4.7 logical block provisioning: LBPME = 1 (UNMAP, WRITE SAME with UNMAP, GET LBA STATUS).
    public var thinProvisioning: Bool = false
    /// LBPRZ: a deallocated block reads as zeros (true for hole-punched files).
    public var readsZerosAfterUnmap: Bool = false
    /// Block Limits VPD MAXIMUM UNMAP LBA COUNT (per UNMAP command and per WRITE SAME with UNMAP).
    public var maximumUnmapBlocks: UInt32 = LogicalUnitInfo.defaultMaximumUnmapBlocks
    /// Block Limits VPD MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    public var maximumUnmapDescriptors: UInt32 = LogicalUnitInfo.defaultMaximumUnmapDescriptors
    /// Block Limits VPD MAXIMUM WRITE SAME LENGTH in blocks (WRITE SAME without UNMAP writes every block).
    public var maximumWriteSameBlocks: UInt64 = LogicalUnitInfo.defaultMaximumWriteSameBlocks
    /// Block Limits VPD MAXIMUM COMPARE AND WRITE LENGTH in blocks (0 = COMPARE AND WRITE unsupported).
    public var maximumCompareAndWriteBlocks: UInt8 = LogicalUnitInfo.defaultMaximumCompareAndWriteBlocks
    /// Block Limits VPD MAXIMUM ATOMIC TRANSFER LENGTH in blocks (SBC-4 §6.6.4). 0 = WRITE ATOMIC(16) is not
    /// supported (INVALID COMMAND OPERATION CODE). Set only to what the backing store writes all-or-nothing
    /// across power loss (see docs/scsi.md, "WRITE ATOMIC").
    public var maximumAtomicTransferBlocks: UInt32 = 0
    /// Block Limits VPD ATOMIC ALIGNMENT in blocks: the LBA of an atomic write is a multiple of it (0 = none).
    public var atomicAlignment: UInt32 = 0
    /// Block Limits VPD ATOMIC TRANSFER LENGTH GRANULARITY in blocks: the length of an atomic write is a
    /// multiple of it (0 = none).
    public var atomicTransferLengthGranularity: UInt32 = 0

    /// MAXIMUM WRITE SAME LENGTH as reported and enforced: never above MAXIMUM TRANSFER LENGTH, so an
    /// initiator can pre-fill or read back any range it may WRITE SAME (libiscsi WriteSame16.Unmap does).
    public var effectiveMaximumWriteSameBlocks: UInt64 {
        maximumTransferBlocks == 0 ? maximumWriteSameBlocks : min(maximumWriteSameBlocks, UInt64(maximumTransferBlocks))
    }

    /// Default MAXIMUM UNMAP LBA COUNT: 1 Mi blocks per command (libiscsi Inquiry.BlockLimits caps it there).
    public static let defaultMaximumUnmapBlocks: UInt32 = 1 << 20
    /// Default MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    public static let defaultMaximumUnmapDescriptors: UInt32 = 256
    /// Default MAXIMUM WRITE SAME LENGTH: 256 Ki blocks.
    public static let defaultMaximumWriteSameBlocks: UInt64 = 1 << 18
    /// Default MAXIMUM COMPARE AND WRITE LENGTH.
    public static let defaultMaximumCompareAndWriteBlocks: UInt8 = 255

    /// Default MAXIMUM TRANSFER LENGTH in blocks (LIO's default `max_sectors`).
    public static let defaultMaximumTransferBlocks: UInt32 = 8192

    public init(
        lun: UInt16,
        blockSize: UInt32 = 512,
        blockCount: UInt64,
        readOnly: Bool = false,
        writeCacheEnabled: Bool = false,
        scsiID: [UInt8] = [],
        serialNumber: String = "",
        physicalBlockExponent: UInt8 = 0,
        maximumTransferBlocks: UInt32 = LogicalUnitInfo.defaultMaximumTransferBlocks,
        optimalTransferBlocks: UInt32 = 0,
        mediumRotationRate: UInt16 = 0,
        vendor: String = "IET",
        product: String = "VIRTUAL-DISK",
        revision: String = "0"
    ) {
        self.lun = lun
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.readOnly = readOnly
        self.writeCacheEnabled = writeCacheEnabled
        self.scsiID = scsiID
        self.serialNumber = serialNumber
        self.physicalBlockExponent = physicalBlockExponent
        self.maximumTransferBlocks = maximumTransferBlocks
        self.optimalTransferBlocks = optimalTransferBlocks
        self.mediumRotationRate = mediumRotationRate
        self.vendor = vendor
        self.product = product
        self.revision = revision
    }
}

extension LogicalUnitInfo {
    /// Sets the three SBC-4 §6.6.4 atomic fields the parser and the Block Limits page use (0 = unsupported).
    public mutating func setAtomicWriteLimits(blocks: UInt32) {
        maximumAtomicTransferBlocks = blocks
        atomicAlignment = blocks
        atomicTransferLengthGranularity = blocks
    }
}

/// What READ / WRITE parsing checks a CDB against (SBC-3 §4.5 range, §6.5.3 MAXIMUM TRANSFER LENGTH, §4.13
/// write protection).
public protocol BlockAccessLimits {
    var blockSize: UInt32 { get }
    var blockCount: UInt64 { get }
    var readOnly: Bool { get }
    var maximumTransferBlocks: UInt32 { get }
}

extension LogicalUnitInfo: BlockAccessLimits {}

/// ``BlockAccessLimits`` as a plain value, taken once from a unit's description for the per-command parse
/// (``CommandParser/parseDataTransfer(_:limits:)``).
public struct BlockTransferLimits: BlockAccessLimits, Sendable, Equatable {
    public var blockSize: UInt32
    public var blockCount: UInt64
    public var readOnly: Bool
    public var maximumTransferBlocks: UInt32

    public init(_ unit: LogicalUnitInfo) {
        blockSize = unit.blockSize
        blockCount = unit.blockCount
        readOnly = unit.readOnly
        maximumTransferBlocks = unit.maximumTransferBlocks
    }
}
