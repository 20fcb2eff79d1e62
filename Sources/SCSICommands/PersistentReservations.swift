/// An I_T nexus as the reservation rules see it (SPC-4 §5.12.1): initiator port + target port.
public struct ReservationNexus: Hashable, Sendable, Comparable {
    /// iSCSI initiator port name (SPC-4 §7.6.4.6 TransportID form): `iqn…,i,0x<ISID>`.
    public var initiatorPort: String
    /// iSCSI target port name: `iqn…,t,0x<TPGT>`.
    public var targetPort: String
    /// RELATIVE TARGET PORT IDENTIFIER (the TPGT; SPC-4 §6.13.5 READ FULL STATUS).
    public var relativeTargetPortID: UInt16

    public init(initiatorPort: String, targetPort: String, relativeTargetPortID: UInt16) {
        self.initiatorPort = initiatorPort
        self.targetPort = targetPort
        self.relativeTargetPortID = relativeTargetPortID
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.initiatorPort, a.targetPort, a.relativeTargetPortID) < (b.initiatorPort, b.targetPort, b.relativeTargetPortID)
    }

    /// SPC-4 §7.6.4.6 iSCSI TransportID, FORMAT CODE 01b (initiator port): the name NUL-terminated and
    /// padded to a multiple of 4 bytes; ADDITIONAL LENGTH counts the name field.
    public var transportID: [UInt8] {
        var name = Array(initiatorPort.utf8.prefix(4 * 65530))
        name.append(0)
        while name.count % 4 != 0 { name.append(0) }
        var id: [UInt8] = [0x45, 0x00]  // FORMAT CODE 01b, PROTOCOL IDENTIFIER 5h (iSCSI)
        id.appendBE16(UInt16(truncatingIfNeeded: name.count))
        id.append(contentsOf: name)
        return id
    }
}

/// What a command does as far as reservations go (SPC-4 §5.12.2 Table 65, SBC-3 §4.17 Table 13).
public enum ReservationAccess: Sendable, Hashable {
    /// Never conflicts (INQUIRY, REPORT LUNS, REQUEST SENSE, RELEASE, REPORT SUPPORTED OPERATION CODES).
    case unrestricted
    /// PERSISTENT RESERVE IN/OUT: conflicts only with an SPC-2 reservation of another nexus; the
    /// persistent rules are applied by the service action itself.
    case persistentReservation
    /// Allowed under every persistent reservation; conflicts with an SPC-2 reservation of another nexus
    /// (TEST UNIT READY, READ CAPACITY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL).
    case basic
    /// Reads the medium: conflicts under Exclusive Access types for non-holders.
    case read
    /// Changes the medium or its state: conflicts under every type for non-holders.
    case write
    /// SPC-2 RESERVE(6)/(10).
    case legacyReserve
}

extension SCSIOpcode {
    /// The reservation class of the command.
    public var reservationAccess: ReservationAccess {
        switch self {
        case .inquiry, .reportLUNs, .requestSense, .release6, .release10, .maintenanceIn:
            return .unrestricted
        case .persistentReserveIn, .persistentReserveOut:
            return .persistentReservation
        case .testUnitReady, .readCapacity10, .serviceActionIn16, .startStopUnit, .preventAllowMediumRemoval,
             .receiveCopyResults:
            // SERVICE ACTION IN(16): READ CAPACITY(16) is allowed; GET LBA STATUS is classified by the runtime.
            return .basic
        case .read6, .read10, .read12, .read16, .verify10, .verify12, .verify16, .prefetch10, .prefetch16,
             .readDefectData10, .readDefectData12, .modeSense6, .modeSense10:
            return .read
        case .write6, .write10, .write12, .write16, .writeAndVerify10, .writeAndVerify12, .writeAndVerify16,
             .writeSame10, .writeSame16, .unmap, .compareAndWrite, .orWrite16, .synchronizeCache10, .synchronizeCache16,
             .extendedCopy, .writeAtomic16:
            // EXTENDED COPY (SPC-4 Table 65): conflicts like a write; the runtime also checks the source (read) and
            // destination (write) logical units of every segment for the same nexus.
            return .write
        case .reserve6, .reserve10:
            return .legacyReserve
        }
    }
}

/// Why a reservation operation fails.
public enum ReservationError: Error, Hashable, Sendable {
    /// RESERVATION CONFLICT status (no sense data).
    case conflict
    /// CHECK CONDITION with this sense.
    case sense(SenseReason)
}

