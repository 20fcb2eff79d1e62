/// Bounds-checked big-endian field readers over CDB bytes (LIO's `transport_get_sectors_*` /
/// `transport_lba_*` idea). `CommandParser` checks the CDB length before reading, so the
/// out-of-range fallback (0) is only a second line of defence: a CDB can never make us index
/// past the array.
struct CDB {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    subscript(_ index: Int) -> UInt8 {
        index >= 0 && index < bytes.count ? bytes[index] : 0
    }

    func be16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    func be32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    func be64(_ offset: Int) -> UInt64 {
        UInt64(be32(offset)) << 32 | UInt64(be32(offset + 4))
    }

    /// SBC-3 §5.7 READ(6) / §5.34 WRITE(6): 21-bit LOGICAL BLOCK ADDRESS in bytes 1–3.
    var lba21: UInt64 {
        UInt64(self[1] & 0x1F) << 16 | UInt64(self[2]) << 8 | UInt64(self[3])
    }

    /// SBC-3 §5.7: for READ(6)/WRITE(6) a TRANSFER LENGTH of 0 means 256 blocks.
    var transferLength6: UInt32 {
        self[4] == 0 ? 256 : UInt32(self[4])
    }
}

/// Big-endian append helpers for building response data.
extension Array where Element == UInt8 {
    mutating func appendBE16(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendBE32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendBE64(_ value: UInt64) {
        appendBE32(UInt32(truncatingIfNeeded: value >> 32))
        appendBE32(UInt32(truncatingIfNeeded: value))
    }

    mutating func appendZeros(_ count: Int) {
        if count > 0 { append(contentsOf: repeatElement(0, count: count)) }
    }

    /// SPC-4 §4.4.1: ASCII data fields are left-aligned and padded with spaces; only 20h–7Eh
    /// are allowed, so other bytes become spaces and longer strings are cut to `width`.
    mutating func appendASCII(_ string: String, width: Int) {
        var written = 0
        for byte in string.utf8 where written < width {
            append((0x20...0x7E).contains(byte) ? byte : 0x20)
            written += 1
        }
        appendSpaces(width - written)
    }

    mutating func appendSpaces(_ count: Int) {
        if count > 0 { append(contentsOf: repeatElement(0x20, count: count)) }
    }
}
