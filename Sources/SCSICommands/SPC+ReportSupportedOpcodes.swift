/// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35) and the table of commands this target implements.
extension Emulator {
    /// One supported command: opcode, service action (nil when the opcode has none) and the CDB USAGE
    /// DATA bitmap (SPC-4 §6.35.3: byte 0 is the opcode, then the bits the device server examines; the
    /// bitmap's length is the CDB length).
    public struct SupportedCommand: Sendable, Hashable {
        public var opcode: UInt8
        public var serviceAction: UInt16?
        public var usage: [UInt8]
    }

    /// Usage bitmaps of the common CDB shapes. CONTROL bytes report NACA (bit 2), the one bit we check.
    private static func rw10(_ op: UInt8, _ b1: UInt8) -> [UInt8] { [op, b1, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x04] }
    private static func rw12(_ op: UInt8, _ b1: UInt8) -> [UInt8] {
        [op, b1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04]
    }
    private static func rw16(_ op: UInt8, _ b1: UInt8) -> [UInt8] {
        [op, b1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04]
    }

    /// Every command `CommandParser.parse` accepts, ascending by opcode then service action.
    public static let supportedCommands: [SupportedCommand] = {
        var list: [SupportedCommand] = [
            SupportedCommand(opcode: 0x00, serviceAction: nil, usage: [0x00, 0, 0, 0, 0, 0x04]),
            SupportedCommand(opcode: 0x03, serviceAction: nil, usage: [0x03, 0x01, 0, 0, 0xFF, 0x04]),
            SupportedCommand(opcode: 0x08, serviceAction: nil, usage: [0x08, 0x1F, 0xFF, 0xFF, 0xFF, 0x04]),
            SupportedCommand(opcode: 0x0A, serviceAction: nil, usage: [0x0A, 0x1F, 0xFF, 0xFF, 0xFF, 0x04]),
            SupportedCommand(opcode: 0x12, serviceAction: nil, usage: [0x12, 0x03, 0xFF, 0xFF, 0xFF, 0x04]),
            SupportedCommand(opcode: 0x16, serviceAction: nil, usage: [0x16, 0x00, 0, 0, 0, 0x04]),
            SupportedCommand(opcode: 0x17, serviceAction: nil, usage: [0x17, 0x00, 0, 0, 0, 0x04]),
            SupportedCommand(opcode: 0x1A, serviceAction: nil, usage: [0x1A, 0x08, 0xFF, 0xFF, 0xFF, 0x04]),
            SupportedCommand(opcode: 0x1B, serviceAction: nil, usage: [0x1B, 0x00, 0x00, 0x00, 0xF2, 0x04]),
            SupportedCommand(opcode: 0x1E, serviceAction: nil, usage: [0x1E, 0x00, 0x00, 0x00, 0x03, 0x04]),
            SupportedCommand(opcode: 0x25, serviceAction: nil, usage: [0x25, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, 0x04]),
            SupportedCommand(opcode: 0x28, serviceAction: nil, usage: rw10(0x28, 0xF8)),
            SupportedCommand(opcode: 0x2A, serviceAction: nil, usage: rw10(0x2A, 0xF8)),
            SupportedCommand(opcode: 0x2E, serviceAction: nil, usage: rw10(0x2E, 0xF6)),
            SupportedCommand(opcode: 0x2F, serviceAction: nil, usage: rw10(0x2F, 0xF6)),
            SupportedCommand(opcode: 0x34, serviceAction: nil, usage: rw10(0x34, 0x02)),
            SupportedCommand(opcode: 0x35, serviceAction: nil, usage: rw10(0x35, 0x02)),
            SupportedCommand(opcode: 0x37, serviceAction: nil, usage: [0x37, 0, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, 0x04]),
            SupportedCommand(opcode: 0x41, serviceAction: nil, usage: rw10(0x41, 0xFE)),
            SupportedCommand(opcode: 0x42, serviceAction: nil, usage: [0x42, 0x01, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x04]),
            SupportedCommand(opcode: 0x56, serviceAction: nil, usage: [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0x04]),
            SupportedCommand(opcode: 0x57, serviceAction: nil, usage: [0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0x04]),
            SupportedCommand(opcode: 0x5A, serviceAction: nil, usage: [0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0x04]),
        ]
        for sa in PRInServiceAction.allRawValues {
            list.append(SupportedCommand(opcode: 0x5E, serviceAction: UInt16(sa),
                                         usage: [0x5E, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x04]))
        }
        for sa in PROutServiceAction.allRawValues {
            list.append(SupportedCommand(opcode: 0x5F, serviceAction: UInt16(sa),
                                         usage: [0x5F, 0x1F, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x04]))
        }
        // SPC-4 §6.4 / §6.18: THIRD-PARTY COPY OUT 83h/00h EXTENDED COPY(LID1), IN 84h RECEIVE COPY RESULTS.
        list.append(SupportedCommand(opcode: 0x83, serviceAction: 0x00,
                                     usage: [0x83, 0x1F, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04]))
        for sa in CopyResultsRequest.ServiceAction.allCases {
            list.append(SupportedCommand(opcode: 0x84, serviceAction: UInt16(sa.rawValue),
                                         usage: [0x84, 0x1F, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04]))
        }
        list += [
            SupportedCommand(opcode: 0x88, serviceAction: nil, usage: rw16(0x88, 0xF8)),
            SupportedCommand(opcode: 0x89, serviceAction: nil,
                             usage: [0x89, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0x00, 0x04]),
            SupportedCommand(opcode: 0x8A, serviceAction: nil, usage: rw16(0x8A, 0xF8)),
            SupportedCommand(opcode: 0x8B, serviceAction: nil, usage: rw16(0x8B, 0xF8)),
            SupportedCommand(opcode: 0x8E, serviceAction: nil, usage: rw16(0x8E, 0xF6)),
            SupportedCommand(opcode: 0x8F, serviceAction: nil, usage: rw16(0x8F, 0xF6)),
            SupportedCommand(opcode: 0x90, serviceAction: nil, usage: rw16(0x90, 0x02)),
            SupportedCommand(opcode: 0x91, serviceAction: nil, usage: rw16(0x91, 0x02)),
            SupportedCommand(opcode: 0x93, serviceAction: nil, usage: rw16(0x93, 0xFF)),
            // SBC-4 §5.48 WRITE ATOMIC(16): WRPROTECT/DPO/FUA, LBA, ATOMIC BOUNDARY, 16-bit TRANSFER LENGTH.
            SupportedCommand(opcode: 0x9C, serviceAction: nil,
                             usage: [0x9C, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04]),
            SupportedCommand(opcode: 0x9E, serviceAction: UInt16(SCSIOpcode.readCapacity16ServiceAction),
                             usage: [0x9E, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x04]),
            SupportedCommand(opcode: 0x9E, serviceAction: UInt16(SCSIOpcode.getLBAStatusServiceAction),
                             usage: [0x9E, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04]),
            SupportedCommand(opcode: 0xA0, serviceAction: nil, usage: [0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x04]),
            SupportedCommand(opcode: 0xA3, serviceAction: UInt16(SCSIOpcode.reportSupportedOpcodesServiceAction),
                             usage: [0xA3, 0x1F, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x04]),
            SupportedCommand(opcode: 0xA8, serviceAction: nil, usage: rw12(0xA8, 0xF8)),
            SupportedCommand(opcode: 0xAA, serviceAction: nil, usage: rw12(0xAA, 0xF8)),
            SupportedCommand(opcode: 0xAE, serviceAction: nil, usage: rw12(0xAE, 0xF6)),
            SupportedCommand(opcode: 0xAF, serviceAction: nil, usage: rw12(0xAF, 0xF6)),
            SupportedCommand(opcode: 0xB7, serviceAction: nil, usage: [0xB7, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x04]),
        ]
        return list
    }()

