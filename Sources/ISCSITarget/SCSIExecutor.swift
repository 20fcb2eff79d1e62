import BlockStore
import Glibc
import ISCSIWire
import LinuxIO
import SCSICommands

/// The I_T nexus a command arrives on (SAM-5 §4.6): used for reservations and unit attentions.
public struct NexusID: Hashable, Sendable, CustomStringConvertible {
    /// Initiator port name: InitiatorName (lowercased, RFC 3722 names compare case-insensitively).
    public let initiatorName: String
    public let isid: UInt64
    /// Target port: target name (lowercased) + TPGT.
    public let targetName: String
    public let portalGroupTag: UInt16
    /// The reservation-rule view (SPC-4 §5.12.1), built once: the per-command unit attention and reservation
    /// checks key on it, and building its strings per command cost ~5 % of the 4K I/O path.
    public let reservationNexus: ReservationNexus

    public init(initiatorName: String, isid: UInt64, targetName: String, portalGroupTag: UInt16) {
        self.initiatorName = initiatorName.lowercased()
        self.isid = isid
        self.targetName = targetName.lowercased()
        self.portalGroupTag = portalGroupTag
        let hex = String(isid, radix: 16)
        let port = "\(self.initiatorName),i,0x" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        let tpgt = String(portalGroupTag, radix: 16)
        self.reservationNexus = ReservationNexus(
            initiatorPort: port,
            targetPort: self.targetName + ",t,0x" + String(repeating: "0", count: max(0, 4 - tpgt.count)) + tpgt,
            relativeTargetPortID: portalGroupTag)
    }

    /// iSCSI initiator port TransportID text (SPC-4 §7.6.4.6): `name,i,0xISID`.
    public var initiatorPortName: String { reservationNexus.initiatorPort }

    public var description: String { initiatorPortName }

    public static func == (a: NexusID, b: NexusID) -> Bool {
        a.isid == b.isid && a.portalGroupTag == b.portalGroupTag && a.initiatorName == b.initiatorName
            && a.targetName == b.targetName
    }

    public func hash(into h: inout Hasher) {
        h.combine(initiatorName)
        h.combine(isid)
        h.combine(targetName)
        h.combine(portalGroupTag)
    }
}

/// Receives the outcome of a command (the transport). Called once per command, on the loop thread.
protocol SCSICompletionSink: AnyObject {
    func scsiCommandCompleted(_ task: SCSITask, _ outcome: SCSIOutcome)
}

/// What the transport needs to finish a command.
enum SCSIOutcome {
    /// GOOD. `dataIn` is the data-in payload (reads, emulated commands); `impliedLength` is how many bytes the
    /// CDB asked to move (for residuals, RFC 7143 §11.4.5).
    case good(dataIn: DataInPayload?, impliedLength: Int)
    case checkCondition(SenseReason)
    /// A status without sense (RESERVATION CONFLICT, BUSY, TASK SET FULL, ...).
    case status(SCSIStatus)
}

/// Data-in bytes that live in memory owned by `owner` until sent.
struct DataInPayload {
    var bytes: UnsafeRawBufferPointer
    var owner: AnyObject
}

/// What the executor needs from the transport about the session. One per connection (built at login and again
/// after a reload changes the target), shared by its commands: a reference, so the per-command path copies
/// no strings, arrays or dictionaries.
final class ExecutionContext {
    let nexus: NexusID
    let lunList: [UInt16]
    /// Sense to report for REQUEST SENSE (and then clear); set by the connection before each command and read
    /// synchronously by the emulation.
    var pendingSense: SenseReason?
    /// The target's logical units by LUN: the copy targets EXTENDED COPY can reach besides the addressed unit.
    let units: [UInt16: LogicalUnit]

    init(nexus: NexusID, lunList: [UInt16], pendingSense: SenseReason? = nil, units: [UInt16: LogicalUnit] = [:]) {
        self.nexus = nexus
        self.lunList = lunList
        self.pendingSense = pendingSense
        self.units = units
    }
}

/// The SCSI target core for one event loop: executes parsed commands against logical units
/// (SBC-3 / SPC-4). Transport-independent: the iSCSI connection hands it a task and gets an outcome.
/// Completions run on the loop; they may also run synchronously for emulated commands.
final class SCSIExecutor {
    let engine: IOEngine
    let pool: IOBufferPool

    init(engine: IOEngine, pool: IOBufferPool) {
        self.engine = engine
        self.pool = pool
    }

