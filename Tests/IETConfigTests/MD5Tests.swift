import Checksums
import Testing

/// RFC 1321 §A.5 test suite.
@Suite struct MD5Tests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func rfc1321Vectors(input: String, expected: String) {
        #expect(Self.hex(MD5.hash(Array(input.utf8))) == expected)
    }

    /// Padding edge cases: 55, 56, 63, 64, 65 bytes straddle the length field (RFC 1321 §3.1).
    @Test(arguments: [
        (55, "ef1772b6dff9a122358552954ad0df65"),
        (56, "3b0c8ac703f828b04c6c197006d17218"),
        (63, "b06521f39153d618550606be297466d5"),
        (64, "014842d480b571495a4a0363793f7367"),
        (65, "c743a45e0d2e6a95cb859adae0248435"),
    ])
    func paddingBoundaries(length: Int, expected: String) {
        #expect(Self.hex(MD5.hash([UInt8](repeating: UInt8(ascii: "a"), count: length))) == expected)
    }

    @Test func concatenationEqualsWhole() {
        let whole = Array("The quick brown fox jumps over the lazy dog, twice over, for good measure!!".utf8)
        for split in [0, 1, 30, 63, 64, whole.count] {
            let parts = [Array(whole[..<split]), Array(whole[split...])]
            #expect(MD5.hash(concatenating: parts) == MD5.hash(whole))
        }
        #expect(Self.hex(MD5.hash(Array("The quick brown fox jumps over the lazy dog".utf8)))
                == "9e107d9d372bb6826bd81d3542a419d6")
    }
}
