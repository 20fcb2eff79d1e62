/// The operation codes this target implements (SPC-4 / SBC-3), named so a `switch` over them is
/// exhaustive. Any other opcode byte is answered with INVALID COMMAND OPERATION CODE.
public enum SCSIOpcode: UInt8, Sendable, Hashable, CaseIterable {
    case testUnitReady = 0x00
    case requestSense = 0x03
    case read6 = 0x08
    case write6 = 0x0A
    case inquiry = 0x12
    /// SPC-2 RESERVE(6) / RELEASE(6).
    case reserve6 = 0x16
    case release6 = 0x17
    case modeSense6 = 0x1A
    case startStopUnit = 0x1B
    case preventAllowMediumRemoval = 0x1E
    case readCapacity10 = 0x25
    case read10 = 0x28
    case write10 = 0x2A
    case writeAndVerify10 = 0x2E
    case verify10 = 0x2F
    case prefetch10 = 0x34
    case synchronizeCache10 = 0x35
    case readDefectData10 = 0x37
    case writeSame10 = 0x41
    case unmap = 0x42
    /// SPC-2 RESERVE(10) / RELEASE(10).
    case reserve10 = 0x56
    case release10 = 0x57
    case modeSense10 = 0x5A
    case persistentReserveIn = 0x5E
    case persistentReserveOut = 0x5F
    case read16 = 0x88
    case compareAndWrite = 0x89
    case write16 = 0x8A
    case orWrite16 = 0x8B
    /// THIRD-PARTY COPY OUT: only EXTENDED COPY (LID1), service action 00h (SPC-4 §6.4).
    case extendedCopy = 0x83
    /// THIRD-PARTY COPY IN: RECEIVE COPY RESULTS (LID1) — COPY STATUS, OPERATING PARAMETERS, FAILED SEGMENT
    /// DETAILS (SPC-4 §6.18).
    case receiveCopyResults = 0x84
    case writeAndVerify16 = 0x8E
    case verify16 = 0x8F
    case prefetch16 = 0x90
    case synchronizeCache16 = 0x91
    case writeSame16 = 0x93
    /// WRITE ATOMIC(16) (SBC-4 §5.48); supported only by units whose Block Limits report a MAXIMUM ATOMIC
    /// TRANSFER LENGTH (otherwise INVALID COMMAND OPERATION CODE, as for any unsupported command).
    case writeAtomic16 = 0x9C
    /// SERVICE ACTION IN(16): READ CAPACITY(16) (10h) and GET LBA STATUS (12h).
    case serviceActionIn16 = 0x9E
    case reportLUNs = 0xA0
    /// MAINTENANCE IN: only REPORT SUPPORTED OPERATION CODES (0Ch).
    case maintenanceIn = 0xA3
    case read12 = 0xA8
    case write12 = 0xAA
    case writeAndVerify12 = 0xAE
    case verify12 = 0xAF
    case readDefectData12 = 0xB7

    /// CDB length in bytes implied by the opcode's group code (SPC-4 §4.2.5.1): group 0 → 6,
    /// groups 1–2 → 10, group 4 → 16, group 5 → 12.
    public var cdbLength: Int {
        switch rawValue >> 5 {
        case 0: return 6
        case 1, 2: return 10
        case 4: return 16
        case 5: return 12
        default: return 16  // unreachable for the cases above; keeps the switch total
        }
    }

    /// SAM-5 §5.14: a pending unit attention is not reported for INQUIRY, REPORT LUNS and
    /// REQUEST SENSE (they neither fail with it nor clear it).
    public var isUnitAttentionExempt: Bool {
        switch self {
        case .inquiry, .reportLUNs, .requestSense: return true
        default: return false
        }
    }

    /// Service action of READ CAPACITY(16) within SERVICE ACTION IN(16) (SBC-3 §5.16).
    static let readCapacity16ServiceAction: UInt8 = 0x10
    /// Service action of GET LBA STATUS within SERVICE ACTION IN(16) (SBC-3 §5.6).
    static let getLBAStatusServiceAction: UInt8 = 0x12
    /// Service action of REPORT SUPPORTED OPERATION CODES within MAINTENANCE IN (SPC-4 §6.35).
    static let reportSupportedOpcodesServiceAction: UInt8 = 0x0C
}
