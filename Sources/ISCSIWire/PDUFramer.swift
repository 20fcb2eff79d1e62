import Checksums

/// Receive-side limits for `PDUFramer`.
public struct FramerLimits: Hashable, Sendable {
    /// RFC 7143 §13.12: the default MaxRecvDataSegmentLength (8192), which is what applies while
    /// the login phase is in progress (the declared value takes effect in full-feature phase).
    public static let loginMaxDataSegmentLength = 8192
    /// RFC 7143 §13.12: MaxRecvDataSegmentLength is declared in 512...16777215.
    public static let maxRecvDataSegmentLengthRange = 512...16_777_215
    /// Default cap for TotalAHSLength in bytes (the field itself allows up to 1020).
    public static let defaultMaxAHSLength = 1024

    /// The largest DataSegmentLength accepted: the MaxRecvDataSegmentLength we declared
    /// (`loginMaxDataSegmentLength` during login).
    public var maxDataSegmentLength: Int
    /// The largest TotalAHSLength accepted, in bytes.
    public var maxAHSLength: Int
    /// Whether a CRC32C header digest follows BHS+AHS (HeaderDigest=CRC32C negotiated).
    public var headerDigest: Bool
    /// Whether a CRC32C data digest follows each non-empty data segment (DataDigest=CRC32C negotiated).
    public var dataDigest: Bool

    /// Creates limits. The defaults are the login-phase values: 8192-byte data segments, no digests.
    public init(maxDataSegmentLength: Int = FramerLimits.loginMaxDataSegmentLength,
                maxAHSLength: Int = FramerLimits.defaultMaxAHSLength,
                headerDigest: Bool = false, dataDigest: Bool = false) {
        self.maxDataSegmentLength = maxDataSegmentLength
        self.maxAHSLength = maxAHSLength
        self.headerDigest = headerDigest
        self.dataDigest = dataDigest
    }

    /// Login-phase limits (RFC 7143 §13.12 default MaxRecvDataSegmentLength, digests off).
    public static let login = FramerLimits()
}

/// One framed PDU as received: header and data split, digests checked and removed.
public struct RawPDU: Hashable, Sendable {
    /// The 48-byte BHS.
    public var bhs: [UInt8]
    /// The AHS area (TotalAHSLength bytes; usually empty).
    public var ahs: [UInt8]
    /// The data segment, DataSegmentLength bytes, without padding or digest.
    public var data: [UInt8]

    /// Creates a raw PDU.
    public init(bhs: [UInt8], ahs: [UInt8] = [], data: [UInt8] = []) {
        self.bhs = bhs; self.ahs = ahs; self.data = data
    }

    /// The header summary (opcode, I bit, lengths, ITT).
    public var info: BHSInfo { BHSInfo.peek(bhs) }
}

/// Resumable splitter of a received byte stream into PDUs (RFC 7143 §11.1: BHS, AHS, header
/// digest, data segment padded to 4 bytes, data digest).
///
/// Feed bytes with `append`, then call `next()` until it returns nil (need more bytes).
/// Length fields are checked against `limits` as soon as the 48-byte BHS is in, before waiting
/// for (or sizing anything by) the AHS and data. Any error is sticky: after `next()` has thrown,
/// it throws the same error again, since the stream cannot be resynchronised (close the connection).
///
/// Cost: amortised O(n) in the bytes appended. Consumed bytes are skipped with a read index and
/// the buffer is compacted only once at least half of it has been consumed.
public struct PDUFramer: Sendable {
    /// The limits in force. Settable: digests switch on, and the data segment limit changes, when
    /// login completes (RFC 7143 §13.1, §13.12). Set it between `next()` calls, after the last
    /// login-phase PDU was returned: any bytes still buffered (the next PDU) are framed under the
    /// new limits.
    public var limits: FramerLimits {
        didSet { verifiedHeaderAt = nil }
    }

    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var failure: ProtocolError?
    /// The `readIndex` whose header (AHS structure, header digest) has already been verified,
    /// so that waiting for a large data segment does not re-check it on every call.
    private var verifiedHeaderAt: Int?

    /// Creates a framer.
    public init(limits: FramerLimits) {
        self.limits = limits
    }

