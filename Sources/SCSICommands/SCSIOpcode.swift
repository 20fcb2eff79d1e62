/// The operation codes this target implements (SPC-4 / SBC-3), named so a `switch` over them is
/// exhaustive. Any other opcode byte is answered with INVALID COMMAND OPERATION CODE.
public enum SCSIOpcode: UInt8, Sendable, Hashable, CaseIterable {
    case testUnitReady = 0x00
    case requestSense = 0x03
    case read6 = 0x08
    case write6 = 0x0A
    case inquiry = 0x12
    case modeSense6 = 0x1A
    case startStopUnit = 0x1B
    case readCapacity10 = 0x25
    case read10 = 0x28
    case write10 = 0x2A
    case writeAndVerify10 = 0x2E
    case verify10 = 0x2F
    case synchronizeCache10 = 0x35
    case modeSense10 = 0x5A
    case read16 = 0x88
    case write16 = 0x8A
    case writeAndVerify16 = 0x8E
    case verify16 = 0x8F
    case synchronizeCache16 = 0x91
    /// SERVICE ACTION IN(16); only READ CAPACITY(16) (service action 10h) is implemented.
    case serviceActionIn16 = 0x9E
    case reportLUNs = 0xA0
    case read12 = 0xA8
    case write12 = 0xAA
    case writeAndVerify12 = 0xAE
    case verify12 = 0xAF

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
}
