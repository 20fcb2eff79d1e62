/// SAM-5 §4.7 single-level LUN encoding of the 8-byte iSCSI LUN field (held as a big-endian UInt64,
/// byte 0 of the field in the top 8 bits).
public enum SAMLUN {
    /// Encodes a LUN the way Linux and most targets do:
    /// - below 256: peripheral device addressing (SAM-5 §4.7.5, address method 00b, bus 0);
    /// - below 16384: flat space addressing (SAM-5 §4.7.7, address method 01b);
    /// - otherwise: extended flat space addressing (SAM-5 §4.7.8, byte 0 = D2h, 24-bit LUN), so
    ///   no value aliases another. Callers that want IET limits reject LUN >= 16384 beforehand.
    public static func encode(_ lun: UInt16) -> UInt64 {
        if lun < 256 {
            return UInt64(lun) << 48
        }
        if lun < 16384 {
            return (UInt64(0x4000) | UInt64(lun)) << 48
        }
        return UInt64(0xD2) << 56 | UInt64(lun) << 32
    }

    /// Decodes a single-level LUN in peripheral (bus 0), flat, or extended flat addressing.
    /// - Returns: nil for any other address method, a non-zero bus identifier, non-zero bytes in
    ///   the second-level fields, or a value that does not fit in 16 bits.
    public static func decode(_ raw: UInt64) -> UInt16? {
        let byte0 = UInt8(truncatingIfNeeded: raw >> 56)
        let byte1 = UInt8(truncatingIfNeeded: raw >> 48)
        switch byte0 >> 6 {
        case 0b00:
            // SAM-5 §4.7.5: peripheral device addressing; bus identifier (bits 0-5) must be 0
            // for a single-level LUN, and bytes 2-7 must be zero.
            guard byte0 & 0x3F == 0, raw & 0x0000_FFFF_FFFF_FFFF == 0 else { return nil }
            return UInt16(byte1)
        case 0b01:
            // SAM-5 §4.7.7: flat space addressing, 14-bit LUN; bytes 2-7 zero.
            guard raw & 0x0000_FFFF_FFFF_FFFF == 0 else { return nil }
            return UInt16(byte0 & 0x3F) << 8 | UInt16(byte1)
        default:
            // SAM-5 §4.7.8: extended flat space addressing (D2h), 24-bit LUN in bytes 1-3.
            guard byte0 == 0xD2, raw & 0x0000_0000_FFFF_FFFF == 0 else { return nil }
            let value = UInt32(truncatingIfNeeded: raw >> 32) & 0x00FF_FFFF
            return UInt16(exactly: value)
        }
    }
}