    /// The commands `unit` supports: WRITE ATOMIC(16) only when its MAXIMUM ATOMIC TRANSFER LENGTH is not 0
    /// (SBC-4 §6.6.4), so REPORT SUPPORTED OPERATION CODES agrees with what the parser accepts.
    public static func supportedCommands(for unit: LogicalUnitInfo) -> [SupportedCommand] {
        if unit.maximumAtomicTransferBlocks != 0 { return supportedCommands }
        return supportedCommands.filter { $0.opcode != SCSIOpcode.writeAtomic16.rawValue }
    }

    /// Opcodes whose commands are told apart by a service action (SPC-4 §6.35.1: SERVACTV).
    static func hasServiceActions(_ opcode: UInt8) -> Bool {
        supportedCommands.contains { $0.opcode == opcode && $0.serviceAction != nil }
    }

    /// SPC-4 §6.35.4 command timeouts descriptor: no per-command timeout is specified (0); a
    /// recommended timeout of 30 s covers the slowest command (a flush of a large cache).
    static func commandTimeoutsDescriptor() -> [UInt8] {
        var d: [UInt8] = []
        d.appendBE16(0x000A)
        d.append(0x00)          // reserved
        d.append(0x00)          // COMMAND SPECIFIC
        d.appendBE32(0)         // NOMINAL COMMAND PROCESSING TIMEOUT: not specified
        d.appendBE32(30)        // RECOMMENDED COMMAND TIMEOUT (seconds)
        return d
    }

