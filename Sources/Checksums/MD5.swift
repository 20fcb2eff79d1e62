// MD5 message digest (RFC 1321). Pure Swift, no I/O.
//
// Used for CHAP (RFC 1994 / RFC 7143 §12.1.3: CHAP_A=5 is MD5) and for IET's default SCSI
// device identifier (IET 1.4.20 kernel/volume.c: MD5 over the target name and the LUN).
// MD5 is broken as a collision-resistant hash; it is implemented here only because these
// protocols require it.

/// The MD5 message digest algorithm (RFC 1321).
public enum MD5 {
    /// The digest length in bytes.
    public static let digestLength = 16

    /// Computes the MD5 digest of `bytes`.
    /// - Parameter bytes: The message.
    /// - Returns: The 16-byte digest (RFC 1321 §3.5: A, B, C, D, each low-order byte first).
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var state = State()
        state.update(bytes)
        return state.finalize()
    }

    /// Computes the MD5 digest of the concatenation of several byte sequences, without copying
    /// them into one buffer (CHAP: identifier ‖ secret ‖ challenge).
    /// - Parameter parts: The message pieces, in order.
    /// - Returns: The 16-byte digest.
    public static func hash(concatenating parts: [[UInt8]]) -> [UInt8] {
        var state = State()
        for part in parts {
            state.update(part)
        }
        return state.finalize()
    }

    /// Incremental MD5 state.
    struct State {
        // RFC 1321 §3.3: initial buffer values.
        var a: UInt32 = 0x6745_2301
        var b: UInt32 = 0xefcd_ab89
        var c: UInt32 = 0x98ba_dcfe
        var d: UInt32 = 0x1032_5476
        var buffer: [UInt8] = []
        /// Message length in bytes, modulo 2^64 (RFC 1321 §3.2 keeps the low 64 bits of the bit length).
        var length: UInt64 = 0

        init() {
            buffer.reserveCapacity(64)
        }

        mutating func update(_ bytes: [UInt8]) {
            // RFC 1321 §3.2: only the low-order 64 bits of the length are used; wrap-around is the rule.
            length = length &+ UInt64(truncatingIfNeeded: bytes.count)
            var index = 0
            if !buffer.isEmpty {
                let take = min(64 - buffer.count, bytes.count)
                buffer.append(contentsOf: bytes[0..<take])
                index = take
                if buffer.count == 64 {
                    let block = buffer
                    buffer.removeAll(keepingCapacity: true)
                    block.withUnsafeBufferPointer { processBlock($0, 0) }
                }
            }
            bytes.withUnsafeBufferPointer { pointer in
                while bytes.count - index >= 64 {
                    processBlock(pointer, index)
                    index += 64
                }
            }
            if index < bytes.count {
                buffer.append(contentsOf: bytes[index...])
            }
        }

        mutating func finalize() -> [UInt8] {
            // RFC 1321 §3.1: append a 1 bit, then zeros until length ≡ 448 (mod 512).
            let bitLength = length &* 8
            var padding: [UInt8] = [0x80]
            let afterOne = (buffer.count + 1) % 64
            let zeros = afterOne <= 56 ? 56 - afterOne : 120 - afterOne
            padding.append(contentsOf: repeatElement(0, count: zeros))
            // RFC 1321 §3.2: the 64-bit length, low-order word first, low-order byte first.
            for shift in stride(from: 0, to: 64, by: 8) {
                padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
            }
            let savedLength = length
            update(padding)
            length = savedLength
            var digest: [UInt8] = []
            digest.reserveCapacity(16)
            for word in [a, b, c, d] {
                for shift in stride(from: 0, to: 32, by: 8) {
                    digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift)))
                }
            }
            return digest
        }

        // RFC 1321 §3.4: T[i] = floor(2^32 * abs(sin(i))), i = 1...64.
        private static let t: [UInt32] = [
            0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
            0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
            0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
            0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
            0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
            0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
            0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
            0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
        ]

        // RFC 1321 §3.4: per-round shift amounts.
        private static let s: [UInt32] = [
            7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
            5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
        ]

        /// Processes the 64-byte block starting at `offset` (RFC 1321 §3.4). The caller guarantees
        /// that 64 bytes are available.
        private mutating func processBlock(_ p: UnsafeBufferPointer<UInt8>, _ offset: Int) {
            var x = [UInt32](repeating: 0, count: 16)
            for i in 0..<16 {
                let o = offset + i * 4
                // RFC 1321 §2: words are little-endian.
                x[i] = UInt32(p[o]) | UInt32(p[o + 1]) << 8 | UInt32(p[o + 2]) << 16 | UInt32(p[o + 3]) << 24
            }
            var aa = a, bb = b, cc = c, dd = d
            for i in 0..<64 {
                var f: UInt32
                let g: Int
                switch i {
                case 0..<16:
                    f = (bb & cc) | (~bb & dd)
                    g = i
                case 16..<32:
                    f = (bb & dd) | (cc & ~dd)
                    g = (5 &* i &+ 1) & 15
                case 32..<48:
                    f = bb ^ cc ^ dd
                    g = (3 &* i &+ 5) & 15
                default:
                    f = cc ^ (bb | ~dd)
                    g = (7 &* i) & 15
                }
                // Modular 32-bit addition is the algorithm (RFC 1321 §2: "+" is addition modulo 2^32).
                f = f &+ aa &+ Self.t[i] &+ x[g]
                aa = dd
                dd = cc
                cc = bb
                let shift = Self.s[i]
                bb = bb &+ ((f << shift) | (f >> (32 - shift)))
            }
            a = a &+ aa
            b = b &+ bb
            c = c &+ cc
            d = d &+ dd
        }
    }
}
