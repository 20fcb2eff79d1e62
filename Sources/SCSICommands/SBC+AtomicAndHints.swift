/// COMPARE AND WRITE, ORWRITE, WRITE ATOMIC(16), PRE-FETCH, READ DEFECT DATA and PREVENT ALLOW MEDIUM REMOVAL
/// (SBC-3 §5, SBC-4 §5.48).
extension CommandParser {
    static func parseCompareAndWrite(_ c: CDB, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        // SBC-3 §5.3: WRPROTECT ≠ 0 without protection information → INVALID FIELD IN CDB.
        if c[1] >> 5 != 0 { throw .invalidFieldInCDB }
        let lba = c.be64(2)
        let blocks = UInt32(c[13])
        // SBC-3 §5.3: NUMBER OF LOGICAL BLOCKS above MAXIMUM COMPARE AND WRITE LENGTH → INVALID FIELD IN CDB.
        if blocks > UInt32(unit.maximumCompareAndWriteBlocks) { throw .invalidFieldInCDB }
        try checkRange(lba: lba, blocks: blocks, unit: unit)
        if unit.readOnly { throw .writeProtected }
        // SBC-3 §5.3: the Data-Out Buffer holds the verify instance and then the write instance.
        let bytes = try transferBytes(blocks: blocks, unit: unit)
        let (total, overflow) = bytes.multipliedReportingOverflow(by: 2)
        if overflow { throw .invalidFieldInCDB }
        return ParsedCommand(command: .compareAndWrite(lba: lba, blocks: blocks, fua: c[1] & 0x08 != 0),
                             direction: blocks == 0 ? .none : .toTarget, transferLength: total)
    }

    static func parseOrWrite(_ c: CDB, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let fields = BlockFields(c, cdbLength: 16)
        // SBC-3 §5.9: ORPROTECT ≠ 0 without protection information → INVALID FIELD IN CDB.
        if fields.protect != 0 { throw .invalidFieldInCDB }
        let bytes = try transferBytes(blocks: fields.blocks, unit: unit)
        try checkRange(lba: fields.lba, blocks: fields.blocks, unit: unit)
        if unit.readOnly { throw .writeProtected }
        return ParsedCommand(command: .orWrite(lba: fields.lba, blocks: fields.blocks, fua: fields.fua),
                             direction: .toTarget, transferLength: bytes)
    }

    /// WRITE ATOMIC(16) (SBC-4 §5.48): byte 1 WRPROTECT/DPO/FUA, bytes 2–9 LBA, 10–11 ATOMIC BOUNDARY, 12–13
    /// TRANSFER LENGTH (16 bits), byte 14 GROUP NUMBER.
    static func parseWriteAtomic16(_ c: CDB, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let maximum = unit.maximumAtomicTransferBlocks
        // SBC-4 §6.6.4: MAXIMUM ATOMIC TRANSFER LENGTH 0 = the unit does not support WRITE ATOMIC; SPC-4 §4.2.5.1:
        // an operation code the logical unit does not support → INVALID COMMAND OPERATION CODE.
        guard maximum != 0 else { throw .invalidCommandOperationCode }
        // SBC-4 §5.48.2: WRPROTECT ≠ 0 without protection information → INVALID FIELD IN CDB.
        if c[1] >> 5 != 0 { throw .invalidFieldInCDBAt(byte: 1, bit: 7) }
        let lba = c.be64(2)
        let blocks = UInt32(c.be16(12))
        // SBC-4 §4.5: the range is checked first, as for WRITE(16) — an atomic write past the end is LOGICAL
        // BLOCK ADDRESS OUT OF RANGE whatever its length (libiscsi WriteAtomic16.BeyondEol).
        try checkRange(lba: lba, blocks: blocks, unit: unit)
        // SBC-4 §5.48.2: a non-zero ATOMIC BOUNDARY needs MAXIMUM ATOMIC BOUNDARY SIZE ≠ 0, which we report as 0.
        if c.be16(10) != 0 { throw .invalidFieldInCDBAt(byte: 10, bit: 7) }
        // SBC-4 §5.48.2: TRANSFER LENGTH > MAXIMUM ATOMIC TRANSFER LENGTH → INVALID FIELD IN CDB.
        if blocks > maximum { throw .invalidFieldInCDBAt(byte: 12, bit: 7) }
        // SBC-4 §5.48.2: an LBA that is not a multiple of ATOMIC ALIGNMENT → INVALID FIELD IN CDB.
        if unit.atomicAlignment > 1 && lba % UInt64(unit.atomicAlignment) != 0 {
            throw .invalidFieldInCDBAt(byte: 2, bit: 7)
        }
        // SBC-4 §5.48.2: a TRANSFER LENGTH that is not a multiple of ATOMIC TRANSFER LENGTH GRANULARITY → INVALID
        // FIELD IN CDB.
        if unit.atomicTransferLengthGranularity > 1 && blocks % unit.atomicTransferLengthGranularity != 0 {
            throw .invalidFieldInCDBAt(byte: 12, bit: 7)
        }
        let bytes = try transferBytes(blocks: blocks, unit: unit)
        // SBC-3 §4.13: a write-protected medium → DATA PROTECT / WRITE PROTECTED.
        if unit.readOnly { throw .writeProtected }
        // DPO is a cache hint (MODE SENSE reports DPOFUA = 1); FUA: GOOD only once the data is stable.
        return ParsedCommand(command: .writeAtomic(lba: lba, blocks: blocks, fua: c[1] & 0x08 != 0),
                             direction: .toTarget, transferLength: bytes)
    }

