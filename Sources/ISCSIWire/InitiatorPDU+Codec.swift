// BHS decode/encode for initiator → target PDUs (RFC 7143 §11). Byte offsets in the comments are
// BHS offsets. RFC 7143 §11: senders MUST zero reserved fields and receivers MUST ignore them, so
// encoders write zeros and decoders never look at reserved bytes.

extension InitiatorPDU {
    /// The opcode of this PDU.
    public var opcode: Opcode {
        switch self {
        case .nopOut: .nopOut
        case .scsiCommand: .scsiCommand
        case .taskManagement: .taskManagementRequest
        case .login: .loginRequest
        case .text: .textRequest
        case .dataOut: .dataOut
        case .logout: .logoutRequest
        case .snack: .snackRequest
        }
    }

    /// The Initiator Task Tag (BHS bytes 16-19).
    public var initiatorTaskTag: UInt32 {
        switch self {
        case .nopOut(let p): p.initiatorTaskTag
        case .scsiCommand(let p): p.initiatorTaskTag
        case .taskManagement(let p): p.initiatorTaskTag
        case .login(let p): p.initiatorTaskTag
        case .text(let p): p.initiatorTaskTag
        case .dataOut(let p): p.initiatorTaskTag
        case .logout(let p): p.initiatorTaskTag
        case .snack(let p): p.initiatorTaskTag
        }
    }

    /// Decodes an initiator PDU from its BHS and AHS area.
    /// - Parameters:
    ///   - bhs: exactly 48 bytes.
    ///   - ahs: the TotalAHSLength bytes that followed the BHS (empty when TotalAHSLength is 0).
    /// - Throws: `.truncated` (BHS not 48 bytes), `.unknownOpcode` (not an initiator opcode),
    ///   `.invalidAHS` (AHS size differs from TotalAHSLength, malformed or unsupported segments).
    public init(bhs: some Collection<UInt8>, ahs: [UInt8] = []) throws(ProtocolError) {
        try self.init(bhs: Array(bhs), ahs: ahs)
    }

    /// Decodes an initiator PDU from its BHS and AHS area, like the generic initializer above. The non-generic
    /// form is what the receive path calls: a generic one is not specialized across the module boundary.
    public init(bhs b: [UInt8], ahs: [UInt8] = []) throws(ProtocolError) {
        var none: [UInt8] = []
        try self.init(bhs: b, ahs: ahs, reusingCDB: &none)
    }

