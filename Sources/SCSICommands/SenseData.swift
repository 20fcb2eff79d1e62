/// SPC-4 §4.5.1: sense data format, chosen per logical unit by the D_SENSE bit of the Control
/// mode page (and per REQUEST SENSE by its DESC bit).
public enum SenseFormat: Sendable, Hashable {
    /// Response code 70h (SPC-4 §4.5.3), 18 bytes.
    case fixed
    /// Response code 72h (SPC-4 §4.5.2), 8 bytes plus an Information descriptor when needed.
    case descriptor
}

/// Builds sense data bytes from a `SenseReason` (what goes after the 2-byte SenseLength in an
/// iSCSI SCSI Response data segment, RFC 7143 §11.4.7.2).
public enum SenseData {
    /// Fixed-format sense data length: 8-byte header + ADDITIONAL SENSE LENGTH 10.
    public static let fixedLength = 18

    /// - Parameters:
    ///   - reason: the row of the sense table to report.
    ///   - format: fixed (70h) or descriptor (72h); both report current errors.
    /// - Returns: the complete sense data.
    public static func build(_ reason: SenseReason, format: SenseFormat) -> [UInt8] {
        let detail = reason.detail
        switch format {
        case .fixed:
            var bytes = [UInt8](repeating: 0, count: fixedLength)
            // SPC-4 §4.5.3: VALID is set only when INFORMATION holds a meaningful value.
            bytes[0] = detail.information == nil ? 0x70 : 0xF0
            bytes[2] = detail.key.rawValue
            if let information = detail.information {
                bytes[3] = UInt8(truncatingIfNeeded: information >> 24)
                bytes[4] = UInt8(truncatingIfNeeded: information >> 16)
                bytes[5] = UInt8(truncatingIfNeeded: information >> 8)
                bytes[6] = UInt8(truncatingIfNeeded: information)
            }
            bytes[7] = UInt8(fixedLength - 8)  // ADDITIONAL SENSE LENGTH
            bytes[12] = detail.asc
            bytes[13] = detail.ascq
            if let sks = detail.senseKeySpecific, sks.count == 3 {
                bytes[15] = sks[0]
                bytes[16] = sks[1]
                bytes[17] = sks[2]
            }
            return bytes
        case .descriptor:
            var bytes: [UInt8] = [0x72, detail.key.rawValue, detail.asc, detail.ascq, 0, 0, 0, 0]
            if let information = detail.information {
                // SPC-4 §4.5.2.2: Information descriptor, type 00h, ADDITIONAL LENGTH 0Ah,
                // VALID = 1, 8-byte INFORMATION.
                bytes.append(contentsOf: [0x00, 0x0A, 0x80, 0x00])
                bytes.appendBE64(UInt64(information))
            }
            if let sks = detail.senseKeySpecific, sks.count == 3 {
                // SPC-4 §4.5.2.4: sense key specific descriptor, type 02h, ADDITIONAL LENGTH 06h.
                bytes.append(contentsOf: [0x02, 0x06, 0x00, 0x00])
                bytes.append(contentsOf: sks)
                bytes.append(0x00)
            }
            bytes[7] = UInt8(bytes.count - 8)  // ADDITIONAL SENSE LENGTH
            return bytes
        }
    }
}

/// SAM-5 §5.3.1 Table 33: status codes.
public enum SCSIStatus: UInt8, Sendable, Hashable {
    case good = 0x00
    case checkCondition = 0x02
    case conditionMet = 0x04
    case busy = 0x08
    case reservationConflict = 0x18
    case taskSetFull = 0x28
    case acaActive = 0x30
    case taskAborted = 0x40
}
