import Glibc
import Logging
import SCSICommands
import Synchronization

/// State of one logical unit shared by every I_T nexus (all event loops): unit attentions per nexus
/// (SAM-5 §5.14), reservations (SPC-2 RESERVE/RELEASE, SPC-4 persistent reservations with APTPL) and the
/// LBA range locks that make COMPARE AND WRITE / ORWRITE atomic against other writers.
/// Protected by a mutex; every operation is short. The only I/O under the lock is the small APTPL state
/// file (read once on first use, written on PERSISTENT RESERVE OUT while APTPL is active).
public final class LogicalUnitState: Sendable {
    /// A queued range-lock request: runs (on its own loop — the closure hops there) once granted.
    private struct RangeWaiter {
        var lba: UInt64
        var end: UInt64
        var token: UInt64
        var grant: @Sendable () -> Void
    }

    private struct State {
        var unitAttentions: [ReservationNexus: [SenseReason]] = [:]
        var reservations = PersistentReservations()
        /// APTPL file; nil until `preparePersistence` ran (or when no directory is configured).
        var persistenceFile: String?
        var persistencePrepared = false
        var lockedRanges: [UInt64: (lba: UInt64, end: UInt64)] = [:]
        var waiters: [RangeWaiter] = []
        var nextToken: UInt64 = 1
    }
    private let state = Mutex(State())
    /// Lock-free hints for the two checks every command makes (unit attention, reservation conflict) and
    /// for `preparePersistence`: written under `state`'s lock after every change (`publish`), read without it.
    /// A command racing a change on another loop sees it on its next command — as if it had arrived first.
    private let attentionsPending = Atomic<Bool>(false)
    private let reservationHeld = Atomic<Bool>(false)
    private let persistencePrepared = Atomic<Bool>(false)
    /// Keeps unlocked reads away from an in-progress WRITE ATOMIC (SCSIExecutor+Atomic.swift, SBC-4 §4.29.3).
    let atomicWriteGate = ExclusionGate()
    /// Keeps unlocked plain WRITEs away from COMPARE AND WRITE / ORWRITE / WRITE ATOMIC (SBC-3 §5.3).
    let plainWriteGate = ExclusionGate()

    public init() {}

    // MARK: - Persistence directory (APTPL, SPC-4 §5.12.5)

    private static let directory = Mutex<String?>(LogicalUnitState.environmentDirectory())

    /// `ISCSI_TARGETD_PR_DIR`, the default persistence directory.
    private static func environmentDirectory() -> String? {
        guard let raw = getenv("ISCSI_TARGETD_PR_DIR") else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }

    /// Where APTPL state files live (one per logical unit: `pr-<identity>.state`). Set by the daemon to
    /// the configuration directory before the first command; nil disables persistence (APTPL is then still
    /// accepted and reported, but the state does not survive a restart).
    public static var persistenceDirectory: String? {
        get { directory.withLock { $0 } }
        set { directory.withLock { $0 = newValue } }
    }

    /// Binds this unit to its state file and restores a saved APTPL state, once. `identity` must be stable
    /// and unique per logical unit (the executor passes the IET ScsiId in hex plus the LUN).
    func preparePersistence(identity: @autoclosure () -> String) {
        if persistencePrepared.load(ordering: .acquiring) { return }
        state.withLock { s in
            defer { publish(s) }
            guard !s.persistencePrepared else { return }
            s.persistencePrepared = true
            guard let dir = Self.persistenceDirectory else { return }
            let safe = identity().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
            let file = dir + "/pr-" + String(safe) + ".state"
            s.persistenceFile = file
            guard let text = Self.readSmallFile(file) else { return }
            do throws(PersistentReservations.DecodeError) {
                s.reservations = try PersistentReservations.decode(text)
                Self.logInfo("persistent reservations restored file=\(file) registrations=\(s.reservations.registrations.count)")
            } catch {
                Self.logInfo("persistent reservations file ignored file=\(file) line=\(error.line) reason=\(error.reason)")
            }
        }
    }