/// The validated 24-byte PERSISTENT RESERVE OUT parameter list (SPC-4 §6.14.3 Table 177).
public struct PROutParameters: Sendable, Hashable {
    public var reservationKey: UInt64
    public var serviceActionKey: UInt64
    /// APTPL: activate persist through power loss.
    public var persistThroughPowerLoss: Bool

    public init(reservationKey: UInt64, serviceActionKey: UInt64, persistThroughPowerLoss: Bool) {
        self.reservationKey = reservationKey
        self.serviceActionKey = serviceActionKey
        self.persistThroughPowerLoss = persistThroughPowerLoss
    }

    /// The only parameter list length supported (SPEC_I_PT = 0, no REGISTER AND MOVE).
    public static let length = 24

    /// Parses the parameter list of `request`.
    public static func parse(_ data: [UInt8], for request: PROutRequest) throws(SenseReason) -> PROutParameters {
        // SPC-4 §6.14.1: with SPEC_I_PT = 0 the PARAMETER LIST LENGTH shall be 24 (checked at CDB time too).
        guard data.count == length else { throw .parameterListLengthError }
        let c = CDB(data)
        let flags = c[20]
        let registering = request.serviceAction == .register || request.serviceAction == .registerAndIgnoreExistingKey
        // SPC-4 §6.14.3: SPEC_I_PT = 1 with SIP_C = 0, or ALL_TG_PT = 1 with ATP_C = 0 →
        // INVALID FIELD IN PARAMETER LIST (for the registering service actions; ignored otherwise).
        if registering && flags & 0x0C != 0 { throw .invalidFieldInParameterList }
        return PROutParameters(reservationKey: c.be64(0), serviceActionKey: c.be64(8),
                               persistThroughPowerLoss: flags & 0x01 != 0)
    }
}

/// SPC-2 RESERVE/RELEASE and SPC-4 persistent reservations of one logical unit (SPC-4 §5.12). Pure state:
/// the runtime holds it under the logical unit's lock, delivers the unit attentions it returns and persists
/// it when `persistThroughPowerLoss` is set.
public struct PersistentReservations: Sendable, Hashable {
    public struct Registration: Sendable, Hashable {
        public var nexus: ReservationNexus
        public var key: UInt64
    }

    public struct Reservation: Sendable, Hashable {
        /// The nexus that created it; for all-registrants types every registrant is a holder.
        public var holder: ReservationNexus
        public var type: PRType
    }

    /// Unit attentions to establish, per nexus, after a successful service action.
    public typealias UnitAttentions = [(nexus: ReservationNexus, reason: SenseReason)]

    /// PRGENERATION (SPC-4 §6.13.2): bumped by REGISTER, REGISTER AND IGNORE, CLEAR, PREEMPT (AND ABORT).
    public internal(set) var generation: UInt32 = 0
    /// Registrations in the order they were made (READ KEYS order).
    public internal(set) var registrations: [Registration] = []
    public internal(set) var reservation: Reservation?
    /// APTPL of the last registering service action (SPC-4 §5.12.5).
    public internal(set) var persistThroughPowerLoss = false
    /// SPC-2 RESERVE holder (not persistent; SPC-4 §5.12.3 compatible reservation handling).
    public internal(set) var legacyHolder: ReservationNexus?

    /// Registrations allowed at once (SPC-4 §5.12.7: beyond → INSUFFICIENT REGISTRATION RESOURCES).
    public static let maximumRegistrations = 256

    public init() {}

    public func key(of nexus: ReservationNexus) -> UInt64? {
        registrations.first { $0.nexus == nexus }?.key
    }

    /// True when `nexus` holds the persistent reservation (SPC-4 §5.12.10).
    public func isHolder(_ nexus: ReservationNexus) -> Bool {
        guard let r = reservation else { return false }
        if r.type.isAllRegistrants { return key(of: nexus) != nil }
        return r.holder == nexus
    }

    // MARK: - Conflicts

    /// SPC-4 §5.12.2 / SPC-2 §5.5.1: true when a command of class `access` from `nexus` must end in
    /// RESERVATION CONFLICT.
    public func conflicts(_ nexus: ReservationNexus, access: ReservationAccess) -> Bool {
        if let legacy = legacyHolder, legacy != nexus {
            // SPC-2 §5.5.1: everything but the unrestricted commands conflicts with another nexus's RESERVE.
            return access != .unrestricted
        }
        guard let r = reservation else { return false }
        if isHolder(nexus) { return false }
        // Registrants-only and all-registrants types: registered nexuses have the holder's access.
        if r.type.registrantsHaveAccess && key(of: nexus) != nil { return false }
        switch access {
        case .unrestricted, .persistentReservation, .basic: return false
        case .read: return r.type.excludesReads
        case .write, .legacyReserve: return true
        }
    }

