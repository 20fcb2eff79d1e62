// BHS decode/encode for target → initiator PDUs (RFC 7143 §11). Byte offsets in the comments are
// BHS offsets. RFC 7143 §11: senders MUST zero reserved fields and receivers MUST ignore them.

extension TargetPDU {
    /// The opcode of this PDU.
    public var opcode: Opcode {
        switch self {
        case .nopIn: .nopIn
        case .scsiResponse: .scsiResponse
        case .taskManagementResponse: .taskManagementResponse
        case .loginResponse: .loginResponse
        case .textResponse: .textResponse
        case .dataIn: .dataIn
        case .logoutResponse: .logoutResponse
        case .r2t: .r2t
        case .asyncMessage: .asyncMessage
        case .reject: .reject
        }
    }

    /// Decodes a target PDU from its BHS and AHS area (used by tests and the test initiator).
    /// - Parameters:
    ///   - bhs: exactly 48 bytes.
    ///   - ahs: the TotalAHSLength bytes that followed the BHS (normally empty).
    /// - Throws: `.truncated`, `.unknownOpcode` (not a target opcode), `.invalidAHS`.
    public init(bhs: some Collection<UInt8>, ahs: [UInt8] = []) throws(ProtocolError) {
        let b = Array(bhs)
        guard b.count == BHS.size else { throw .truncated("BHS", have: b.count, need: BHS.size) }
        let raw = b[0] & BHS.opcodeMask
        // RFC 7143 §11.2.1.2: target opcodes are 0x20-0x3f.
        guard let opcode = Opcode(rawValue: raw), raw >= 0x20 else { throw .unknownOpcode(raw) }
        // No target PDU defines an AHS; check the structure anyway and ignore its content.
        _ = try decodeAHSArea(bhs: b, ahs: ahs)
        let final = b.bit(1, BHS.finalBit)
        switch opcode {
        case .nopIn:
            // RFC 7143 §11.19.
            self = .nopIn(NOPIn(lun: b.u64(8), initiatorTaskTag: b.u32(16), targetTransferTag: b.u32(20),
                                statSN: b.u32(24), expCmdSN: b.u32(28), maxCmdSN: b.u32(32)))
        case .scsiResponse:
            // RFC 7143 §11.4: byte 1 = 1 . . o u O U .; Response 2, Status 3.
            var p = SCSIResponsePDU(overflow: b.bit(1, 0x04), underflow: b.bit(1, 0x02), response: b.u8(2),
                                    status: b.u8(3), initiatorTaskTag: b.u32(16), statSN: b.u32(24),
                                    expCmdSN: b.u32(28), maxCmdSN: b.u32(32), expDataSN: b.u32(36),
                                    residualCount: b.u32(44))
            p.bidiReadOverflow = b.bit(1, 0x10)
            p.bidiReadUnderflow = b.bit(1, 0x08)
            p.bidiReadResidualCount = b.u32(40)
            self = .scsiResponse(p)
        case .taskManagementResponse:
            // RFC 7143 §11.6: Response at byte 2.
            self = .taskManagementResponse(TaskManagementResponse(
                response: b.u8(2), initiatorTaskTag: b.u32(16), statSN: b.u32(24), expCmdSN: b.u32(28),
                maxCmdSN: b.u32(32)))
        case .loginResponse:
            // RFC 7143 §11.13: byte 1 = T C . . CSG NSG; Status-Class 36, Status-Detail 37.
            self = .loginResponse(LoginResponse(
                transit: final, continueFlag: b.bit(1, 0x40), currentStage: (b.u8(1) >> 2) & 0x03,
                nextStage: b.u8(1) & 0x03, versionMax: b.u8(2), versionActive: b.u8(3), isid: b.u48(8),
                tsih: b.u16(14), initiatorTaskTag: b.u32(16), statSN: b.u32(24), expCmdSN: b.u32(28),
                maxCmdSN: b.u32(32), statusClass: b.u8(36), statusDetail: b.u8(37)))
        case .textResponse:
            // RFC 7143 §11.11: byte 1 = F C.
            self = .textResponse(TextResponse(
                final: final, continueFlag: b.bit(1, 0x40), lun: b.u64(8), initiatorTaskTag: b.u32(16),
                targetTransferTag: b.u32(20), statSN: b.u32(24), expCmdSN: b.u32(28), maxCmdSN: b.u32(32)))
        case .dataIn:
            // RFC 7143 §11.7: byte 1 = F A . . . O U S; Status 3 and StatSN/Residual only with S.
            let s = b.bit(1, 0x01)
            self = .dataIn(DataIn(
                final: final, acknowledge: b.bit(1, 0x40), overflow: b.bit(1, 0x04), underflow: b.bit(1, 0x02),
                statusPresent: s, status: s ? b.u8(3) : 0, lun: b.u64(8), initiatorTaskTag: b.u32(16),
                targetTransferTag: b.u32(20), statSN: s ? b.u32(24) : 0, expCmdSN: b.u32(28),
                maxCmdSN: b.u32(32), dataSN: b.u32(36), bufferOffset: b.u32(40),
                residualCount: s ? b.u32(44) : 0))
        case .logoutResponse:
            // RFC 7143 §11.15: Response 2; Time2Wait 40-41, Time2Retain 42-43.
            self = .logoutResponse(LogoutResponse(
                response: b.u8(2), initiatorTaskTag: b.u32(16), statSN: b.u32(24), expCmdSN: b.u32(28),
                maxCmdSN: b.u32(32), time2Wait: b.u16(40), time2Retain: b.u16(42)))
        case .r2t:
            // RFC 7143 §11.8: R2TSN 36, Buffer Offset 40, Desired Data Transfer Length 44.
            self = .r2t(R2T(
                lun: b.u64(8), initiatorTaskTag: b.u32(16), targetTransferTag: b.u32(20), statSN: b.u32(24),
                expCmdSN: b.u32(28), maxCmdSN: b.u32(32), r2tSN: b.u32(36), bufferOffset: b.u32(40),
                desiredDataTransferLength: b.u32(44)))
        case .asyncMessage:
            // RFC 7143 §11.9: AsyncEvent 36, AsyncVCode 37, Parameter1-3 at 38/40/42.
            self = .asyncMessage(AsyncMessage(
                lun: b.u64(8), statSN: b.u32(24), expCmdSN: b.u32(28), maxCmdSN: b.u32(32),
                asyncEvent: b.u8(36), asyncVCode: b.u8(37), parameter1: b.u16(38), parameter2: b.u16(40),
                parameter3: b.u16(42)))
        case .reject:
            // RFC 7143 §11.17: Reason 2; DataSN/R2TSN 36.
            self = .reject(Reject(reason: b.u8(2), statSN: b.u32(24), expCmdSN: b.u32(28), maxCmdSN: b.u32(32),
                                  dataSNOrR2TSN: b.u32(36)))
        default:
            throw .unknownOpcode(raw)
        }
    }

