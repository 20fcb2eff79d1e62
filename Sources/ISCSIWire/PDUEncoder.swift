import Checksums

/// Builds PDU wire bytes (RFC 7143 §11.1): BHS, AHS, header digest, data segment, zero padding to
/// 4 bytes, data digest. CRC32C digests are written least-significant byte first (RFC 3720 §B.4).
///
/// The BHS's TotalAHSLength (byte 4) and DataSegmentLength (bytes 5-7) are overwritten with the
/// lengths actually sent, so the header always agrees with what follows.
public enum PDUEncoder {
    /// Complete wire bytes for one PDU.
    /// - Parameters:
    ///   - bhs: the 48-byte BHS (e.g. from `encodeBHS`).
    ///   - ahs: the AHS area (padded with zeros to 4 bytes if needed).
    ///   - data: the unpadded data segment.
    ///   - headerDigest: append a CRC32C over BHS+AHS.
    ///   - dataDigest: append a CRC32C over data+padding (only when `data` is not empty).
    public static func frame(bhs: [UInt8], ahs: [UInt8] = [], data: [UInt8], headerDigest: Bool, dataDigest: Bool) -> [UInt8] {
        var out = headerBytes(bhs: bhs, ahs: ahs, dataSegmentLength: data.count, headerDigest: headerDigest)
        out.reserveCapacity(out.count + paddedLength(data.count) + 4)
        out.append(contentsOf: data)
        data.withUnsafeBytes { out.append(contentsOf: trailerBytes(data: $0, dataDigest: dataDigest)) }
        return out
    }

    /// The header part only: BHS, AHS (padded), header digest. Send the data and then
    /// `trailerBytes` after it (e.g. with one `writev`), so the data is never copied.
    /// - Parameters:
    ///   - dataSegmentLength: the unpadded length of the data that will follow (0...0xFFFFFF).
    public static func headerBytes(bhs: [UInt8], ahs: [UInt8] = [], dataSegmentLength: Int, headerDigest: Bool) -> [UInt8] {
        // Our own values, not peer input: a length that does not fit its field is a programming error.
        precondition(bhs.count == BHS.size, "BHS must be 48 bytes (RFC 7143 §11.2.1)")
        precondition(dataSegmentLength >= 0 && dataSegmentLength <= BHS.maxDataSegmentLength,
                     "DataSegmentLength must fit 24 bits (RFC 7143 §11.2.1.5)")
        let paddedAHS = paddedLength(ahs.count)
        precondition(paddedAHS <= BHS.maxTotalAHSLength, "AHS must fit TotalAHSLength (RFC 7143 §11.2.1.4)")
        var out = bhs
        out.reserveCapacity(BHS.size + paddedAHS + 4)
        out[4] = UInt8(truncatingIfNeeded: paddedAHS / 4)
        out.put24(5, UInt32(truncatingIfNeeded: dataSegmentLength))
        out.append(contentsOf: ahs)
        out.append(contentsOf: repeatElement(0, count: paddedAHS - ahs.count))
        if headerDigest {
            // RFC 7143 §13.1: the header digest covers BHS and AHS.
            out.append(contentsOf: CRC32C.wireBytes(CRC32C.checksum(out)))
        }
        return out
    }

    /// What follows the data segment: zero padding to 4 bytes, then the data digest (over data
    /// and padding) when `dataDigest` is set and the data is not empty (RFC 7143 §11.1, §13.1).
    public static func trailerBytes(data: UnsafeRawBufferPointer, dataDigest: Bool) -> [UInt8] {
        let crc = dataDigest ? CRC32C.update(CRC32C.initial, data) : CRC32C.initial
        return trailerBytes(dataLength: data.count, runningDataCRC: crc, dataDigest: dataDigest)
    }

    /// The trailer for data that was sent from several buffers: pass the running CRC32C register
    /// (`CRC32C.update` from `CRC32C.initial` over all data bytes, not finalised).
    public static func trailerBytes(dataLength: Int, runningDataCRC: UInt32, dataDigest: Bool) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: maxTrailerLength)
        let n = out.withUnsafeMutableBytes { raw in
            raw.baseAddress.map { writeTrailer(into: $0, dataLength: dataLength, runningDataCRC: runningDataCRC,
                                               dataDigest: dataDigest) } ?? 0
        }
        out.removeLast(maxTrailerLength - n)
        return out
    }

    /// Longest trailer: 3 bytes of padding + a 4-byte data digest.
    public static let maxTrailerLength = 7

    /// Writes the trailer (padding, then the data digest when `dataDigest` and the data is not empty) into
    /// `base` (≥ `maxTrailerLength` writable bytes, e.g. a transmit-queue slot). Returns its length.
    public static func writeTrailer(into base: UnsafeMutableRawPointer, dataLength: Int, runningDataCRC: UInt32,
                                    dataDigest: Bool) -> Int {
        // RFC 7143 §11.1: the data segment is padded to 4 bytes; the data digest covers data and padding.
        let pad = paddedLength(dataLength) - max(0, dataLength)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: pad)
        guard dataDigest && dataLength > 0 else { return pad }
        let crc = CRC32C.finalize(CRC32C.update(runningDataCRC, zeroBytes: pad))
        base.storeBytes(of: crc.littleEndian, toByteOffset: pad, as: UInt32.self)  // least-significant byte first
        return pad + 4
    }

    /// Writes the header digest over the `count` header bytes at `base` (BHS + AHS) right after them
    /// (RFC 7143 §13.1). Returns 4, the digest's length.
    public static func writeHeaderDigest(_ base: UnsafeMutableRawPointer, headerCount count: Int) -> Int {
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: base, count: count))
        base.storeBytes(of: crc.littleEndian, toByteOffset: count, as: UInt32.self)
        return 4
    }
}