    // MARK: - SPC-2 RESERVE / RELEASE

    /// RESERVE(6)/(10) of the whole logical unit.
    public mutating func reserveLegacy(_ nexus: ReservationNexus) throws(ReservationError) {
        // SPC-4 §5.12.3 (CRH = 1): with registrations or a persistent reservation in place, RESERVE from a
        // persistent reservation holder completes with GOOD and changes nothing; from anyone else it conflicts.
        if !registrations.isEmpty || reservation != nil {
            if isHolder(nexus) { return }
            throw .conflict
        }
        // SPC-2 §7.21: RESERVE by another nexus while reserved → RESERVATION CONFLICT; by the holder → GOOD.
        if let holder = legacyHolder, holder != nexus { throw .conflict }
        legacyHolder = nexus
    }

    /// RELEASE(6)/(10): the holder releases; from anyone else GOOD with no effect (SPC-2 §7.17).
    public mutating func releaseLegacy(_ nexus: ReservationNexus) {
        if legacyHolder == nexus { legacyHolder = nil }
    }

    /// SAM-5 §6.3: a LOGICAL UNIT RESET (or target reset) releases the SPC-2 reservation; persistent
    /// reservations survive.
    public mutating func resetLegacy() {
        legacyHolder = nil
    }

    /// The nexus went away (logout, connection loss): its SPC-2 reservation ends (SPC-2 §5.5.1).
    public mutating func nexusLost(_ nexus: ReservationNexus) {
        if legacyHolder == nexus { legacyHolder = nil }
    }

    // MARK: - PERSISTENT RESERVE OUT

    /// Runs a PERSISTENT RESERVE OUT service action from `nexus`.
    /// - Returns: the unit attentions to establish for other nexuses.
    public mutating func execute(_ request: PROutRequest, _ p: PROutParameters,
                                 from nexus: ReservationNexus) throws(ReservationError) -> UnitAttentions {
        if let legacy = legacyHolder, legacy != nexus { throw .conflict }
        switch request.serviceAction {
        case .register:
            return try register(p, from: nexus, ignoreExisting: false)
        case .registerAndIgnoreExistingKey:
            return try register(p, from: nexus, ignoreExisting: true)
        case .reserve:
            try reserve(request, p, from: nexus)
            return []
        case .release:
            return try release(request, p, from: nexus)
        case .clear:
            return try clear(p, from: nexus)
        case .preempt, .preemptAndAbort:
            return try preempt(request, p, from: nexus)
        }
    }

    /// The registered key must match the RESERVATION KEY field (SPC-4 §5.12.11.1).
    private func checkRegistered(_ nexus: ReservationNexus, _ p: PROutParameters) throws(ReservationError) {
        guard let key = key(of: nexus), key == p.reservationKey else { throw .conflict }
    }

    /// Validated TYPE and SCOPE of RESERVE / RELEASE / PREEMPT (SPC-4 §6.14.2).
    private func checkedType(_ request: PROutRequest) throws(ReservationError) -> PRType {
        // SPC-4 §6.14.2: only LU_SCOPE (0h); others → INVALID FIELD IN CDB.
        guard request.scope == 0, let type = PRType(rawValue: request.type) else { throw .sense(.invalidFieldInCDB) }
        return type
    }

    private mutating func register(_ p: PROutParameters, from nexus: ReservationNexus,
                                   ignoreExisting: Bool) throws(ReservationError) -> UnitAttentions {
        guard let index = registrations.firstIndex(where: { $0.nexus == nexus }) else {
            // SPC-4 §5.12.7: an unregistered nexus registering with a non-zero RESERVATION KEY (REGISTER only)
            // → RESERVATION CONFLICT.
            if !ignoreExisting && p.reservationKey != 0 { throw .conflict }
            // SPC-4 §5.12.7: SERVICE ACTION RESERVATION KEY 0 from an unregistered nexus: nothing to do.
            if p.serviceActionKey == 0 { return [] }
            guard registrations.count < Self.maximumRegistrations else {
                throw .sense(.insufficientRegistrationResources)
            }
            registrations.append(Registration(nexus: nexus, key: p.serviceActionKey))
            persistThroughPowerLoss = p.persistThroughPowerLoss
            generation &+= 1
            return []
        }
        // SPC-4 §5.12.8: REGISTER from a registered nexus whose key differs → RESERVATION CONFLICT.
        if !ignoreExisting && registrations[index].key != p.reservationKey { throw .conflict }
        persistThroughPowerLoss = p.persistThroughPowerLoss
        generation &+= 1
        if p.serviceActionKey != 0 {
            registrations[index].key = p.serviceActionKey
            return []
        }
        // SPC-4 §5.12.11.2.3: unregistering; a holder's reservation goes with it (all-registrants types only
        // when the last registrant leaves).
        registrations.remove(at: index)
        var attentions: UnitAttentions = []
        if let r = reservation {
            if r.type.isAllRegistrants {
                if registrations.isEmpty { reservation = nil }
            } else if r.holder == nexus {
                reservation = nil
                // SPC-4 §5.12.11.2.2: releasing a registrants-only reservation → RESERVATIONS RELEASED for
                // the other registrants.
                if r.type.registrantsHaveAccess {
                    attentions = registrations.map { ($0.nexus, SenseReason.reservationsReleased) }
                }
            }
        }
        return attentions
    }

