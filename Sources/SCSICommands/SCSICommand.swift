/// Direction of the data phase, from the initiator's point of view of the target.
public enum DataDirection: Sendable, Hashable {
    /// No data phase.
    case none
    /// Data-in: the target sends data (READ, INQUIRY, …).
    case fromTarget
    /// Data-out: the initiator sends data (WRITE, VERIFY with BYTCHK = 1).
    case toTarget
}

/// A validated command: either an I/O action the runtime performs on the backing store, or an
/// emulated command answered by `Emulator.execute`.
///
/// For every block command, `blocks == 0` means "no transfer": the runtime completes it with
/// GOOD without touching the backing store (SBC-3: a TRANSFER LENGTH of 0 is not an error).
public enum SCSICommand: Sendable, Hashable {
    /// Read `blocks` blocks at `lba`; `fua` asks to bypass any read cache.
    case read(lba: UInt64, blocks: UInt32, fua: Bool)
    /// Write `blocks` blocks at `lba`; `fua` means the data must be on stable storage before
    /// GOOD (also set for WRITE AND VERIFY, whose verify step is then trivially satisfied).
    case write(lba: UInt64, blocks: UInt32, fua: Bool)
    /// VERIFY: BYTCHK = 0 → the runtime reads the range, GOOD if readable; BYTCHK = 1 → the
    /// initiator sends `blocks × blockSize` bytes and the runtime compares them with the medium,
    /// failing with `SenseReason.miscompare(offset:)` at the first difference.
    case verify(lba: UInt64, blocks: UInt32, byteCheck: Bool)
    /// SYNCHRONIZE CACHE for the range; `blocks == 0` means "from `lba` to the end".
    case synchronizeCache(lba: UInt64, blocks: UInt32)
    /// Answered by `Emulator.execute`.
    case emulated(EmulatedCommand)
}

/// Commands answered from `LogicalUnitInfo` and `EmulationContext` alone.
public enum EmulatedCommand: Sendable, Hashable {
    /// TEST UNIT READY: GOOD, no data.
    case testUnitReady
    /// START STOP UNIT that is accepted (no effect on a fixed disk): GOOD, no data.
    case startStopUnit
    /// INQUIRY: standard data (`evpd == false`, `pageCode == 0`) or a VPD page.
    case inquiry(evpd: Bool, pageCode: UInt8, allocationLength: UInt16)
    /// REQUEST SENSE: the pending sense (or NO SENSE) in descriptor format when `descriptorFormat`.
    case requestSense(descriptorFormat: Bool, allocationLength: UInt8)
    /// REPORT LUNS with SELECT REPORT 00h, 01h or 02h.
    case reportLUNs(selectReport: UInt8, allocationLength: UInt32)
    /// READ CAPACITY(10): 8 bytes.
    case readCapacity10
    /// READ CAPACITY(16): 32 bytes.
    case readCapacity16(allocationLength: UInt32)
    /// MODE SENSE(6) or MODE SENSE(10).
    case modeSense(ModeSenseRequest)
}

/// Validated MODE SENSE(6)/(10) fields (SPC-4 §6.11, §6.12).
public struct ModeSenseRequest: Sendable, Hashable {
    /// SPC-4 §6.11.1 Table 157: PAGE CONTROL.
    public enum PageControl: UInt8, Sendable, Hashable {
        case current = 0, changeable = 1, `default` = 2, saved = 3
    }

    /// true for MODE SENSE(10) (8-byte header, 16-bit lengths).
    public var isTenByte: Bool
    /// DBD: disable block descriptors.
    public var disableBlockDescriptors: Bool
    /// LLBAA (MODE SENSE(10) only): long LBA block descriptor allowed.
    public var longLBAAccepted: Bool
    public var pageControl: PageControl
    public var pageCode: UInt8
    public var subpageCode: UInt8
    public var allocationLength: UInt16

    public init(
        isTenByte: Bool, disableBlockDescriptors: Bool, longLBAAccepted: Bool,
        pageControl: PageControl, pageCode: UInt8, subpageCode: UInt8, allocationLength: UInt16
    ) {
        self.isTenByte = isTenByte
        self.disableBlockDescriptors = disableBlockDescriptors
        self.longLBAAccepted = longLBAAccepted
        self.pageControl = pageControl
        self.pageCode = pageCode
        self.subpageCode = subpageCode
        self.allocationLength = allocationLength
    }
}

/// Result of step 1 (`CommandParser`): what to do, which way data flows and how much.
public struct ParsedCommand: Sendable, Hashable {
    public var command: SCSICommand
    public var direction: DataDirection
    /// Bytes the CDB asks to move (allocation length for data-in emulated commands; blocks ×
    /// blockSize for I/O). The runtime compares this with the iSCSI Expected Data Transfer
    /// Length to compute residuals; for emulated data-in the bytes actually sent are
    /// min(response.count, transferLength, EDTL) and the residual is computed from that.
    public var transferLength: UInt32

    public init(command: SCSICommand, direction: DataDirection, transferLength: UInt32) {
        self.command = command
        self.direction = direction
        self.transferLength = transferLength
    }
}
