import Testing
@testable import ISCSIWire

/// Parses a hex fixture: pairs of hex digits; whitespace, `|` and `_` are ignored, `#` starts a
/// comment that runs to the end of the line. Records an issue (and returns what it has) on a bad digit.
func hex(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8] {
    var out: [UInt8] = []
    var pending: UInt8?
    var inComment = false
    for scalar in text.unicodeScalars {
        if inComment {
            if scalar == "\n" { inComment = false }
            continue
        }
        if scalar == "#" { inComment = true; continue }
        if scalar == " " || scalar == "\n" || scalar == "\t" || scalar == "|" || scalar == "_" { continue }
        guard let nibble = UInt8(String(scalar), radix: 16) else {
            Issue.record("bad hex digit \(scalar)", sourceLocation: sourceLocation)
            return out
        }
        if let high = pending {
            out.append(high << 4 | nibble)
            pending = nil
        } else {
            pending = nibble
        }
    }
    if pending != nil { Issue.record("odd number of hex digits", sourceLocation: sourceLocation) }
    return out
}

/// Deterministic PRNG (SplitMix64) so random tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Feeds `bytes` to a framer in the given chunk sizes (cycled), draining after each chunk.
func frame(_ bytes: [UInt8], chunkSizes: [Int], limits: FramerLimits = FramerLimits(maxDataSegmentLength: 1 << 20)) throws(ProtocolError) -> [RawPDU] {
    var framer = PDUFramer(limits: limits)
    var out: [RawPDU] = []
    var index = 0
    var chunk = 0
    while index < bytes.count {
        let size = max(1, chunkSizes.isEmpty ? bytes.count : chunkSizes[chunk % chunkSizes.count])
        let end = min(bytes.count, index + size)
        framer.append(bytes[index..<end])
        index = end
        chunk += 1
        while let pdu = try framer.next() { out.append(pdu) }
    }
    return out
}

/// The same bytes through every feeding pattern: whole, one byte at a time, seeded random chunks.
func framedEveryWay(_ bytes: [UInt8], limits: FramerLimits = FramerLimits(maxDataSegmentLength: 1 << 20), seed: UInt64 = 1) throws(ProtocolError) -> [[RawPDU]] {
    var rng = SplitMix64(seed: seed)
    let random = (0..<64).map { _ in Int.random(in: 1...61, using: &rng) }
    return [try frame(bytes, chunkSizes: [], limits: limits),
            try frame(bytes, chunkSizes: [1], limits: limits),
            try frame(bytes, chunkSizes: random, limits: limits)]
}