    private mutating func reserve(_ request: PROutRequest, _ p: PROutParameters,
                                  from nexus: ReservationNexus) throws(ReservationError) {
        try checkRegistered(nexus, p)
        let type = try checkedType(request)
        if let r = reservation {
            // SPC-4 §5.12.9: the holder reserving again with the same type and scope → GOOD; anything else
            // (another nexus, or another type) → RESERVATION CONFLICT.
            if isHolder(nexus) && r.type == type { return }
            throw .conflict
        }
        reservation = Reservation(holder: nexus, type: type)
    }

    private mutating func release(_ request: PROutRequest, _ p: PROutParameters,
                                  from nexus: ReservationNexus) throws(ReservationError) -> UnitAttentions {
        try checkRegistered(nexus, p)
        // SPC-4 §5.12.11.2.2: no reservation, or the nexus is not a holder → GOOD, nothing happens.
        guard let r = reservation, isHolder(nexus) else { return [] }
        // SPC-4 §5.12.11.2.2: a different SCOPE or TYPE → INVALID RELEASE OF PERSISTENT RESERVATION.
        guard request.scope == 0, request.type == r.type.rawValue else {
            throw .sense(.invalidReleaseOfPersistentReservation)
        }
        reservation = nil
        // Registrants-only / all-registrants: the other registrants get RESERVATIONS RELEASED.
        guard r.type.registrantsHaveAccess else { return [] }
        return registrations.filter { $0.nexus != nexus }.map { ($0.nexus, SenseReason.reservationsReleased) }
    }

    private mutating func clear(_ p: PROutParameters, from nexus: ReservationNexus) throws(ReservationError) -> UnitAttentions {
        try checkRegistered(nexus, p)
        // SPC-4 §5.12.11.6: every registration and the reservation go; the others get RESERVATIONS PREEMPTED.
        let others = registrations.filter { $0.nexus != nexus }.map { ($0.nexus, SenseReason.reservationsPreempted) }
        registrations = []
        reservation = nil
        generation &+= 1
        return others
    }

    private mutating func preempt(_ request: PROutRequest, _ p: PROutParameters,
                                  from nexus: ReservationNexus) throws(ReservationError) -> UnitAttentions {
        try checkRegistered(nexus, p)
        let type = try checkedType(request)
        let target = p.serviceActionKey
        guard let r = reservation else {
            // SPC-4 §5.12.11.4.2: no reservation — remove the registrations with SERVICE ACTION RESERVATION KEY.
            return try removeRegistrations(withKey: target, by: nexus)
        }
        if r.type.isAllRegistrants {
            // SPC-4 §5.12.11.4.3: all-registrants reservation and key 0 → remove every other registration and
            // reserve for the preempting nexus with the new type; a non-zero key just removes registrations.
            guard target == 0 else { return try removeRegistrations(withKey: target, by: nexus) }
            let removed = registrations.filter { $0.nexus != nexus }
            registrations.removeAll { $0.nexus != nexus }
            reservation = Reservation(holder: nexus, type: type)
            generation &+= 1
            return removed.map { ($0.nexus, SenseReason.registrationsPreempted) }
        }
        let holderKey = key(of: r.holder)
        guard target == holderKey else {
            // SPC-4 §5.12.11.4.4: not the holder's key — only registrations are removed (0 is invalid here).
            guard target != 0 else { throw .sense(.invalidFieldInParameterList) }
            return try removeRegistrations(withKey: target, by: nexus)
        }
        // SPC-4 §5.12.11.4.4: the holder's key — its registrations (except the preempting nexus's) go, the
        // reservation moves to the preempting nexus with the new type.
        let removed = registrations.filter { $0.key == target && $0.nexus != nexus }
        registrations.removeAll { $0.key == target && $0.nexus != nexus }
        reservation = Reservation(holder: nexus, type: type)
        generation &+= 1
        var attentions: UnitAttentions = removed.map { ($0.nexus, SenseReason.registrationsPreempted) }
        if r.type != type {
            // SPC-4 §5.12.11.4.4: a changed type → RESERVATIONS RELEASED for the remaining registrants.
            let removedSet = Set(removed.map(\.nexus))
            attentions += registrations.filter { $0.nexus != nexus && !removedSet.contains($0.nexus) }
                .map { ($0.nexus, SenseReason.reservationsReleased) }
        }
        return attentions
    }