    /// Bytes received but not yet returned as a PDU.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Returns the next complete PDU, or nil when more bytes are needed.
    /// - Throws: `.ahsTooLong` / `.dataSegmentTooLong` as soon as the BHS is in and a length
    ///   exceeds `limits`; `.invalidAHS` for a malformed AHS area; `.headerDigestMismatch` /
    ///   `.dataDigestMismatch` when digests are enabled and wrong.
    public mutating func next() throws(ProtocolError) -> RawPDU? {
        if let failure { throw failure }
        do {
            return try frameNext()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func frameNext() throws(ProtocolError) -> RawPDU? {
        let available = buffer.count - readIndex
        guard available >= BHS.size else { return nil }
        let start = readIndex
        let info = buffer.withUnsafeBytes { raw in
            BHSInfo.peek(UnsafeRawBufferPointer(rebasing: raw[start..<(start + BHS.size)]))
        }
        // Check lengths before waiting for or buffering the rest (SPDK/nio-ssh pattern).
        guard info.totalAHSLength <= limits.maxAHSLength else {
            throw ProtocolError(.ahsTooLong, "TotalAHSLength \(info.totalAHSLength) exceeds \(limits.maxAHSLength)", offset: 4)
        }
        // RFC 7143 §13.12: a PDU's data segment must not exceed the receiver's MaxRecvDataSegmentLength.
        guard info.dataSegmentLength <= limits.maxDataSegmentLength else {
            throw ProtocolError(.dataSegmentTooLong,
                                "DataSegmentLength \(info.dataSegmentLength) exceeds \(limits.maxDataSegmentLength)", offset: 5)
        }
        // All terms are bounded (AHS <= 1020, data <= 2^24 + 3), so these sums cannot overflow.
        let headerDigestLength = limits.headerDigest ? 4 : 0
        let headerLength = BHS.size + info.totalAHSLength
        let dataStart = headerLength + headerDigestLength
        let paddedData = paddedLength(info.dataSegmentLength)
        // RFC 7143 §11.1: the data digest is present only when there is a data segment.
        let dataDigestLength = (limits.dataDigest && info.dataSegmentLength > 0) ? 4 : 0
        let total = dataStart + paddedData + dataDigestLength

        if verifiedHeaderAt != start {
            guard available >= dataStart else { return nil }
            // RFC 7143 §11.2.2: AHS segments must fit TotalAHSLength.
            let ahs = Array(buffer[(start + BHS.size)..<(start + headerLength)])
            _ = try AdditionalHeaderSegment.parse(ahs)
            if limits.headerDigest {
                // RFC 7143 §13.1: the header digest covers BHS and AHS.
                let (computed, received) = buffer.withUnsafeBytes { raw in
                    (CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<(start + headerLength)])),
                     CRC32C.fromWire(UnsafeRawBufferPointer(rebasing: raw[(start + headerLength)..<(start + dataStart)])))
                }
                guard computed == received else {
                    throw ProtocolError(.headerDigestMismatch, "header digest mismatch", offset: headerLength)
                }
            }
            verifiedHeaderAt = start
        }

        guard available >= total else { return nil }
        if dataDigestLength > 0 {
            // RFC 7143 §13.1: the data digest covers the data segment including its padding.
            let dataEnd = start + dataStart + paddedData
            let (computed, received) = buffer.withUnsafeBytes { raw in
                (CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start + dataStart)..<dataEnd])),
                 CRC32C.fromWire(UnsafeRawBufferPointer(rebasing: raw[dataEnd..<(dataEnd + 4)])))
            }
            guard computed == received else {
                throw ProtocolError(.dataDigestMismatch, "data digest mismatch", offset: dataStart + paddedData)
            }
        }
        let pdu = RawPDU(
            bhs: Array(buffer[start..<(start + BHS.size)]),
            ahs: Array(buffer[(start + BHS.size)..<(start + headerLength)]),
            data: Array(buffer[(start + dataStart)..<(start + dataStart + info.dataSegmentLength)]))
        consume(total)
        return pdu
    }

    private mutating func consume(_ count: Int) {
        readIndex += count
        verifiedHeaderAt = nil
        if readIndex >= buffer.count {
            // Everything consumed: drop it, but do not hold on to a huge buffer forever.
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            readIndex = 0
        }
    }

    /// Moves unconsumed bytes to the front once at least half of the buffer is consumed, so each
    /// byte is moved at most a constant number of times on average.
    private mutating func compactIfWorthwhile() {
        guard readIndex > 0, readIndex >= buffer.count - readIndex else { return }
        buffer.removeSubrange(0..<readIndex)
        readIndex = 0
        verifiedHeaderAt = nil
    }
}
