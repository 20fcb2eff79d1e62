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
    /// WRITE SAME(10/16) (SBC-3 §5.41/§5.42): one block of data (none with NDOB = zeros) written to every
    /// block of the range; with `unmap` the range may be deallocated instead when the block is all zeros.
    /// `blocks` is already resolved (0 in the CDB = to the last LBA) and is never 0 here.
    case writeSame(lba: UInt64, blocks: UInt64, unmap: Bool, noDataOut: Bool)
    /// UNMAP (SBC-3 §5.28): the parameter list (`parameterListLength` bytes of data-out) is parsed with
    /// `UnmapParameterList.parse` once it has arrived. 0 → GOOD, nothing to do.
    case unmap(parameterListLength: UInt16)
    /// GET LBA STATUS (SBC-3 §5.6) from `lba`; the runtime asks the backing store and formats the reply
    /// with `Emulator.lbaStatus`.
    case getLBAStatus(lba: UInt64, allocationLength: UInt32)
    /// COMPARE AND WRITE (SBC-3 §5.3): data-out is `blocks` blocks of verify data, then `blocks` blocks of
    /// write data; atomic against other writers of the range.
    case compareAndWrite(lba: UInt64, blocks: UInt32, fua: Bool)
    /// ORWRITE(16) (SBC-3 §5.9, ORPROTECT 0): medium = medium OR data-out, atomically per range.
    case orWrite(lba: UInt64, blocks: UInt32, fua: Bool)
    /// WRITE ATOMIC(16) (SBC-4 §5.48): `blocks` blocks written all-or-nothing — against every other command
    /// touching the range and across power loss. The parser has checked `blocks` against the unit's atomic
    /// limits (MAXIMUM ATOMIC TRANSFER LENGTH, ATOMIC ALIGNMENT, ATOMIC TRANSFER LENGTH GRANULARITY).
    case writeAtomic(lba: UInt64, blocks: UInt32, fua: Bool)
    /// PRE-FETCH(10/16) (SBC-3 §5.10/§5.11): a cache hint; answered CONDITION MET.
    case prefetch(lba: UInt64, blocks: UInt32)
    /// SPC-2 RESERVE(6)/(10) of the whole logical unit (third-party and extents are rejected).
    case reserve
    /// SPC-2 RELEASE(6)/(10).
    case release
    /// PERSISTENT RESERVE IN (SPC-4 §6.13).
    case persistentReserveIn(serviceAction: PRInServiceAction, allocationLength: UInt16)
    /// PERSISTENT RESERVE OUT (SPC-4 §6.14): the 24-byte parameter list arrives as data-out.
    case persistentReserveOut(PROutRequest)
    /// EXTENDED COPY (LID1, SPC-4 §6.4): the parameter list (`parameterListLength` bytes of data-out, 0 = nothing to
    /// do) is parsed with `XCopyParameterList.parse` once it has arrived.
    case extendedCopy(parameterListLength: UInt32)
    /// RECEIVE COPY RESULTS (LID1, SPC-4 §6.18).
    case receiveCopyResults(CopyResultsRequest)
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
    /// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35).
    case reportSupportedOpcodes(ReportOpcodesRequest)
    /// READ DEFECT DATA(10)/(12) (SBC-3 §5.12/§5.13): an empty list in the requested format.
    case readDefectData(twelveByte: Bool, primary: Bool, grown: Bool, format: UInt8, allocationLength: UInt32)
    /// PREVENT ALLOW MEDIUM REMOVAL (SBC-3 §5.11) on a fixed disk: accepted, no effect.
    case preventAllowMediumRemoval
}

/// REPORT SUPPORTED OPERATION CODES fields (SPC-4 §6.35.1).
public struct ReportOpcodesRequest: Sendable, Hashable {
    /// SPC-4 Table 273 REPORTING OPTIONS.
    public enum Options: UInt8, Sendable, Hashable {
        /// 000b: every supported command (service actions listed individually).
        case all = 0
        /// 001b: one opcode that has no service actions.
        case opcode = 1
        /// 010b: one opcode + service action.
        case opcodeAndServiceAction = 2
        /// 011b (SPC-4 r37): one opcode, with or without service action.
        case opcodeEitherWay = 3
    }
    /// RCTD: return command timeouts descriptors.
    public var includeTimeouts: Bool
    public var options: Options
    public var requestedOpcode: UInt8
    public var requestedServiceAction: UInt16
    public var allocationLength: UInt32

    public init(includeTimeouts: Bool, options: Options, requestedOpcode: UInt8, requestedServiceAction: UInt16,
                allocationLength: UInt32) {
        self.includeTimeouts = includeTimeouts
        self.options = options
        self.requestedOpcode = requestedOpcode
        self.requestedServiceAction = requestedServiceAction
        self.allocationLength = allocationLength
    }
}

/// PERSISTENT RESERVE IN service actions (SPC-4 §6.13.1 Table 164).
public enum PRInServiceAction: UInt8, Sendable, Hashable {
    case readKeys = 0
    case readReservation = 1
    case reportCapabilities = 2
    case readFullStatus = 3
}

/// PERSISTENT RESERVE OUT service actions (SPC-4 §6.14.2 Table 174); REGISTER AND MOVE is not supported.
public enum PROutServiceAction: UInt8, Sendable, Hashable {
    case register = 0
    case reserve = 1
    case release = 2
    case clear = 3
    case preempt = 4
    case preemptAndAbort = 5
    case registerAndIgnoreExistingKey = 6
}

/// Persistent reservation types (SPC-4 §6.14.3 Table 175).
public enum PRType: UInt8, Sendable, Hashable, CaseIterable {
    case writeExclusive = 1
    case exclusiveAccess = 3
    case writeExclusiveRegistrantsOnly = 5
    case exclusiveAccessRegistrantsOnly = 6
    case writeExclusiveAllRegistrants = 7
    case exclusiveAccessAllRegistrants = 8

    /// "All registrants" types: every registered I_T nexus is a reservation holder (SPC-4 §5.12.10).
    public var isAllRegistrants: Bool { self == .writeExclusiveAllRegistrants || self == .exclusiveAccessAllRegistrants }
    /// Registrants-only and all-registrants types: registered I_T nexuses get the holder's access.
    public var registrantsHaveAccess: Bool { rawValue >= 5 }
    /// Exclusive Access family: non-holders may not even read.
    public var excludesReads: Bool {
        self == .exclusiveAccess || self == .exclusiveAccessRegistrantsOnly || self == .exclusiveAccessAllRegistrants
    }
}

/// A validated PERSISTENT RESERVE OUT CDB (the parameter list is parsed when it arrives).
public struct PROutRequest: Sendable, Hashable {
    public var serviceAction: PROutServiceAction
    /// SCOPE (bits 7–4 of byte 2): only LU_SCOPE (0) is supported.
    public var scope: UInt8
    /// TYPE (bits 3–0 of byte 2); validated only for the service actions that use it.
    public var type: UInt8
    public var parameterListLength: UInt32

    public init(serviceAction: PROutServiceAction, scope: UInt8, type: UInt8, parameterListLength: UInt32) {
        self.serviceAction = serviceAction
        self.scope = scope
        self.type = type
        self.parameterListLength = parameterListLength
    }
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