    /// Decodes like ``init(bhs:ahs:)``; a SCSI Command's CDB is written into `spare` — a 16-byte array the
    /// caller no longer uses, e.g. the CDB of a finished command — instead of a new allocation, and `spare` is
    /// left empty. Any other `spare` (or any other PDU) leaves it untouched or unused; if `spare` is still
    /// shared, copy-on-write makes this an ordinary allocation.
    public init(bhs b: [UInt8], ahs: [UInt8], reusingCDB spare: inout [UInt8]) throws(ProtocolError) {
        guard b.count == BHS.size else { throw .truncated("BHS", have: b.count, need: BHS.size) }
        let raw = b[0] & BHS.opcodeMask
        // RFC 7143 §11.2.1.2: initiator opcodes are 0x00-0x1f; only the ones below are defined.
        guard let opcode = Opcode(rawValue: raw), raw < 0x20 else { throw .unknownOpcode(raw) }
        let segments = try decodeAHSArea(bhs: b, ahs: ahs)
        let immediate = b.bit(0, BHS.immediateBit)
        let final = b.bit(1, BHS.finalBit)
        switch opcode {
        case .nopOut:
            // RFC 7143 §11.18.
            self = .nopOut(NOPOut(immediate: immediate, lun: b.u64(8), initiatorTaskTag: b.u32(16),
                                  targetTransferTag: b.u32(20), cmdSN: b.u32(24), expStatSN: b.u32(28)))
        case .scsiCommand:
            // RFC 7143 §11.3: byte 1 = F R W . . ATTR(3); CDB at 32-47, continued in the Extended CDB AHS.
            var cdb: [UInt8]
            if spare.count == 16 {
                cdb = []
                swap(&cdb, &spare)
                cdb.withUnsafeMutableBytes { dst in
                    b.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[32..<48])) }
                }
            } else {
                cdb = Array(b[32..<48])
            }
            var bidi: UInt32?
            var sawExtendedCDB = false
            for (index, segment) in segments.enumerated() {
                switch segment.type {
                case AdditionalHeaderSegment.extendedCDBType:
                    // RFC 7143 §11.3.5: AHSLength = CDB length - 15 (1 reserved byte + CDB bytes 16...).
                    guard !sawExtendedCDB, segment.specific.count >= 2 else {
                        throw .invalidAHS("duplicate or empty Extended CDB AHS", offset: BHS.size + index)
                    }
                    sawExtendedCDB = true
                    cdb.append(contentsOf: segment.specific.dropFirst())
                case AdditionalHeaderSegment.bidirectionalReadLengthType:
                    // RFC 7143 §11.3.4: AHSLength is 5 (1 reserved byte + 4-byte length).
                    guard bidi == nil, segment.specific.count == 5 else {
                        throw .invalidAHS("duplicate or malformed Bidirectional Read Length AHS", offset: BHS.size + index)
                    }
                    let s = segment.specific
                    bidi = UInt32(s[1]) << 24 | UInt32(s[2]) << 16 | UInt32(s[3]) << 8 | UInt32(s[4])
                case 60...63:
                    // RFC 7143 §11.2.2.1: non-iSCSI extensions; ignored.
                    continue
                default:
                    throw .invalidAHS("unsupported AHSType \(segment.type)", offset: BHS.size + index)
                }
            }
            self = .scsiCommand(SCSICommandPDU(
                immediate: immediate, final: final, read: b.bit(1, 0x40), write: b.bit(1, 0x20),
                attribute: b.u8(1) & 0x07, lun: b.u64(8), initiatorTaskTag: b.u32(16),
                expectedDataTransferLength: b.u32(20), cmdSN: b.u32(24), expStatSN: b.u32(28),
                cdb: cdb, bidirectionalReadLength: bidi))
        case .taskManagementRequest:
            // RFC 7143 §11.5: byte 1 = 1 + function (7 bits).
            self = .taskManagement(TaskManagementRequest(
                immediate: immediate, function: b.u8(1) & 0x7F, lun: b.u64(8), initiatorTaskTag: b.u32(16),
                referencedTaskTag: b.u32(20), cmdSN: b.u32(24), expStatSN: b.u32(28),
                refCmdSN: b.u32(32), expDataSN: b.u32(36)))
        case .loginRequest:
            // RFC 7143 §11.12: byte 1 = T C . . CSG(2) NSG(2); ISID 8-13, TSIH 14-15, CID 20-21.
            self = .login(LoginRequest(
                transit: final, continueFlag: b.bit(1, 0x40), currentStage: (b.u8(1) >> 2) & 0x03,
                nextStage: b.u8(1) & 0x03, versionMax: b.u8(2), versionMin: b.u8(3), isid: b.u48(8),
                tsih: b.u16(14), initiatorTaskTag: b.u32(16), cid: b.u16(20), cmdSN: b.u32(24),
                expStatSN: b.u32(28)))
        case .textRequest:
            // RFC 7143 §11.10: byte 1 = F C.
            self = .text(TextRequest(
                immediate: immediate, final: final, continueFlag: b.bit(1, 0x40), lun: b.u64(8),
                initiatorTaskTag: b.u32(16), targetTransferTag: b.u32(20), cmdSN: b.u32(24),
                expStatSN: b.u32(28)))
        case .dataOut:
            // RFC 7143 §11.7: ExpStatSN 28, DataSN 36, Buffer Offset 40.
            self = .dataOut(DataOut(
                final: final, lun: b.u64(8), initiatorTaskTag: b.u32(16), targetTransferTag: b.u32(20),
                expStatSN: b.u32(28), dataSN: b.u32(36), bufferOffset: b.u32(40)))
        case .logoutRequest:
            // RFC 7143 §11.14: byte 1 = 1 + reason code (7 bits); CID 20-21.
            self = .logout(LogoutRequest(
                immediate: immediate, reasonCode: b.u8(1) & 0x7F, initiatorTaskTag: b.u32(16),
                cid: b.u16(20), cmdSN: b.u32(24), expStatSN: b.u32(28)))
        case .snackRequest:
            // RFC 7143 §11.16: byte 1 = 1 . . . Type(4); BegRun 40, RunLength 44.
            self = .snack(SNACKRequest(
                type: b.u8(1) & 0x0F, lun: b.u64(8), initiatorTaskTag: b.u32(16),
                targetTransferTag: b.u32(20), expStatSN: b.u32(28), begRun: b.u32(40), runLength: b.u32(44)))
        default:
            throw .unknownOpcode(raw)
        }
    }

    /// The AHS area this PDU needs: for a SCSI Command with a CDB longer than 16 bytes, the
    /// Extended CDB AHS (RFC 7143 §11.3.5), then the Bidirectional Read Length AHS if set
    /// (RFC 7143 §11.3.4). Empty for every other PDU. Pass it to `encodeBHS` and send it after the BHS.
    public func encodedAHS() -> [UInt8] {
        guard case .scsiCommand(let p) = self else { return [] }
        var segments: [AdditionalHeaderSegment] = []
        if p.cdb.count > 16 {
            segments.append(AdditionalHeaderSegment(type: AdditionalHeaderSegment.extendedCDBType,
                                                    specific: [0] + p.cdb[16...]))
        }
        if let bidi = p.bidirectionalReadLength {
            segments.append(AdditionalHeaderSegment(type: AdditionalHeaderSegment.bidirectionalReadLengthType,
                                                    specific: [0, UInt8(truncatingIfNeeded: bidi >> 24), UInt8(truncatingIfNeeded: bidi >> 16),
                                                               UInt8(truncatingIfNeeded: bidi >> 8), UInt8(truncatingIfNeeded: bidi)]))
        }
        return AdditionalHeaderSegment.encode(segments)
    }

    /// Encodes the 48-byte BHS.
    /// - Parameters:
    ///   - dataSegmentLength: the unpadded data segment length (0...0xFFFFFF).
    ///   - ahs: the AHS area that will follow (normally `encodedAHS()`); only its length is used,
    ///     for TotalAHSLength (rounded up to words; at most `BHS.maxTotalAHSLength`).
    /// - Returns: 48 bytes. Reserved fields are zero (RFC 7143 §11).
    public func encodeBHS(dataSegmentLength: Int, ahs: [UInt8] = []) -> [UInt8] {
        var b = makeBHS(opcode: opcode, dataSegmentLength: dataSegmentLength, ahsLength: ahs.count)
        switch self {
        case .nopOut(let p):
            if p.immediate { b[0] |= BHS.immediateBit }
            b[1] = BHS.finalBit // RFC 7143 §11.18: byte 1 is 0x80.
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(24, p.cmdSN); b.put32(28, p.expStatSN)
        case .scsiCommand(let p):
            if p.immediate { b[0] |= BHS.immediateBit }
            b[1] = (p.final ? 0x80 : 0) | (p.read ? 0x40 : 0) | (p.write ? 0x20 : 0) | (p.attribute & 0x07)
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.expectedDataTransferLength)
            b.put32(24, p.cmdSN); b.put32(28, p.expStatSN)
            for (i, byte) in p.cdb.prefix(16).enumerated() { b[32 + i] = byte }
        case .taskManagement(let p):
            if p.immediate { b[0] |= BHS.immediateBit }
            b[1] = 0x80 | (p.function & 0x7F)
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.referencedTaskTag)
            b.put32(24, p.cmdSN); b.put32(28, p.expStatSN); b.put32(32, p.refCmdSN); b.put32(36, p.expDataSN)
        case .login(let p):
            // RFC 7143 §11.12: the I bit is always 1 for a Login Request.
            b[0] |= BHS.immediateBit
            b[1] = (p.transit ? 0x80 : 0) | (p.continueFlag ? 0x40 : 0) | (p.currentStage & 0x03) << 2 | (p.nextStage & 0x03)
            b[2] = p.versionMax; b[3] = p.versionMin
            b.put48(8, p.isid); b.put16(14, p.tsih); b.put32(16, p.initiatorTaskTag); b.put16(20, p.cid)
            b.put32(24, p.cmdSN); b.put32(28, p.expStatSN)
        case .text(let p):
            if p.immediate { b[0] |= BHS.immediateBit }
            b[1] = (p.final ? 0x80 : 0) | (p.continueFlag ? 0x40 : 0)
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(24, p.cmdSN); b.put32(28, p.expStatSN)
        case .dataOut(let p):
            b[1] = p.final ? 0x80 : 0
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(28, p.expStatSN); b.put32(36, p.dataSN); b.put32(40, p.bufferOffset)
        case .logout(let p):
            if p.immediate { b[0] |= BHS.immediateBit }
            b[1] = 0x80 | (p.reasonCode & 0x7F)
            b.put32(16, p.initiatorTaskTag); b.put16(20, p.cid); b.put32(24, p.cmdSN); b.put32(28, p.expStatSN)
        case .snack(let p):
            b[1] = 0x80 | (p.type & 0x0F)
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(28, p.expStatSN); b.put32(40, p.begRun); b.put32(44, p.runLength)
        }
        return b
    }

    /// Complete wire bytes for this PDU: BHS, AHS, header digest, data, padding, data digest.
    public func encode(data: [UInt8] = [], headerDigest: Bool = false, dataDigest: Bool = false) -> [UInt8] {
        let ahs = encodedAHS()
        return PDUEncoder.frame(bhs: encodeBHS(dataSegmentLength: data.count, ahs: ahs), ahs: ahs, data: data,
                                headerDigest: headerDigest, dataDigest: dataDigest)
    }
}