    /// Refreshes the lock-free hints from `s`; call with `state`'s lock held, after a change.
    private func publish(_ s: State) {
        attentionsPending.store(!s.unitAttentions.isEmpty, ordering: .releasing)
        // PersistentReservations.conflicts: no SPC-2 holder and no persistent reservation → no conflict.
        reservationHeld.store(s.reservations.legacyHolder != nil || s.reservations.reservation != nil,
                              ordering: .releasing)
        persistencePrepared.store(s.persistencePrepared, ordering: .releasing)
    }

    // MARK: - Unit attentions

    /// Queues a unit attention for every nexus in `nexuses` except `except`.
    public func establishUnitAttention(_ reason: SenseReason, for nexuses: [NexusID], except: NexusID?) {
        let skip = except?.reservationNexus
        state.withLock { s in
            defer { publish(s) }
            for n in Set(nexuses.map(\.reservationNexus)) where n != skip {
                // Bounded: the same condition is never queued twice for a nexus.
                if s.unitAttentions[n]?.contains(reason) == true { continue }
                s.unitAttentions[n, default: []].append(reason)
            }
        }
    }

    /// Some unit attention is queued (for some nexus): the per-command check before ``takeUnitAttention(for:)``,
    /// which the caller skips otherwise — building its argument copies the nexus' strings.
    var mayHaveUnitAttention: Bool { attentionsPending.load(ordering: .acquiring) }
    /// A reservation (SPC-2 or persistent) is held: the per-command check before ``reservationConflict(_:access:)``.
    var mayHaveReservation: Bool { reservationHeld.load(ordering: .acquiring) }

    /// Takes the oldest pending unit attention for `nexus`, if any.
    public func takeUnitAttention(for nexus: NexusID) -> SenseReason? {
        guard attentionsPending.load(ordering: .acquiring) else { return nil }
        let key = nexus.reservationNexus
        return state.withLock { s in
            defer { publish(s) }
            guard var list = s.unitAttentions[key], !list.isEmpty else { return nil }
            let first = list.removeFirst()
            s.unitAttentions[key] = list.isEmpty ? nil : list
            return first
        }
    }

    /// SAM-5 §6.3.3 LOGICAL UNIT RESET (also TARGET WARM/COLD RESET): the SPC-2 reservation is released
    /// (persistent reservations survive) and every I_T nexus — the one that asked included — gets BUS DEVICE
    /// RESET FUNCTION OCCURRED (libiscsi MultipathIO.Reset checks each path).
    public func logicalUnitReset(by nexus: NexusID, knownNexuses: [NexusID]) {
        state.withLock { s in
            s.reservations.resetLegacy()
            publish(s)
        }
        let all = knownNexuses.contains(nexus) ? knownNexuses : knownNexuses + [nexus]
        establishUnitAttention(.busDeviceResetFunctionOccurred, for: all, except: nil)
    }

    /// The I_T nexus went away (session closed or reinstated): drop its pending unit attentions and its
    /// SPC-2 reservation (SPC-2 §5.5.1). Persistent registrations stay (SPC-4 §5.12.1).
    public func nexusLost(_ nexus: NexusID) {
        let key = nexus.reservationNexus
        state.withLock { s in
            defer { publish(s) }
            s.unitAttentions[key] = nil
            s.reservations.nexusLost(key)
        }
    }

    // MARK: - Reservations

    /// SPC-4 §5.12.2: true when a command of class `access` from `nexus` ends in RESERVATION CONFLICT.
    func reservationConflict(_ nexus: NexusID, access: ReservationAccess) -> Bool {
        guard reservationHeld.load(ordering: .acquiring) else { return false }
        let key = nexus.reservationNexus
        return state.withLock { s in s.reservations.conflicts(key, access: access) }
    }

    /// Runs `body` on the reservation state; unit attentions it returns are queued, and an APTPL state is
    /// written out when it changed.
    func withReservations<R>(
        _ body: (inout PersistentReservations) throws(ReservationError) -> (R, PersistentReservations.UnitAttentions)
    ) throws(ReservationError) -> R {
        try state.withLock { s throws(ReservationError) -> R in
            defer { publish(s) }
            let before = s.reservations
            let (result, attentions) = try body(&s.reservations)
            for (n, reason) in attentions { s.unitAttentions[n, default: []].append(reason) }
            if s.reservations != before, let file = s.persistenceFile,
               s.reservations.persistThroughPowerLoss || before.persistThroughPowerLoss {
                Self.persist(s.reservations, to: file)
            }
            return result
        }
    }

