/// APTPL persistence (SPC-4 §5.12.5): the registrations and the reservation as a small line-based text
/// document. Pure; the runtime writes it atomically (temp file + rename) and reads it back at start.
extension PersistentReservations {
    /// Why a stored document was refused.
    public struct DecodeError: Error, Hashable, Sendable {
        public var line: Int
        public var reason: String
    }

    static let header = "iscsi-target-pr 1"

    /// The document; empty registrations with APTPL off encode to just the header (nothing to restore).
    public func encoded() -> String {
        var lines = [Self.header, "generation \(generation)"]
        for r in registrations {
            lines.append("registration \(String(r.key, radix: 16)) \(r.nexus.initiatorPort) \(r.nexus.targetPort) \(r.nexus.relativeTargetPortID)")
        }
        if let r = reservation {
            lines.append("reservation \(r.type.rawValue) \(r.holder.initiatorPort) \(r.holder.targetPort) \(r.holder.relativeTargetPortID)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Restores a document written by `encoded()`. The result has APTPL set (only such state is stored).
    public static func decode(_ text: String) throws(DecodeError) -> PersistentReservations {
        var state = PersistentReservations()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first.map(String.init) == header else { throw DecodeError(line: 1, reason: "bad header") }
        // Bounded: never more than the registration limit + a few lines.
        guard lines.count <= maximumRegistrations + 3 else { throw DecodeError(line: lines.count, reason: "too many lines") }
        for (i, raw) in lines.enumerated().dropFirst() {
            let f = raw.split(separator: " ").map(String.init)
            func nexus(_ at: Int) throws(DecodeError) -> ReservationNexus {
                guard f.count == at + 3, let rtpi = UInt16(f[at + 2]), !f[at].isEmpty, !f[at + 1].isEmpty else {
                    throw DecodeError(line: i + 1, reason: "bad nexus")
                }
                return ReservationNexus(initiatorPort: f[at], targetPort: f[at + 1], relativeTargetPortID: rtpi)
            }
            switch f.first {
            case "generation":
                guard f.count == 2, let g = UInt32(f[1]) else { throw DecodeError(line: i + 1, reason: "bad generation") }
                state.generation = g
            case "registration":
                guard f.count >= 2, let key = UInt64(f[1], radix: 16), key != 0 else {
                    throw DecodeError(line: i + 1, reason: "bad key")
                }
                let n = try nexus(2)
                guard state.key(of: n) == nil else { throw DecodeError(line: i + 1, reason: "duplicate registration") }
                state.registrations.append(Registration(nexus: n, key: key))
            case "reservation":
                guard f.count >= 2, let raw = UInt8(f[1]), let type = PRType(rawValue: raw) else {
                    throw DecodeError(line: i + 1, reason: "bad type")
                }
                state.reservation = Reservation(holder: try nexus(2), type: type)
            default:
                throw DecodeError(line: i + 1, reason: "unknown line")
            }
        }
        // A reservation needs its holder registered (all-registrants: any registrant).
        if let r = state.reservation, state.registrations.isEmpty || (!r.type.isAllRegistrants && state.key(of: r.holder) == nil) {
            throw DecodeError(line: lines.count, reason: "reservation without registration")
        }
        state.persistThroughPowerLoss = !state.registrations.isEmpty
        return state
    }
}

extension CommandParser {
    static func parseReserveRelease(_ c: CDB, opcode: SCSIOpcode) throws(SenseReason) -> ParsedCommand {
        switch opcode {
        case .reserve6, .release6:
            // SPC-2 §7.21.1: extents (bit 0) and third-party (bit 4) reservations are not supported.
            if c[1] & 0x11 != 0 { throw .invalidFieldInCDB }
        default:
            // SPC-2 §7.22: 3RDPTY (bit 4) and LONGID (bit 1) are not supported; no parameter list.
            if c[1] & 0x12 != 0 { throw .invalidFieldInCDB }
            if opcode == .reserve10 && c.be16(7) != 0 { throw .invalidFieldInCDB }
        }
        let isReserve = opcode == .reserve6 || opcode == .reserve10
        return ParsedCommand(command: isReserve ? .reserve : .release, direction: .none, transferLength: 0)
    }

    static func parsePersistentReserveIn(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        // SPC-4 §6.13.1: a reserved service action → INVALID FIELD IN CDB.
        guard let action = PRInServiceAction(rawValue: c[1] & 0x1F) else { throw .invalidFieldInCDB }
        let allocation = c.be16(7)
        return ParsedCommand(command: .persistentReserveIn(serviceAction: action, allocationLength: allocation),
                             direction: .fromTarget, transferLength: UInt32(allocation))
    }

    static func parsePersistentReserveOut(_ c: CDB) throws(SenseReason) -> ParsedCommand {
        // SPC-4 §6.14.2: REGISTER AND MOVE (7h) is not supported and the rest are reserved → INVALID FIELD IN CDB.
        guard let action = PROutServiceAction(rawValue: c[1] & 0x1F) else { throw .invalidFieldInCDB }
        let length = c.be32(5)
        // SPC-4 §6.14.1: with SPEC_I_PT unsupported the parameter list is exactly 24 bytes.
        guard length == UInt32(PROutParameters.length) else { throw .parameterListLengthError }
        let request = PROutRequest(serviceAction: action, scope: c[2] >> 4, type: c[2] & 0x0F, parameterListLength: length)
        return ParsedCommand(command: .persistentReserveOut(request), direction: .toTarget, transferLength: length)
    }
}