    /// Runs `task` and reports its outcome to `sink` (on the loop thread; synchronously for emulated commands).
    /// READ and WRITE — the data path — use one closure per command (the I/O engine's, capturing the sink);
    /// the other commands go through ``dispatch(_:_:unit:context:completion:)`` with a completion closure.
    func execute<Sink: SCSICompletionSink>(_ task: SCSITask, parsed: ParsedCommand, context: ExecutionContext, sink: Sink) {
        guard let unit = task.unit else {
            let completion: (SCSIOutcome) -> Void = { sink.scsiCommandCompleted(task, $0) }
            // No LU behind this LUN: only INQUIRY / REPORT LUNS / REQUEST SENSE parse (SPC-4 §4.x).
            if case .emulated(let e) = parsed.command {
                completion(emulate(task, e, unit: nil, context: context))
            } else {
                completion(.checkCondition(.logicalUnitNotSupported))
            }
            return
        }
        let bs = Int(unit.info.blockSize)
        let opcode = task.pdu.cdb.first.flatMap(SCSIOpcode.init(rawValue:))
        // SAM-5 §5.14: a pending unit attention fails the command (and is cleared), except for INQUIRY,
        // REPORT LUNS and REQUEST SENSE.
        if let opcode, !opcode.isUnitAttentionExempt, unit.state.mayHaveUnitAttention,
           let ua = unit.state.takeUnitAttention(for: context.nexus) {
            sink.scsiCommandCompleted(task, .checkCondition(ua))
            return
        }
        unit.state.preparePersistence(identity: unit.persistenceIdentity)
        // SPC-4 §5.12.2 / SPC-2 §5.5.1: commands a reservation of another nexus excludes → RESERVATION CONFLICT.
        if let opcode, unit.state.mayHaveReservation,
           unit.state.reservationConflict(context.nexus, access: opcode.reservationAccess) {
            sink.scsiCommandCompleted(task, .status(.reservationConflict))
            return
        }
        switch parsed.command {
        case .read(let lba, let blocks, _):
            let bytes = Int(blocks) * bs
            if bytes == 0 { sink.scsiCommandCompleted(task, .good(dataIn: nil, impliedLength: 0)); return }
            let buffer = pool.take(capacity: bytes)
            task.buffer = buffer
            let request = IORequest(op: .read, offset: lba * UInt64(bs), length: bytes, buffer: buffer.pointer, fua: false)
            // SBC-4 §4.29.3: a read sees an overlapping WRITE ATOMIC entirely or not at all. The common case
            // (no atomic support, or no atomic write active) is one closure, no lock.
            if !unit.hasAtomicWrites {
                engine.submit(request, on: unit.device) { sink.scsiCommandCompleted(task, Self.readOutcome($0, buffer, bytes, task)) }
            } else if unit.state.atomicWriteGate.beginShared() {
                let gate = unit.state.atomicWriteGate
                engine.submit(request, on: unit.device) { result in
                    gate.endShared()
                    sink.scsiCommandCompleted(task, Self.readOutcome(result, buffer, bytes, task))
                }
            } else {
                withRangeLock(unit, lba: lba, blocks: UInt64(blocks)) { [engine] unlock in
                    engine.submit(request, on: unit.device) { result in
                        unlock()
                        sink.scsiCommandCompleted(task, Self.readOutcome(result, buffer, bytes, task))
                    }
                }
            }
        case .write(let lba, let blocks, let fua):
            let bytes = Int(blocks) * bs
            if bytes == 0 { sink.scsiCommandCompleted(task, .good(dataIn: nil, impliedLength: 0)); return }
            // Overflow (EDTL shorter than the CDB): write the whole blocks that arrived; less than one
            // block → nothing to write, GOOD with the overflow residual (RFC 7143 §11.4.5.2; libiscsi
            // iSCSIResiduals).
            let usable = (task.dataOutLength / bs) * bs
            if usable == 0 { sink.scsiCommandCompleted(task, .good(dataIn: nil, impliedLength: bytes)); return }
            guard let buffer = task.buffer else { sink.scsiCommandCompleted(task, .checkCondition(.internalTargetFailure)); return }
            // SBC-3 §5.x FUA and IOMode=wt: GOOD only once the data is on stable storage.
            let stable = fua || unit.writeThrough
            let request = IORequest(op: .write, offset: lba * UInt64(bs), length: usable, buffer: buffer.pointer, fua: stable)
            // SBC-3 §5.3: writes are serialised against COMPARE AND WRITE / ORWRITE / WRITE ATOMIC of the same
            // blocks — without a lock while none of those is active (`ExclusionGate`), else by the range lock.
            let gate = unit.state.plainWriteGate
            // A write of part of a device block (read-modify-write in the page cache) is exclusive over the whole
            // device blocks it touches (withRangeLock(write:)); the check is one compare on ordinary units.
            let partial = unit.alignmentBlocks > 1 && unit.widenedToAlignment(lba: lba, blocks: UInt64(usable / bs)) != nil
            if !partial, gate.beginShared() {
                engine.submit(request, on: unit.device) { result in
                    gate.endShared()
                    sink.scsiCommandCompleted(task, Self.writeOutcome(result, bytes))
                }
            } else {
                withRangeLock(unit, lba: lba, blocks: UInt64(blocks), excludingUnlockedWrites: partial, write: partial,
                              failed: { sink.scsiCommandCompleted(task, $0) }) { [engine] unlock in
                    engine.submit(request, on: unit.device) { result in
                        unlock()
                        sink.scsiCommandCompleted(task, Self.writeOutcome(result, bytes))
                    }
                }
            }
        default:
            dispatch(task, parsed.command, unit: unit, context: context) { sink.scsiCommandCompleted(task, $0) }
        }
    }

