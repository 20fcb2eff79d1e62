// Internal big-endian helpers over fixed-size byte arrays (RFC 7143 §11: all multi-byte integer
// fields are in network byte order). Reads/writes check bounds and never trap: an out-of-range
// read yields 0, an out-of-range write is dropped. Callers only use them on 48-byte BHS arrays.

extension Array where Element == UInt8 {
    @inline(__always)
    func u8(_ at: Int) -> UInt8 {
        at >= 0 && at < count ? self[at] : 0
    }

    @inline(__always)
    func u16(_ at: Int) -> UInt16 {
        UInt16(u8(at)) << 8 | UInt16(u8(at + 1))
    }

    @inline(__always)
    func u24(_ at: Int) -> UInt32 {
        UInt32(u8(at)) << 16 | UInt32(u8(at + 1)) << 8 | UInt32(u8(at + 2))
    }

    @inline(__always)
    func u32(_ at: Int) -> UInt32 {
        UInt32(u16(at)) << 16 | UInt32(u16(at + 2))
    }

    @inline(__always)
    func u48(_ at: Int) -> UInt64 {
        UInt64(u16(at)) << 32 | UInt64(u32(at + 2))
    }

    @inline(__always)
    func u64(_ at: Int) -> UInt64 {
        UInt64(u32(at)) << 32 | UInt64(u32(at + 4))
    }

    @inline(__always)
    func bit(_ at: Int, _ mask: UInt8) -> Bool {
        u8(at) & mask != 0
    }

    @inline(__always)
    mutating func put8(_ at: Int, _ value: UInt8) {
        if at >= 0 && at < count { self[at] = value }
    }

    @inline(__always)
    mutating func put16(_ at: Int, _ value: UInt16) {
        put8(at, UInt8(truncatingIfNeeded: value >> 8))
        put8(at + 1, UInt8(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func put24(_ at: Int, _ value: UInt32) {
        put8(at, UInt8(truncatingIfNeeded: value >> 16))
        put8(at + 1, UInt8(truncatingIfNeeded: value >> 8))
        put8(at + 2, UInt8(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func put32(_ at: Int, _ value: UInt32) {
        put16(at, UInt16(truncatingIfNeeded: value >> 16))
        put16(at + 2, UInt16(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func put48(_ at: Int, _ value: UInt64) {
        put16(at, UInt16(truncatingIfNeeded: value >> 32))
        put32(at + 2, UInt32(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func put64(_ at: Int, _ value: UInt64) {
        put32(at, UInt32(truncatingIfNeeded: value >> 32))
        put32(at + 4, UInt32(truncatingIfNeeded: value))
    }
}

/// Rounds `n` up to a multiple of 4 (RFC 7143 §11.2.2 / §11.2.4: AHS and data segments are
/// padded to whole 4-byte words). Negative input yields 0; values near `Int.max` saturate at the
/// largest multiple of 4 instead of overflowing.
public func paddedLength(_ n: Int) -> Int {
    guard n > 0 else { return 0 }
    let (sum, overflow) = n.addingReportingOverflow(3)
    if overflow { return Int.max & ~3 }
    return sum & ~3
}

/// Big-endian stores into 48 bytes of memory the caller owns (the transmit queue's per-PDU header slot), so a
/// BHS is built where it is sent from: no array per PDU. Offsets are BHS offsets, all < 48.
public struct RawBHSWriter {
    public let base: UnsafeMutableRawPointer

    /// `base` must point at ≥ 48 writable bytes; they are zeroed (RFC 7143 §11: reserved fields are 0).
    public init(zeroing base: UnsafeMutableRawPointer) {
        self.base = base
        base.initializeMemory(as: UInt8.self, repeating: 0, count: BHS.size)
    }

    public subscript(_ at: Int) -> UInt8 {
        get { base.load(fromByteOffset: at, as: UInt8.self) }
        nonmutating set { base.storeBytes(of: newValue, toByteOffset: at, as: UInt8.self) }
    }

    func put16(_ at: Int, _ value: UInt16) { base.storeBytes(of: value.bigEndian, toByteOffset: at, as: UInt16.self) }

    func put24(_ at: Int, _ value: UInt32) {
        self[at] = UInt8(truncatingIfNeeded: value >> 16)
        self[at + 1] = UInt8(truncatingIfNeeded: value >> 8)
        self[at + 2] = UInt8(truncatingIfNeeded: value)
    }

    func put32(_ at: Int, _ value: UInt32) { base.storeBytes(of: value.bigEndian, toByteOffset: at, as: UInt32.self) }

    func put48(_ at: Int, _ value: UInt64) {
        put16(at, UInt16(truncatingIfNeeded: value >> 32))
        put32(at + 2, UInt32(truncatingIfNeeded: value))
    }

    func put64(_ at: Int, _ value: UInt64) { base.storeBytes(of: value.bigEndian, toByteOffset: at, as: UInt64.self) }
}
