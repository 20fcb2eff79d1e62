import Checksums
import Testing

@Suite struct CRC32CTests {
    // RFC 3720 §B.4: digests as they appear on the wire (least-significant byte first).
    static let vectors: [([UInt8], [UInt8])] = [
        ([UInt8](repeating: 0x00, count: 32), [0xaa, 0x36, 0x91, 0x8a]),
        ([UInt8](repeating: 0xFF, count: 32), [0x43, 0xab, 0xa8, 0x62]),
        ((0..<32).map { UInt8($0) }, [0x4e, 0x79, 0xdd, 0x46]),
        ((0..<32).reversed().map { UInt8($0) }, [0x5c, 0xdb, 0x3f, 0x11]),
    ]

    @Test(arguments: 0..<4)
    func rfc3720VectorsOnTheWire(index: Int) {
        let (input, wire) = Self.vectors[index]
        #expect(CRC32C.wireBytes(CRC32C.checksum(input)) == wire)
        #expect(CRC32C.wireBytes(CRC32C.portableChecksum(input)) == wire)
        #expect(CRC32C.fromWire(wire) == CRC32C.checksum(input))
    }

    @Test func zeroesValueIsLittleEndianOnTheWire() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.wireBytes(0x8A91_36AA) == [0xaa, 0x36, 0x91, 0x8a])
    }

    @Test func checkValue() {
        // The CRC-32C catalogue check value for "123456789".
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func incrementalEqualsOneShotAndHardwareEqualsPortable() {
        var rng = SplitMix64(seed: 42)
        for length in [0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4099] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let whole = CRC32C.checksum(bytes)
            #expect(whole == CRC32C.portableChecksum(bytes))
            // Every split point, and unaligned starts through slices.
            for split in stride(from: 0, through: length, by: max(1, length / 13)) {
                var crc = CRC32C.initial
                bytes.withUnsafeBytes { raw in
                    crc = CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                    crc = CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: raw[split...]))
                }
                #expect(CRC32C.finalize(crc) == whole)
            }
        }
    }

    @Test func zeroBytesUpdateMatchesExplicitZeros() {
        let data: [UInt8] = [1, 2, 3, 4, 5]
        for pad in 0...20 {
            let explicit = CRC32C.checksum(data + [UInt8](repeating: 0, count: pad))
            #expect(CRC32C.finalize(CRC32C.update(CRC32C.update(CRC32C.initial, data), zeroBytes: pad)) == explicit)
        }
    }

    @Test func fromWireRejectsWrongLength() {
        #expect(CRC32C.fromWire([1, 2, 3]) == nil)
        #expect(CRC32C.fromWire([1, 2, 3, 4, 5]) == nil)
        #expect(CRC32C.fromWire([0x01, 0x02, 0x03, 0x04]) == 0x0403_0201)
    }
}
