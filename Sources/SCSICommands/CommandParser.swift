/// Step 1 of command processing (LIO `sbc_parse_cdb` / `spc_parse_cdb`): decode and validate
/// every CDB field, then return what to do. Never traps on any byte sequence; every rejection is
/// a `SenseReason`.
public enum CommandParser {
    /// Parses a CDB addressed to an existing logical unit.
    /// - Parameters:
    ///   - cdb: the CDB bytes (the 16-byte BHS field, possibly extended by an AHS; trailing bytes
    ///     past the opcode's CDB length are ignored).
    ///   - unit: the addressed logical unit.
    /// - Returns: the command, its data direction and the byte count the CDB implies.
    /// - Throws: the `SenseReason` to report with CHECK CONDITION.
    /// The data path: READ, WRITE and WRITE AND VERIFY (6/10/12/16) checked against `limits`, a trivially
    /// copyable value (handing over a `LogicalUnitInfo` copies its strings and arrays per command). Same
    /// result as ``parse(_:unit:)`` for those opcodes; nil for every other opcode (parse it with `parse`).
    public static func parseDataTransfer(_ cdb: [UInt8], limits: BlockTransferLimits) throws(SenseReason) -> ParsedCommand? {
        let (opcode, c) = try decodeHeader(cdb)
        switch opcode {
        case .read6, .read10, .read12, .read16,
             .write6, .write10, .write12, .write16,
             .writeAndVerify10, .writeAndVerify12, .writeAndVerify16:
            return try parseReadWrite(c, opcode: opcode, unit: limits)
        default:
            return nil
        }
    }

    public static func parse(_ cdb: [UInt8], unit: borrowing LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let (opcode, c) = try decodeHeader(cdb)
        switch opcode {
        case .testUnitReady:
            return ParsedCommand(command: .emulated(.testUnitReady), direction: .none, transferLength: 0)
        case .requestSense:
            return parseRequestSense(c)
        case .inquiry:
            return try parseInquiry(c, supportedPages: Emulator.supportedVPDPages)
        case .reportLUNs:
            return try parseReportLUNs(c)
        case .modeSense6, .modeSense10:
            return try parseModeSense(c, tenByte: opcode == .modeSense10)
        case .startStopUnit:
            return try parseStartStopUnit(c)
        case .readCapacity10:
            return try parseReadCapacity10(c)
        case .serviceActionIn16:
            return try parseServiceActionIn16(c, unit: unit)
        case .read6, .read10, .read12, .read16,
             .write6, .write10, .write12, .write16,
             .writeAndVerify10, .writeAndVerify12, .writeAndVerify16:
            return try parseReadWrite(c, opcode: opcode, unit: unit)
        case .verify10, .verify12, .verify16:
            return try parseVerify(c, opcode: opcode, unit: unit)
        case .synchronizeCache10, .synchronizeCache16:
            return try parseSynchronizeCache(c, opcode: opcode, unit: unit)
        case .writeSame10, .writeSame16:
            return try parseWriteSame(c, opcode: opcode, unit: unit)
        case .unmap:
            return try parseUnmap(c, unit: unit)
        case .compareAndWrite:
            return try parseCompareAndWrite(c, unit: unit)
        case .orWrite16:
            return try parseOrWrite(c, unit: unit)
        case .writeAtomic16:
            return try parseWriteAtomic16(c, unit: unit)
        case .prefetch10, .prefetch16:
            return try parsePrefetch(c, opcode: opcode, unit: unit)
        case .readDefectData10, .readDefectData12:
            return try parseReadDefectData(c, twelveByte: opcode == .readDefectData12)
        case .preventAllowMediumRemoval:
            return try parsePreventAllow(c)
        case .maintenanceIn:
            return try parseMaintenanceIn(c, unit: unit)
        case .reserve6, .release6, .reserve10, .release10:
            return try parseReserveRelease(c, opcode: opcode)
        case .persistentReserveIn:
            return try parsePersistentReserveIn(c)
        case .persistentReserveOut:
            return try parsePersistentReserveOut(c)
        case .extendedCopy:
            return try parseExtendedCopy(c)
        case .receiveCopyResults:
            return try parseReceiveCopyResults(c)
        }
    }