    /// Every command but READ and WRITE (see ``execute(_:parsed:context:sink:)``), after the unit attention and
    /// reservation checks.
    private func dispatch(_ task: SCSITask, _ command: SCSICommand, unit: LogicalUnit, context: ExecutionContext,
                          completion: @escaping (SCSIOutcome) -> Void) {
        let bs = Int(unit.info.blockSize)
        switch command {
        case .read, .write:
            // Handled by `execute` itself; not routed here.
            completion(.checkCondition(.internalTargetFailure))
        case .verify(let lba, let blocks, let byteCheck):
            let bytes = Int(blocks) * bs
            if bytes == 0 { completion(.good(dataIn: nil, impliedLength: 0)); return }
            let readBuffer = pool.take(capacity: bytes)
            let pool = self.pool
            // SBC-4 §4.29.3: VERIFY reads the medium like a READ (see `isolatedRead`).
            isolatedRead(unit, lba: lba, blocks: UInt64(blocks)) { [engine] done in
            engine.submit(IORequest(op: .read, offset: lba * UInt64(bs), length: bytes, buffer: readBuffer.pointer, fua: false), on: unit.device) { result in
                done()
                defer { pool.give(readBuffer) }
                switch result {
                case .failure(let e):
                    completion(.checkCondition(SCSIExecutor.senseFor(e, write: false)))
                case .success:
                    if byteCheck, let data = task.buffer {
                        let n = min(bytes, task.dataOutLength)
                        if let diff = SCSIExecutor.firstDifference(data.pointer, readBuffer.pointer, n) {
                            // SBC-3 §5.x VERIFY BYTCHK=1: MISCOMPARE, offset in INFORMATION.
                            completion(.checkCondition(.miscompare(offset: UInt32(diff))))
                            return
                        }
                    }
                    completion(.good(dataIn: nil, impliedLength: byteCheck ? bytes : 0))
                }
            }
            }
        case .synchronizeCache:
            // SBC-3 §5.22: everything written so far reaches stable storage (fdatasync / IOCB_CMD_FDSYNC).
            engine.submit(IORequest(op: .flush, offset: 0, length: 0, buffer: nil, fua: false), on: unit.device) { result in
                switch result {
                case .success: completion(.good(dataIn: nil, impliedLength: 0))
                case .failure(let e): completion(.checkCondition(SCSIExecutor.senseFor(e, write: true)))
                }
            }
        case .emulated(let e):
            completion(emulate(task, e, unit: unit, context: context))
        case .writeSame(let lba, let blocks, let unmap, let noDataOut):
            writeSame(task, unit: unit, lba: lba, blocks: blocks, unmap: unmap, noDataOut: noDataOut, completion: completion)
        case .unmap(let length):
            unmapCommand(task, unit: unit, parameterListLength: Int(length), completion: completion)
        case .getLBAStatus(let lba, let allocation):
            completion(getLBAStatus(unit: unit, lba: lba, allocationLength: allocation))
        case .compareAndWrite(let lba, let blocks, let fua):
            compareAndWrite(task, unit: unit, lba: lba, blocks: blocks, fua: fua, completion: completion)
        case .orWrite(let lba, let blocks, let fua):
            orWrite(task, unit: unit, lba: lba, blocks: blocks, fua: fua, completion: completion)
        case .writeAtomic(let lba, let blocks, let fua):
            writeAtomic(task, unit: unit, lba: lba, blocks: blocks, fua: fua, completion: completion)
        case .prefetch:
            // SBC-3 §5.10: PRE-FETCH is a hint; the page cache / device decides. The range was checked.
            completion(.good(dataIn: nil, impliedLength: 0))
        case .reserve:
            completion(reserveLegacy(unit: unit, context: context))
        case .release:
            completion(releaseLegacy(unit: unit, context: context))
        case .persistentReserveIn(let action, let allocation):
            completion(persistentReserveIn(unit: unit, action: action, allocationLength: allocation))
        case .persistentReserveOut(let request):
            completion(persistentReserveOut(task, unit: unit, request: request, context: context))
        case .extendedCopy(let length):
            extendedCopy(task, unit: unit, parameterListLength: Int(length), context: context, completion: completion)
        case .receiveCopyResults(let request):
            completion(receiveCopyResults(unit: unit, request: request, context: context))
        }
    }

