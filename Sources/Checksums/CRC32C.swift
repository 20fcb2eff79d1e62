import CCRC32C

/// CRC32C (Castagnoli), the iSCSI header and data digest (RFC 7143 §13.1, vectors in RFC 3720 §B.4).
///
/// Two layers:
/// - `checksum(_:)` gives the finished CRC of one buffer.
/// - `update(_:_:)` is the raw register update for incremental use. Start from `initial`
///   (0xFFFF_FFFF), thread the register through as many `update` calls as needed, then call
///   `finalize(_:)` (bitwise NOT) once. `checksum(x) == finalize(update(initial, x))`.
///
/// On the wire the digest is sent least-significant byte first (RFC 3720 §B.4: 32 zero bytes give
/// `aa 36 91 8a`, the value 0x8A9136AA). Use `wireBytes(_:)` / `fromWire(_:)` rather than
/// shifting by hand.
public enum CRC32C {
    /// The register value to start an incremental computation with.
    public static let initial: UInt32 = 0xFFFF_FFFF

    /// Whether the SSE4.2 instruction path is in use on this CPU.
    public static var isHardwareAccelerated: Bool { crc32c_hardware_accelerated() != 0 }

    /// Raw register update (no inversion). Start from `initial`; finish with `finalize(_:)`.
    /// - Parameters:
    ///   - crc: the running register (`initial` for the first call).
    ///   - bytes: the next bytes.
    /// - Returns: the updated register (not yet a checksum).
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return crc32c_update(crc, base, bytes.count)
    }

    /// Raw register update over an array (see `update(_:_:)`).
    public static func update(_ crc: UInt32, _ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(crc, $0) }
    }

    /// Raw register update over `count` zero bytes (0...3 in practice: iSCSI data padding).
    public static func update(_ crc: UInt32, zeroBytes count: Int) -> UInt32 {
        var crc = crc
        var remaining = max(0, count)
        let zeros: (UInt64, UInt64) = (0, 0)
        withUnsafeBytes(of: zeros) { z in
            while remaining > 0 {
                let n = min(remaining, z.count)
                crc = update(crc, UnsafeRawBufferPointer(rebasing: z[0..<n]))
                remaining -= n
            }
        }
        return crc
    }

    /// Turns a running register into the checksum (bitwise NOT).
    @inlinable
    public static func finalize(_ crc: UInt32) -> UInt32 { ~crc }

    /// The CRC32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        finalize(update(initial, bytes))
    }

    /// The CRC32C of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// The CRC32C of `bytes` through the portable table path only (for tests/comparison).
    public static func portableChecksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return finalize(initial) }
            return finalize(crc32c_update_portable(initial, base, raw.count))
        }
    }

    /// The 4 digest bytes as sent on the wire: least-significant byte first (RFC 3720 §B.4).
    public static func wireBytes(_ crc: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: crc), UInt8(truncatingIfNeeded: crc >> 8),
         UInt8(truncatingIfNeeded: crc >> 16), UInt8(truncatingIfNeeded: crc >> 24)]
    }

    /// Reads a digest as sent on the wire (least-significant byte first).
    /// - Returns: the value, or nil unless `bytes` holds exactly 4 bytes.
    public static func fromWire(_ bytes: some Collection<UInt8>) -> UInt32? {
        guard bytes.count == 4 else { return nil }
        var value: UInt32 = 0
        var shift: UInt32 = 0
        for byte in bytes {
            value |= UInt32(byte) << shift
            shift += 8
        }
        return value
    }

    /// Reads a digest from the first 4 bytes of `bytes` (least-significant byte first).
    /// - Returns: nil when fewer than 4 bytes are available.
    public static func fromWire(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard bytes.count >= 4 else { return nil }
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }
}