    /// Parses a CDB addressed to a LUN with no logical unit behind it.
    ///
    /// SPC-4 §4.6.4 / SAM-5 §5.9: INQUIRY is answered with PERIPHERAL QUALIFIER 011b and
    /// DEVICE TYPE 1Fh (standard data and VPD page 00h only), REPORT LUNS works, REQUEST SENSE
    /// returns LOGICAL UNIT NOT SUPPORTED as parameter data; anything else fails with
    /// LOGICAL UNIT NOT SUPPORTED. Execute the result with `Emulator.execute(_:unit: nil, …)`.
    public static func parseForMissingUnit(_ cdb: [UInt8]) throws(SenseReason) -> ParsedCommand {
        guard let first = cdb.first else { throw .invalidFieldInCDB }
        guard let opcode = SCSIOpcode(rawValue: first),
              opcode == .inquiry || opcode == .reportLUNs || opcode == .requestSense
        else { throw .logicalUnitNotSupported }
        let (_, c) = try decodeHeader(cdb)
        switch opcode {
        case .inquiry: return try parseInquiry(c, supportedPages: Emulator.missingUnitVPDPages)
        case .reportLUNs: return try parseReportLUNs(c)
        default: return parseRequestSense(c)
        }
    }

    // MARK: - Common header checks

    /// Opcode lookup, CDB length and CONTROL byte checks shared by every command.
    static func decodeHeader(_ cdb: [UInt8]) throws(SenseReason) -> (SCSIOpcode, CDB) {
        // Never index an empty CDB; there is no opcode to reject, so the CDB itself is invalid.
        guard let first = cdb.first else { throw .invalidFieldInCDB }
        guard let opcode = SCSIOpcode(rawValue: first) else { throw .invalidCommandOperationCode }
        // A CDB shorter than its opcode's length cannot be decoded.
        guard cdb.count >= opcode.cdbLength else { throw .invalidFieldInCDB }
        let c = CDB(cdb)
        // SAM-5 §5.2 / §5.9.1: NACA = 1 without ACA support → INVALID FIELD IN CDB.
        if c[opcode.cdbLength - 1] & 0x04 != 0 { throw .invalidFieldInCDB }
        return (opcode, c)
    }

    // MARK: - SPC commands

    static func parseRequestSense(_ c: CDB) -> ParsedCommand {
        // SPC-4 §6.29: DESC (byte 1 bit 0) selects descriptor format; both are supported.
        let allocation = c[4]
        return ParsedCommand(
            command: .emulated(.requestSense(descriptorFormat: c[1] & 0x01 != 0, allocationLength: allocation)),
            direction: .fromTarget, transferLength: UInt32(allocation))
    }

    static func parseInquiry(_ c: CDB, supportedPages: [UInt8]) throws(SenseReason) -> ParsedCommand {
        let evpd = c[1] & 0x01 != 0
        // SPC-2 §7.3.1: CMDDT is not supported → INVALID FIELD IN CDB (obsolete since SPC-3).
        if c[1] & 0x02 != 0 { throw .invalidFieldInCDB }
        let page = c[2]
        // SPC-4 §6.6.1: EVPD = 0 with a non-zero PAGE CODE → INVALID FIELD IN CDB.
        if !evpd && page != 0 { throw .invalidFieldInCDB }
        // SPC-4 §6.6.1: a VPD page that is not supported → INVALID FIELD IN CDB.
        if evpd && !supportedPages.contains(page) { throw .invalidFieldInCDB }
        // SPC-4 §6.6.1: ALLOCATION LENGTH is 16 bits (bytes 3–4); 0 is not an error.
        let allocation = c.be16(3)
        return ParsedCommand(
            command: .emulated(.inquiry(evpd: evpd, pageCode: page, allocationLength: allocation)),
            direction: .fromTarget, transferLength: UInt32(allocation))
    }