    /// READ's outcome: the blocks read into `buffer` (kept alive by `task`) or the sense for the error.
    static func readOutcome(_ result: Result<Int, SystemError>, _ buffer: IOBuffer, _ bytes: Int, _ task: SCSITask) -> SCSIOutcome {
        switch result {
        case .success:
            .good(dataIn: DataInPayload(bytes: UnsafeRawBufferPointer(start: buffer.pointer, count: bytes), owner: task),
                  impliedLength: bytes)
        case .failure(let e): .checkCondition(SCSIExecutor.senseFor(e, write: false))
        }
    }

    /// WRITE's outcome: GOOD (the CDB's `bytes` for the residual) or the sense for the error.
    static func writeOutcome(_ result: Result<Int, SystemError>, _ bytes: Int) -> SCSIOutcome {
        switch result {
        case .success: .good(dataIn: nil, impliedLength: bytes)
        case .failure(let e): .checkCondition(SCSIExecutor.senseFor(e, write: true))
        }
    }

    /// Data-in bytes built in memory (emulated commands), cut to `allocation` (SPC-4 §4.2.5.6).
    func dataIn(_ data: [UInt8], allocation: Int) -> SCSIOutcome {
        let owned = OwnedBytes(Array(data.prefix(allocation)))
        return .good(dataIn: DataInPayload(bytes: owned.bytes, owner: owned), impliedLength: owned.count)
    }

    private func emulate(_ task: SCSITask, _ e: EmulatedCommand, unit: LogicalUnit?, context: ExecutionContext) -> SCSIOutcome {
        let emulation = EmulationContext(lunList: context.lunList, senseFormat: .fixed, pendingSense: context.pendingSense)
        do {
            let data = try Emulator.execute(e, unit: unit?.scsiInfo, context: emulation)
            let allocation = Int(task.parsed?.transferLength ?? UInt32(data.count))
            let owned = OwnedBytes(Array(data.prefix(allocation)))
            // SPC-4 §4.2.5.6: the device returns min(allocation length, available) bytes; residuals are
            // computed against what was actually produced.
            return .good(dataIn: DataInPayload(bytes: owned.bytes, owner: owned), impliedLength: owned.count)
        } catch {
            return .checkCondition(error)
        }
    }

    /// Backing-store errno → sense (SBC-3 §4.x): ENOSPC/EDQUOT → SPACE ALLOCATION FAILED WRITE PROTECT,
    /// EROFS → WRITE PROTECTED, anything else → WRITE ERROR / UNRECOVERED READ ERROR.
    static func senseFor(_ e: SystemError, write: Bool) -> SenseReason {
        switch e.errno {
        case ENOSPC, EDQUOT: return .spaceAllocationFailed
        case EROFS: return .writeProtected
        default: return write ? .writeError : .unrecoveredReadError
        }
    }

    static func firstDifference(_ a: UnsafeMutableRawPointer, _ b: UnsafeMutableRawPointer, _ n: Int) -> Int? {
        if memcmp(a, b, n) == 0 { return nil }
        let pa = a.assumingMemoryBound(to: UInt8.self)
        let pb = b.assumingMemoryBound(to: UInt8.self)
        for i in 0..<n where pa[i] != pb[i] { return i }
        return nil
    }
}