    private mutating func removeRegistrations(withKey key: UInt64, by nexus: ReservationNexus) throws(ReservationError) -> UnitAttentions {
        // SPC-4 §5.12.11.4.2: SERVICE ACTION RESERVATION KEY 0 without a reservation → INVALID FIELD IN
        // PARAMETER LIST; a key nobody holds → RESERVATION CONFLICT.
        guard key != 0 else { throw .sense(.invalidFieldInParameterList) }
        let removed = registrations.filter { $0.key == key }
        guard !removed.isEmpty else { throw .conflict }
        registrations.removeAll { $0.key == key }
        if let r = reservation, r.type.isAllRegistrants, registrations.isEmpty { reservation = nil }
        generation &+= 1
        return removed.filter { $0.nexus != nexus }.map { ($0.nexus, SenseReason.registrationsPreempted) }
    }

    // MARK: - PERSISTENT RESERVE IN

    /// READ KEYS (SPC-4 §6.13.2).
    public func readKeys() -> [UInt8] {
        var data: [UInt8] = []
        data.appendBE32(generation)
        data.appendBE32(UInt32(truncatingIfNeeded: registrations.count * 8))
        for r in registrations { data.appendBE64(r.key) }
        return data
    }

    /// READ RESERVATION (SPC-4 §6.13.3).
    public func readReservation() -> [UInt8] {
        var data: [UInt8] = []
        data.appendBE32(generation)
        guard let r = reservation else {
            data.appendBE32(0)
            return data
        }
        data.appendBE32(16)
        // SPC-4 §6.13.3.3: all-registrants reservations report a RESERVATION KEY of 0.
        data.appendBE64(r.type.isAllRegistrants ? 0 : (key(of: r.holder) ?? 0))
        data.appendZeros(4)        // obsolete
        data.append(0x00)          // reserved
        data.append(r.type.rawValue)  // SCOPE 0 (LU_SCOPE), TYPE
        data.appendZeros(2)        // obsolete
        return data
    }

    /// REPORT CAPABILITIES (SPC-4 §6.13.4): CRH = 1, PTPL_C = 1, no SIP_C / ATP_C, TMV = 1 with every
    /// type of Table 175, ALLOW COMMANDS 000b, PTPL_A as currently set.
    public func reportCapabilities() -> [UInt8] {
        var data: [UInt8] = []
        data.appendBE16(8)  // LENGTH
        data.append(0x10 | 0x01)  // CRH, PTPL_C
        data.append(0x80 | (persistThroughPowerLoss ? 0x01 : 0x00))  // TMV, ALLOW COMMANDS 000b, PTPL_A
        // PERSISTENT RESERVATION TYPE MASK: WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX | EX_AC_AR.
        data.append(0x80 | 0x40 | 0x20 | 0x08 | 0x02)
        data.append(0x01)
        data.appendZeros(2)
        return data
    }

    /// READ FULL STATUS (SPC-4 §6.13.5): one descriptor per registration.
    public func readFullStatus() -> [UInt8] {
        var body: [UInt8] = []
        for reg in registrations {
            body.appendBE64(reg.key)
            body.appendZeros(4)
            let holder = isHolder(reg.nexus)
            body.append(holder ? 0x01 : 0x00)  // ALL_TG_PT 0, R_HOLDER
            body.append(holder ? (reservation?.type.rawValue ?? 0) : 0)  // SCOPE, TYPE
            body.appendZeros(4)
            body.appendBE16(reg.nexus.relativeTargetPortID)
            let id = reg.nexus.transportID
            body.appendBE32(UInt32(truncatingIfNeeded: id.count))
            body.append(contentsOf: id)
        }
        var data: [UInt8] = []
        data.appendBE32(generation)
        data.appendBE32(UInt32(truncatingIfNeeded: body.count))
        data.append(contentsOf: body)
        return data
    }
}
