import Testing
@testable import ISCSINegotiation

/// RFC 7143 §6.1 text format; edge cases after SPDK `param_ut.c`.
@Suite struct TextCodecTests {
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func decodesPairsInOrder() throws {
        let pairs = try TextCodec.decode(bytes("A=1\0B=two\0C=\0"))
        #expect(pairs.map(\.key) == ["A", "B", "C"])
        #expect(pairs.map(\.value) == ["1", "two", ""])
    }

    @Test func valueMayContainEquals() throws {
        let pairs = try TextCodec.decode(bytes("A=b=c\0"))
        #expect(pairs.first?.value == "b=c")
    }

    /// RFC 7143 §6.1: every pair, including the last, is followed by a NUL.
    @Test func missingFinalNulIsRejected() {
        #expect(throws: NegotiationError(.missingTerminator)) { try TextCodec.decode(self.bytes("A=1\0B=2")) }
    }

    @Test func paddingNulsAreTolerated() throws {
        #expect(try TextCodec.decode(bytes("A=1\0\0\0\0")).count == 1)
        #expect(try TextCodec.decode([]).isEmpty)
        #expect(try TextCodec.decode([0, 0]).isEmpty)
    }

    @Test func missingSeparatorIsRejected() {
        #expect(throws: NegotiationError(.missingSeparator)) { try TextCodec.decode(self.bytes("ABC\0")) }
    }

    @Test func emptyKeyIsRejected() {
        #expect(throws: NegotiationError(.emptyKey)) { try TextCodec.decode(self.bytes("=abcdef\0")) }
    }

    /// RFC 7143 §6.1: key names at most 63 bytes.
    @Test func keyLengthLimit() throws {
        let ok = String(repeating: "K", count: 63)
        #expect(try TextCodec.decode(bytes(ok + "=1\0")).first?.key == ok)
        #expect(throws: NegotiationError(.keyTooLong)) { try TextCodec.decode(self.bytes(ok + "K=1\0")) }
    }

    /// RFC 7143 §6.1: values at most 255 bytes.
    @Test func valueLengthLimit() throws {
        let ok = String(repeating: "v", count: 255)
        #expect(try TextCodec.decode(bytes("A=" + ok + "\0")).first?.value == ok)
        #expect(throws: NegotiationError(.valueTooLong)) { try TextCodec.decode(self.bytes("A=" + ok + "v\0")) }
    }

    /// CHAP_C/CHAP_R carry long encoded binary values (SPDK: 8192).
    @Test func chapBinaryValuesMayBeLong() throws {
        let ok = "0x" + String(repeating: "a", count: 8190)
        #expect(try TextCodec.decode(bytes("CHAP_C=" + ok + "\0")).count == 1)
        #expect(throws: NegotiationError(.valueTooLong)) { try TextCodec.decode(self.bytes("CHAP_R=" + ok + "a\0")) }
        #expect(throws: NegotiationError(.valueTooLong)) { try TextCodec.decode(self.bytes("CHAP_N=" + ok + "\0")) }
    }

    /// RFC 7143 §6.2: a key is offered at most once.
    @Test func duplicateKeyIsRejected() throws {
        #expect(throws: NegotiationError(.duplicateKey)) { try TextCodec.decode(self.bytes("A=1\0B=2\0A=1\0")) }
        #expect(try TextCodec.decode(bytes("A=1\0A=2\0"), rejectingDuplicates: false).count == 2)
    }

    @Test func invalidUTF8ValueIsRejected() {
        #expect(throws: NegotiationError(.invalidUTF8)) { try TextCodec.decode([0x41, 0x3d, 0xff, 0xfe, 0x00]) }
    }

    @Test func utf8AliasIsAccepted() throws {
        #expect(try TextCodec.decode(bytes("InitiatorAlias=Büro 3\0")).first?.value == "Büro 3")
    }

    @Test func invalidKeyCharacterIsRejected() {
        #expect(throws: NegotiationError(.invalidKeyCharacter)) { try TextCodec.decode(self.bytes("A B=1\0")) }
        #expect(throws: NegotiationError(.invalidKeyCharacter)) { try TextCodec.decode([0xc3, 0xbc, 0x3d, 0x31, 0x00]) }
    }

    @Test func vendorKeysParse() throws {
        let pairs = try TextCodec.decode(bytes("X-com.example.Foo=1\0X#org.example=2\0"))
        #expect(pairs.count == 2)
    }

    @Test func encodeRoundTrips() throws {
        let pairs: [(key: String, value: String)] = [("HeaderDigest", "None,CRC32C"), ("TargetAlias", "Disk 1"), ("Empty", "")]
        let data = TextCodec.encode(pairs)
        #expect(data == bytes("HeaderDigest=None,CRC32C\0TargetAlias=Disk 1\0Empty=\0"))
        let back = try TextCodec.decode(data)
        #expect(back.map(\.key) == pairs.map(\.key) && back.map(\.value) == pairs.map(\.value))
    }

    /// Random input never traps; it either decodes or throws a NegotiationError.
    @Test func randomInputRobustness() {
        var rng = SplitMix64(seed: 0x1234_5678)
        let alphabet: [UInt8] = Array("AZaz09=.-_#X ".utf8) + [0, 0, 0, 0xff, 0xc3, 0x80]
        for _ in 0..<5000 {
            let count = Int(rng.next() % 96)
            let data = (0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = try? TextCodec.decode(data)
            _ = try? TextCodec.decode(data, rejectingDuplicates: false)
        }
    }
}

/// A small deterministic PRNG for robustness tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