    static func parseReportLUNs(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        let select = c[2]
        // SPC-4 §6.33 Table 261: SELECT REPORT 00h, 01h, 02h; others are reserved.
        guard select <= 0x02 else { throw .invalidFieldInCDB }
        let allocation = c.be32(6)
        // SPC-4 §6.33: ALLOCATION LENGTH < 16 → INVALID FIELD IN CDB.
        guard allocation >= 16 else { throw .invalidFieldInCDB }
        return ParsedCommand(
            command: .emulated(.reportLUNs(selectReport: select, allocationLength: allocation)),
            direction: .fromTarget, transferLength: allocation)
    }

    static func parseModeSense(_ c: CDB, tenByte: Bool) throws(SenseReason) -> ParsedCommand {
        let dbd = c[1] & 0x08 != 0
        // SPC-4 §6.12: LLBAA exists only in MODE SENSE(10).
        let llbaa = tenByte && c[1] & 0x10 != 0
        guard let pageControl = ModeSenseRequest.PageControl(rawValue: c[2] >> 6) else {
            throw .invalidFieldInCDB  // unreachable: two bits always decode
        }
        // SPC-4 §6.11.1: saved values are not supported → SAVING PARAMETERS NOT SUPPORTED.
        if pageControl == .saved { throw .savingParametersNotSupported }
        let page = c[2] & 0x3F
        let subpage = c[3]
        // SPC-4 §6.11.1: an unsupported page or subpage → INVALID FIELD IN CDB. Subpage FFh
        // ("all subpages") is accepted; none of our pages has subpages.
        let pageOK = page == Emulator.allModePages || Emulator.supportedModePages.contains(page)
        guard pageOK, subpage == 0x00 || subpage == 0xFF else { throw .invalidFieldInCDB }
        let allocation = tenByte ? c.be16(7) : UInt16(c[4])
        let request = ModeSenseRequest(
            isTenByte: tenByte, disableBlockDescriptors: dbd, longLBAAccepted: llbaa,
            pageControl: pageControl, pageCode: page, subpageCode: subpage, allocationLength: allocation)
        return ParsedCommand(command: .emulated(.modeSense(request)), direction: .fromTarget,
                             transferLength: UInt32(allocation))
    }

    static func parseStartStopUnit(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        let powerCondition = c[4] >> 4
        let loadEject = c[4] & 0x02 != 0
        // SBC-3 §5.25: with a non-zero POWER CONDITION, START and LOEJ are ignored. Otherwise
        // LOEJ = 1 asks to load or eject a medium, which a fixed disk (RMB = 0) cannot do.
        if powerCondition == 0 && loadEject { throw .invalidFieldInCDB }
        return ParsedCommand(command: .emulated(.startStopUnit), direction: .none, transferLength: 0)
    }

    static func parseReadCapacity10(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        // SBC-2 says: if the PMI bit is zero and the LOGICAL BLOCK ADDRESS is not zero, the
        // device server shall terminate the command with INVALID FIELD IN CDB.
        if c[8] & 0x01 == 0 && c.be32(2) != 0 { throw .invalidFieldInCDB }
        return ParsedCommand(command: .emulated(.readCapacity10), direction: .fromTarget, transferLength: 8)
    }

    static func parseServiceActionIn16(_ c: CDB, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        // SBC-3 §5.6: GET LBA STATUS.
        if c[1] & 0x1F == SCSIOpcode.getLBAStatusServiceAction { return try parseGetLBAStatus(c, unit: unit) }
        // SPC-4 §4.2.5.2: an unsupported service action → INVALID FIELD IN CDB.
        guard c[1] & 0x1F == SCSIOpcode.readCapacity16ServiceAction else { throw .invalidFieldInCDB }
        // SBC-3 §5.16: same PMI/LBA rule as READ CAPACITY(10).
        if c[14] & 0x01 == 0 && c.be64(2) != 0 { throw .invalidFieldInCDB }
        // SBC-3 §5.16: ALLOCATION LENGTH 0 is not an error (no data is returned).
        let allocation = c.be32(10)
        return ParsedCommand(command: .emulated(.readCapacity16(allocationLength: allocation)),
                             direction: .fromTarget, transferLength: allocation)
    }
}