    /// Builds the parameter data, or throws INVALID FIELD IN CDB for a reporting option that does not
    /// fit the requested opcode (SPC-4 §6.35.1 Table 273).
    public static func reportSupportedOpcodes(
        _ request: ReportOpcodesRequest, commands: [SupportedCommand] = supportedCommands
    ) throws(SenseReason) -> [UInt8] {
        let supportedCommands = commands
        if request.options == .all {
            var body: [UInt8] = []
            for command in supportedCommands {
                body.append(command.opcode)
                body.append(0x00)
                body.appendBE16(command.serviceAction ?? 0)
                body.append(0x00)
                // CTDP (bit 1) when timeouts follow; SERVACTV (bit 0) when the opcode has service actions.
                body.append((request.includeTimeouts ? 0x02 : 0x00) | (command.serviceAction != nil ? 0x01 : 0x00))
                body.appendBE16(UInt16(command.usage.count))
                if request.includeTimeouts { body.append(contentsOf: commandTimeoutsDescriptor()) }
            }
            var data: [UInt8] = []
            data.appendBE32(UInt32(truncatingIfNeeded: body.count))  // COMMAND DATA LENGTH
            data.append(contentsOf: body)
            return data
        }
        let opcode = request.requestedOpcode
        let withSA = hasServiceActions(opcode)
        let match: SupportedCommand?
        switch request.options {
        case .opcode:
            // 001b on an opcode that has service actions → INVALID FIELD IN CDB, pointing at REPORTING OPTIONS
            // (byte 2, bits 2–0) so initiators can tell it from "service action unsupported".
            if withSA { throw .invalidFieldInCDBAt(byte: 2, bit: 2) }
            match = supportedCommands.first { $0.opcode == opcode }
        case .opcodeAndServiceAction:
            // 010b on an opcode we implement without service actions → INVALID FIELD IN CDB.
            if !withSA && supportedCommands.contains(where: { $0.opcode == opcode }) {
                throw .invalidFieldInCDBAt(byte: 2, bit: 2)
            }
            match = supportedCommands.first { $0.opcode == opcode && $0.serviceAction == request.requestedServiceAction }
        case .opcodeEitherWay:
            match = supportedCommands.first {
                $0.opcode == opcode && (!withSA || $0.serviceAction == request.requestedServiceAction)
            }
        case .all:
            match = nil  // handled above
        }
        var data: [UInt8] = [0x00]
        guard let match else {
            // SUPPORT 001b: not supported; CDB SIZE 0.
            data.append(0x01)
            data.appendBE16(0)
            return data
        }
        // SUPPORT 011b: supported as the standard describes; CTDP (bit 7) when timeouts follow.
        data.append((request.includeTimeouts ? 0x80 : 0x00) | 0x03)
        data.appendBE16(UInt16(match.usage.count))
        data.append(contentsOf: match.usage)
        if request.includeTimeouts { data.append(contentsOf: commandTimeoutsDescriptor()) }
        return data
    }
}

extension PRInServiceAction {
    static var allRawValues: [UInt8] { [0, 1, 2, 3] }
}

extension PROutServiceAction {
    static var allRawValues: [UInt8] { [0, 1, 2, 3, 4, 5, 6] }
}