    static func parsePrefetch(_ c: CDB, opcode: SCSIOpcode, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        let lba: UInt64
        let blocks: UInt32
        if opcode == .prefetch10 {
            (lba, blocks) = (UInt64(c.be32(2)), UInt32(c.be16(7)))
        } else {
            (lba, blocks) = (c.be64(2), c.be32(10))
        }
        // SBC-3 §5.10: the range is checked like a read; IMMED (byte 1 bit 1) is accepted.
        try checkRange(lba: lba, blocks: blocks, unit: unit)
        return ParsedCommand(command: .prefetch(lba: lba, blocks: blocks), direction: .none, transferLength: 0)
    }

    static func parseReadDefectData(_ c: CDB, twelveByte: Bool) throws(SenseReason) -> ParsedCommand {
        // READ DEFECT DATA(10): flags in byte 2; (12): flags in byte 1 (SBC-3 §5.12/§5.13).
        let flags = twelveByte ? c[1] : c[2]
        let allocation = twelveByte ? c.be32(6) : UInt32(c.be16(7))
        let command = EmulatedCommand.readDefectData(
            twelveByte: twelveByte, primary: flags & 0x10 != 0, grown: flags & 0x08 != 0,
            format: flags & 0x07, allocationLength: allocation)
        return ParsedCommand(command: .emulated(command), direction: .fromTarget, transferLength: allocation)
    }

    static func parsePreventAllow(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        // SBC-3 §5.11: PREVENT 00b/01b; 10b/11b are obsolete/reserved here → INVALID FIELD IN CDB.
        if c[4] & 0x03 > 1 { throw .invalidFieldInCDB }
        return ParsedCommand(command: .emulated(.preventAllowMediumRemoval), direction: .none, transferLength: 0)
    }

    static func parseMaintenanceIn(_ c: CDB, unit: LogicalUnitInfo) throws(SenseReason) -> ParsedCommand {
        // SPC-4 §6.35: only REPORT SUPPORTED OPERATION CODES; other service actions → INVALID FIELD IN CDB.
        guard c[1] & 0x1F == SCSIOpcode.reportSupportedOpcodesServiceAction else { throw .invalidFieldInCDB }
        guard let options = ReportOpcodesRequest.Options(rawValue: c[2] & 0x07) else {
            throw .invalidFieldInCDBAt(byte: 2, bit: 2)
        }
        let request = ReportOpcodesRequest(
            includeTimeouts: c[2] & 0x80 != 0, options: options, requestedOpcode: c[3],
            requestedServiceAction: c.be16(4), allocationLength: c.be32(6))
        // Validate the requested command now: an unsupported combination fails before any data moves.
        _ = try Emulator.reportSupportedOpcodes(request, commands: Emulator.supportedCommands(for: unit))
        return ParsedCommand(command: .emulated(.reportSupportedOpcodes(request)), direction: .fromTarget,
                             transferLength: request.allocationLength)
    }
}

extension Emulator {
    /// READ DEFECT DATA: no defects. The header echoes the requested lists as valid (PLISTV/GLISTV) and
    /// the requested format with a DEFECT LIST LENGTH of 0 (SBC-3 §5.12.2 / §5.13.2).
    static func readDefectData(twelveByte: Bool, primary: Bool, grown: Bool, format: UInt8) -> [UInt8] {
        let flags: UInt8 = (primary ? 0x10 : 0) | (grown ? 0x08 : 0) | format
        if twelveByte {
            return [0x00, flags, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        }
        return [0x00, flags, 0x00, 0x00]
    }
}