/// A zeroed BHS with opcode, TotalAHSLength and DataSegmentLength filled in.
func makeBHS(opcode: Opcode, dataSegmentLength: Int, ahsLength: Int) -> [UInt8] {
    // Our own values, not peer input: a length that does not fit the field is a programming error.
    precondition(dataSegmentLength >= 0 && dataSegmentLength <= BHS.maxDataSegmentLength,
                 "DataSegmentLength \(dataSegmentLength) does not fit 24 bits (RFC 7143 §11.2.1.5)")
    precondition(ahsLength >= 0 && paddedLength(ahsLength) <= BHS.maxTotalAHSLength,
                 "AHS of \(ahsLength) bytes does not fit TotalAHSLength (RFC 7143 §11.2.1.4)")
    var b = [UInt8](repeating: 0, count: BHS.size)
    b[0] = opcode.rawValue
    b[4] = UInt8(truncatingIfNeeded: paddedLength(ahsLength) / 4)
    b.put24(5, UInt32(truncatingIfNeeded: dataSegmentLength))
    return b
}

/// Checks that the AHS area matches TotalAHSLength and is well-formed; returns its segments.
func decodeAHSArea(bhs b: [UInt8], ahs: [UInt8]) throws(ProtocolError) -> [AdditionalHeaderSegment] {
    // RFC 7143 §11.2.1.4: TotalAHSLength (byte 4) counts the 4-byte words of AHS that follow.
    let declared = Int(b.u8(4)) * 4
    guard declared == ahs.count else {
        throw .invalidAHS("TotalAHSLength says \(declared) bytes, got \(ahs.count)", offset: 4)
    }
    return try AdditionalHeaderSegment.parse(ahs)
}