    /// `withReservations` for changes that cannot fail and raise no unit attention.
    func withReservationsNoThrow(_ body: (inout PersistentReservations) -> Void) {
        state.withLock { s in
            defer { publish(s) }
            let before = s.reservations
            body(&s.reservations)
            if s.reservations != before, let file = s.persistenceFile, s.reservations.persistThroughPowerLoss {
                Self.persist(s.reservations, to: file)
            }
        }
    }

    /// Read-only access to the reservation state.
    func readReservations<R>(_ body: (PersistentReservations) -> R) -> R {
        state.withLock { s in body(s.reservations) }
    }

    // MARK: - Range locks (COMPARE AND WRITE atomicity, SBC-3 §5.3)

    /// Locks blocks [lba, lba + blocks) exclusively. Returns the token at once when the range is free;
    /// otherwise queues `grant`, which is called (from the releasing thread — it must hop to its loop) once
    /// the range is free, and returns nil. Waiters are granted in arrival order among overlapping requests.
    func lockRange(lba: UInt64, blocks: UInt64, grant: @escaping @Sendable (UInt64) -> Void) -> UInt64? {
        let (end, overflow) = lba.addingReportingOverflow(max(blocks, 1))
        let last = overflow ? UInt64.max : end
        return state.withLock { s -> UInt64? in
            let token = s.nextToken
            s.nextToken &+= 1
            let busy = s.lockedRanges.values.contains { $0.lba < last && lba < $0.end }
                || s.waiters.contains { $0.lba < last && lba < $0.end }
            if !busy {
                s.lockedRanges[token] = (lba, last)
                return token
            }
            s.waiters.append(RangeWaiter(lba: lba, end: last, token: token, grant: { grant(token) }))
            return nil
        }
    }

    /// Releases a range lock and grants the waiters that now fit.
    func unlockRange(_ token: UInt64) {
        let granted: [@Sendable () -> Void] = state.withLock { s in
            s.lockedRanges[token] = nil
            var run: [@Sendable () -> Void] = []
            var kept: [RangeWaiter] = []
            for w in s.waiters {
                let blocked = s.lockedRanges.values.contains { $0.lba < w.end && w.lba < $0.end }
                    || kept.contains { $0.lba < w.end && w.lba < $0.end }
                if blocked {
                    kept.append(w)
                } else {
                    s.lockedRanges[w.token] = (w.lba, w.end)
                    run.append(w.grant)
                }
            }
            s.waiters = kept
            return run
        }
        for g in granted { g() }
    }

    // MARK: - File helpers (APTPL)

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        // Bounded: a full state (256 registrations) is far below 256 KiB.
        let limit = 256 << 10
        var bytes = [UInt8](repeating: 0, count: limit)
        var total = 0
        while total < limit {
            let n = bytes.withUnsafeMutableBytes { buf -> Int in
                guard let base = buf.baseAddress else { return 0 }
                return read(fd, base + total, limit - total)
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += n
        }
        return String(decoding: bytes[0..<total], as: UTF8.self)
    }

    /// SPC-4 §5.12.5: APTPL state must survive power loss — write a temp file, fsync, rename over the old one.
    private static func persist(_ pr: PersistentReservations, to path: String) {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            logInfo("persistent reservations not saved file=\(path) errno=\(errno)")
            return
        }
        let text = pr.persistThroughPowerLoss ? pr.encoded() : PersistentReservations().encoded()
        var ok = Array(text.utf8).withUnsafeBytes { buf -> Bool in
            guard let base = buf.baseAddress else { return true }
            var done = 0
            while done < buf.count {
                let n = write(fd, base + done, buf.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        _ = close(fd)
        if ok && rename(tmp, path) == 0 { return }
        logInfo("persistent reservations not saved file=\(path) errno=\(errno)")
        _ = unlink(tmp)
    }

    private static let logger = Logger(label: "iscsi-targetd.reservations")

    private static func logInfo(_ line: String) {
        logger.notice("\(line)")
    }
}