    /// Encodes the 48-byte BHS.
    /// - Parameters:
    ///   - dataSegmentLength: the unpadded data segment length (0...0xFFFFFF).
    ///   - ahs: the AHS area that will follow (no target PDU defines one; normally empty).
    /// - Returns: 48 bytes. Reserved fields are zero (RFC 7143 §11).
    public func encodeBHS(dataSegmentLength: Int, ahs: [UInt8] = []) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: BHS.size)
        out.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress {
                encodeBHS(into: base, dataSegmentLength: dataSegmentLength, ahsLength: ahs.count)
            }
        }
        return out
    }

    /// Encodes the 48-byte BHS into `base` (≥ 48 writable bytes, e.g. a transmit-queue header slot).
    /// - Parameters:
    ///   - dataSegmentLength: the unpadded data segment length (0...0xFFFFFF).
    ///   - ahsLength: bytes of AHS that will follow (no target PDU defines one; normally 0).
    public func encodeBHS(into base: UnsafeMutableRawPointer, dataSegmentLength: Int, ahsLength: Int = 0) {
        // Our own values, not peer input: a length that does not fit the field is a programming error.
        precondition(dataSegmentLength >= 0 && dataSegmentLength <= BHS.maxDataSegmentLength,
                     "DataSegmentLength \(dataSegmentLength) does not fit 24 bits (RFC 7143 §11.2.1.5)")
        precondition(ahsLength >= 0 && paddedLength(ahsLength) <= BHS.maxTotalAHSLength,
                     "AHS of \(ahsLength) bytes does not fit TotalAHSLength (RFC 7143 §11.2.1.4)")
        let b = RawBHSWriter(zeroing: base)
        b[0] = opcode.rawValue
        b[4] = UInt8(truncatingIfNeeded: paddedLength(ahsLength) / 4)
        b.put24(5, UInt32(truncatingIfNeeded: dataSegmentLength))
        switch self {
        case .nopIn(let p):
            b[1] = BHS.finalBit
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN)
        case .scsiResponse(let p):
            b[1] = 0x80 | (p.bidiReadOverflow ? 0x10 : 0) | (p.bidiReadUnderflow ? 0x08 : 0)
                | (p.overflow ? 0x04 : 0) | (p.underflow ? 0x02 : 0)
            b[2] = p.response; b[3] = p.status
            b.put32(16, p.initiatorTaskTag); b.put32(24, p.statSN); b.put32(28, p.expCmdSN)
            b.put32(32, p.maxCmdSN); b.put32(36, p.expDataSN); b.put32(40, p.bidiReadResidualCount)
            b.put32(44, p.residualCount)
        case .taskManagementResponse(let p):
            b[1] = BHS.finalBit
            b[2] = p.response
            b.put32(16, p.initiatorTaskTag); b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN)
        case .loginResponse(let p):
            b[1] = (p.transit ? 0x80 : 0) | (p.continueFlag ? 0x40 : 0) | (p.currentStage & 0x03) << 2 | (p.nextStage & 0x03)
            b[2] = p.versionMax; b[3] = p.versionActive
            b.put48(8, p.isid); b.put16(14, p.tsih); b.put32(16, p.initiatorTaskTag)
            b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN)
            b[36] = p.statusClass; b[37] = p.statusDetail
        case .textResponse(let p):
            b[1] = (p.final ? 0x80 : 0) | (p.continueFlag ? 0x40 : 0)
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN)
        case .dataIn(let p):
            b[1] = (p.final ? 0x80 : 0) | (p.acknowledge ? 0x40 : 0) | (p.overflow ? 0x04 : 0)
                | (p.underflow ? 0x02 : 0) | (p.statusPresent ? 0x01 : 0)
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN); b.put32(36, p.dataSN); b.put32(40, p.bufferOffset)
            // RFC 7143 §11.7.4/§11.7.5: Status, StatSN and Residual Count carry content only with S;
            // otherwise they are reserved (0).
            if p.statusPresent {
                b[3] = p.status
                b.put32(24, p.statSN)
                b.put32(44, p.residualCount)
            }
        case .logoutResponse(let p):
            b[1] = BHS.finalBit
            b[2] = p.response
            b.put32(16, p.initiatorTaskTag); b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN)
            b.put16(40, p.time2Wait); b.put16(42, p.time2Retain)
        case .r2t(let p):
            b[1] = BHS.finalBit
            b.put64(8, p.lun); b.put32(16, p.initiatorTaskTag); b.put32(20, p.targetTransferTag)
            b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN); b.put32(36, p.r2tSN)
            b.put32(40, p.bufferOffset); b.put32(44, p.desiredDataTransferLength)
        case .asyncMessage(let p):
            b[1] = BHS.finalBit
            // RFC 7143 §11.9: the ITT is the reserved tag 0xffffffff.
            b.put64(8, p.lun); b.put32(16, reservedTag)
            b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN)
            b[36] = p.asyncEvent; b[37] = p.asyncVCode
            b.put16(38, p.parameter1); b.put16(40, p.parameter2); b.put16(42, p.parameter3)
        case .reject(let p):
            b[1] = BHS.finalBit
            b[2] = p.reason
            // RFC 7143 §11.17: the ITT is the reserved tag 0xffffffff.
            b.put32(16, reservedTag)
            b.put32(24, p.statSN); b.put32(28, p.expCmdSN); b.put32(32, p.maxCmdSN); b.put32(36, p.dataSNOrR2TSN)
        }
    }

    /// Complete wire bytes for this PDU: BHS, header digest, data, padding, data digest.
    public func encode(data: [UInt8] = [], headerDigest: Bool = false, dataDigest: Bool = false) -> [UInt8] {
        PDUEncoder.frame(bhs: encodeBHS(dataSegmentLength: data.count), data: data,
                         headerDigest: headerDigest, dataDigest: dataDigest)
    }
}
