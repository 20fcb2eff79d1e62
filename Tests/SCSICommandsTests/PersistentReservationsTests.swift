import Testing
import SCSICommands

private let a = ReservationNexus(initiatorPort: "iqn.a,i,0x000000000001", targetPort: "iqn.t,t,0x0001", relativeTargetPortID: 1)
private let b = ReservationNexus(initiatorPort: "iqn.b,i,0x000000000002", targetPort: "iqn.t,t,0x0001", relativeTargetPortID: 1)
private let c = ReservationNexus(initiatorPort: "iqn.c,i,0x000000000003", targetPort: "iqn.t,t,0x0001", relativeTargetPortID: 1)

private func req(_ sa: PROutServiceAction, _ type: PRType? = nil) -> PROutRequest {
    PROutRequest(serviceAction: sa, scope: 0, type: type?.rawValue ?? 0, parameterListLength: 24)
}

private func p(_ key: UInt64, _ sakey: UInt64 = 0, aptpl: Bool = false) -> PROutParameters {
    PROutParameters(reservationKey: key, serviceActionKey: sakey, persistThroughPowerLoss: aptpl)
}

@Suite struct PersistentReservationsTests {
    @Test func registerReserveRelease() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 0xA), from: a)
        #expect(pr.generation == 1)
        _ = try pr.execute(req(.reserve, .writeExclusive), p(0xA), from: a)
        #expect(pr.isHolder(a))
        // SPC-4 §5.12.9: the holder reserving again with the same type → GOOD.
        _ = try pr.execute(req(.reserve, .writeExclusive), p(0xA), from: a)
        // Another type → RESERVATION CONFLICT.
        #expect(throws: ReservationError.conflict) { try pr.execute(req(.reserve, .exclusiveAccess), p(0xA), from: a) }
        // RELEASE with the wrong type → INVALID RELEASE OF PERSISTENT RESERVATION.
        #expect(throws: ReservationError.sense(.invalidReleaseOfPersistentReservation)) {
            try pr.execute(req(.release, .exclusiveAccess), p(0xA), from: a)
        }
        _ = try pr.execute(req(.release, .writeExclusive), p(0xA), from: a)
        #expect(pr.reservation == nil)
        #expect(pr.generation == 1)  // RESERVE/RELEASE do not bump PRGENERATION
    }

    @Test func unregisteredNexusConflicts() {
        var pr = PersistentReservations()
        #expect(throws: ReservationError.conflict) { try pr.execute(req(.register), p(5, 6), from: a) }
        #expect(throws: ReservationError.conflict) { try pr.execute(req(.reserve, .writeExclusive), p(0), from: a) }
        #expect(throws: ReservationError.conflict) { try pr.execute(req(.clear), p(0), from: a) }
    }

    @Test func registerWrongKeyConflictsButIgnoreExistingWorks() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 1), from: a)
        #expect(throws: ReservationError.conflict) { try pr.execute(req(.register), p(2, 3), from: a) }
        _ = try pr.execute(req(.registerAndIgnoreExistingKey), p(99, 3), from: a)
        #expect(pr.key(of: a) == 3)
    }

    @Test(arguments: [
        // type, registered-reader ok, registered-writer ok, unregistered-reader ok, unregistered-writer ok
        (PRType.exclusiveAccess, false, false, false, false),
        (.writeExclusive, true, false, true, false),
        (.exclusiveAccessRegistrantsOnly, true, true, false, false),
        (.writeExclusiveRegistrantsOnly, true, true, true, false),
        (.exclusiveAccessAllRegistrants, true, true, false, false),
        (.writeExclusiveAllRegistrants, true, true, true, false),
    ])
    func accessMatrix(_ row: (PRType, Bool, Bool, Bool, Bool)) throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 1), from: a)
        _ = try pr.execute(req(.register), p(0, 2), from: b)
        _ = try pr.execute(req(.reserve, row.0), p(1), from: a)
        #expect(!pr.conflicts(a, access: .write))
        #expect(pr.conflicts(b, access: .read) == !row.1)
        #expect(pr.conflicts(b, access: .write) == !row.2)
        #expect(pr.conflicts(c, access: .read) == !row.3)
        #expect(pr.conflicts(c, access: .write) == !row.4)
        #expect(!pr.conflicts(c, access: .basic))
        #expect(!pr.conflicts(c, access: .unrestricted))
    }

    @Test func preemptRemovesRegistrationAndMovesReservation() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 1), from: a)
        _ = try pr.execute(req(.register), p(0, 2), from: b)
        _ = try pr.execute(req(.reserve, .writeExclusive), p(1), from: a)
        let uas = try pr.execute(req(.preempt, .exclusiveAccess), p(2, 1), from: b)
        #expect(pr.key(of: a) == nil)
        #expect(pr.reservation?.holder == b)
        #expect(pr.reservation?.type == .exclusiveAccess)
        #expect(uas.map(\.nexus) == [a])
        #expect(uas.map(\.reason) == [.registrationsPreempted])
    }

    @Test func preemptWithoutReservation() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 1), from: a)
        _ = try pr.execute(req(.register), p(0, 2), from: b)
        #expect(throws: ReservationError.sense(.invalidFieldInParameterList)) {
            try pr.execute(req(.preempt, .writeExclusive), p(1, 0), from: a)
        }
        #expect(throws: ReservationError.conflict) { try pr.execute(req(.preempt, .writeExclusive), p(1, 7), from: a) }
        _ = try pr.execute(req(.preempt, .writeExclusive), p(1, 2), from: a)
        #expect(pr.registrations.count == 1)
        #expect(pr.reservation == nil)
    }

    @Test func clearRemovesEverythingAndNotifies() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 1), from: a)
        _ = try pr.execute(req(.register), p(0, 2), from: b)
        _ = try pr.execute(req(.reserve, .writeExclusiveRegistrantsOnly), p(2), from: b)
        let uas = try pr.execute(req(.clear), p(1), from: a)
        #expect(pr.registrations.isEmpty && pr.reservation == nil)
        #expect(uas.map(\.nexus) == [b] && uas.map(\.reason) == [.reservationsPreempted])
    }

    @Test func allRegistrantsReservationSurvivesCreatorUnregistering() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 1), from: a)
        _ = try pr.execute(req(.register), p(0, 2), from: b)
        _ = try pr.execute(req(.reserve, .exclusiveAccessAllRegistrants), p(1), from: a)
        _ = try pr.execute(req(.register), p(1, 0), from: a)
        #expect(pr.reservation != nil)
        #expect(pr.isHolder(b))
        #expect(Array(pr.readReservation()[8..<16]) == [0, 0, 0, 0, 0, 0, 0, 0])
        _ = try pr.execute(req(.register), p(2, 0), from: b)
        #expect(pr.reservation == nil)
    }

    @Test func releaseOfRegistrantsOnlyNotifiesOthers() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 1), from: a)
        _ = try pr.execute(req(.register), p(0, 2), from: b)
        _ = try pr.execute(req(.reserve, .writeExclusiveRegistrantsOnly), p(1), from: a)
        let uas = try pr.execute(req(.release, .writeExclusiveRegistrantsOnly), p(1), from: a)
        #expect(uas.map(\.reason) == [.reservationsReleased])
    }

    @Test func legacyReserveRules() throws {
        var pr = PersistentReservations()
        try pr.reserveLegacy(a)
        try pr.reserveLegacy(a)
        #expect(throws: ReservationError.conflict) { try pr.reserveLegacy(b) }
        #expect(pr.conflicts(b, access: .basic))
        #expect(pr.conflicts(b, access: .persistentReservation))
        #expect(!pr.conflicts(b, access: .unrestricted))
        pr.releaseLegacy(b)  // not the holder: no effect
        #expect(pr.legacyHolder == a)
        pr.nexusLost(a)
        #expect(pr.legacyHolder == nil)
        // SPC-4 §5.12.3: RESERVE with registrations present conflicts.
        _ = try pr.execute(req(.register), p(0, 1), from: b)
        #expect(throws: ReservationError.conflict) { try pr.reserveLegacy(a) }
    }

    @Test func readKeysAndCapabilities() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 0x0102030405060708), from: a)
        #expect(pr.readKeys() == [0, 0, 0, 1, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])
        let caps = pr.reportCapabilities()
        #expect(caps.count == 8 && caps[1] == 8)
        #expect(caps[4] == 0xEA && caps[5] == 0x01)
    }

    @Test func fullStatusCarriesTransportID() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 9), from: a)
        _ = try pr.execute(req(.reserve, .writeExclusive), p(9), from: a)
        let data = pr.readFullStatus()
        #expect(data[8 + 12] == 0x01)   // R_HOLDER
        #expect(data[8 + 13] == 0x01)   // TYPE WE
        #expect(data[8 + 24] == 0x45)   // iSCSI TransportID, format 01b
        let idLength = Int(data[8 + 26]) << 8 | Int(data[8 + 27])
        #expect(idLength % 4 == 0 && idLength > a.initiatorPort.utf8.count)
    }

    @Test func aptplRoundTrip() throws {
        var pr = PersistentReservations()
        _ = try pr.execute(req(.register), p(0, 0xABC, aptpl: true), from: a)
        _ = try pr.execute(req(.register), p(0, 0xDEF, aptpl: true), from: b)
        _ = try pr.execute(req(.reserve, .exclusiveAccessRegistrantsOnly), p(0xABC), from: a)
        let restored = try PersistentReservations.decode(pr.encoded())
        #expect(restored == pr)
    }

    @Test(arguments: ["", "garbage", "iscsi-target-pr 1\nregistration zz a b 1\n",
                      "iscsi-target-pr 1\nreservation 1 a b 1\n", "iscsi-target-pr 1\nregistration 1 a b 99999\n",
                      "iscsi-target-pr 1\nregistration 1 a b 1\nregistration 2 a b 1\n"])
    func corruptDocumentsAreRefused(_ text: String) {
        #expect(throws: PersistentReservations.DecodeError.self) { try PersistentReservations.decode(text) }
    }

    @Test func parameterListParsing() throws {
        var bytes = [UInt8](repeating: 0, count: 24)
        bytes[7] = 1; bytes[15] = 2; bytes[20] = 0x01
        let params = try PROutParameters.parse(bytes, for: req(.register))
        #expect(params == PROutParameters(reservationKey: 1, serviceActionKey: 2, persistThroughPowerLoss: true))
        bytes[20] = 0x04  // ALL_TG_PT without ATP_C
        #expect(throws: SenseReason.invalidFieldInParameterList) { try PROutParameters.parse(bytes, for: req(.register)) }
        #expect(throws: SenseReason.parameterListLengthError) { try PROutParameters.parse([0], for: req(.register)) }
    }
}
