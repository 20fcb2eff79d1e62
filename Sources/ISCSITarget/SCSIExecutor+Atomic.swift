import BlockStore
import ISCSIWire
import LinuxIO
import Logging
import SCSICommands
import Synchronization

/// A Dekker handshake between commands that run without the LU range lock ("shared": plain reads, plain
/// writes) and the few that must see no such command overlap them ("exclusive"). One gate per purpose per
/// logical unit, shared by all loops (see `LogicalUnitState`):
///
/// - reads vs WRITE ATOMIC(16) (SBC-4 §4.29.3: a command that overlaps an atomic write sees it entirely or
///   not at all) — a buffered read could otherwise copy a block while the atomic write is half-way through;
/// - plain WRITEs vs COMPARE AND WRITE, ORWRITE and WRITE ATOMIC (SBC-3 §5.3: nothing may write the blocks
///   between their read and their write / their single write) — so a plain WRITE takes no lock at all while
///   none of those is active, which keeps a mutex, a dictionary and four closures off the 4K write path.
///
/// A shared command counts itself, then checks for exclusive ones; an exclusive command counts itself, takes its
/// range lock, then waits until the counted shared commands are gone. With sequentially consistent operations
/// at least one side sees the other, so a shared command either finished before the exclusive one starts, or
/// takes the range lock (and so runs entirely before or after it).
final class ExclusionGate: Sendable {
    /// Exclusive commands from before their drain wait to their completion.
    private let exclusive = Atomic<Int>(0)
    /// Shared commands in flight without the range lock.
    private let shared = Atomic<Int>(0)

    init() {}

    /// Registers a command that runs without the range lock. False while an exclusive command is active: the
    /// command must then be serialised (range lock) instead, and must not call ``endShared()``.
    func beginShared() -> Bool {
        shared.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if exclusive.load(ordering: .sequentiallyConsistent) == 0 { return true }
        shared.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return false
    }

    func endShared() { shared.wrappingSubtract(1, ordering: .sequentiallyConsistent) }

    func beginExclusive() { exclusive.wrappingAdd(1, ordering: .sequentiallyConsistent) }

    func endExclusive() { exclusive.wrappingSubtract(1, ordering: .sequentiallyConsistent) }

    /// True once no shared command registered before ``beginExclusive()`` is still running.
    var sharedDrained: Bool { shared.load(ordering: .sequentiallyConsistent) == 0 }
}

extension LogicalUnit {
    /// SBC-4 §6.6.4 MAXIMUM ATOMIC TRANSFER LENGTH = ATOMIC ALIGNMENT = ATOMIC TRANSFER LENGTH GRANULARITY for a unit
    /// of `blockSize`-byte blocks on `device`: 1 block when a logical block lies within one unit the backing store
    /// writes all-or-nothing across power loss (``BackingDevice/powerFailAtomicBytes``, a multiple of the block
    /// size, so aligned blocks never straddle two units); otherwise 0 = WRITE ATOMIC not supported.
    public static func atomicWriteBlocks(blockSize: UInt32, device: BackingDevice) -> UInt32 {
        let unit = device.powerFailAtomicBytes
        return blockSize != 0 && blockSize <= unit && unit % blockSize == 0 ? 1 : 0
    }

    /// True when reads must register with the atomic write gate: the unit accepts WRITE ATOMIC.
    var hasAtomicWrites: Bool { info.maximumAtomicTransferBlocks != 0 && !info.readOnly }
}

extension SCSIExecutor {
    /// Polling interval while an atomic write waits for unlocked reads to finish, and the bound on the wait.
    private static let drainPollNanoseconds: UInt64 = 50_000
    private static let drainPollLimit = 600_000  // × 50 µs = 30 s

    /// WRITE ATOMIC(16) (SBC-4 §5.48): the blocks are written by one request while the range lock excludes every
    /// other writer and the gate excludes unlocked readers; the parser allowed only lengths that the backing store
    /// writes all-or-nothing across power loss. FUA / IOMode=wt: GOOD only once the data is on stable storage.
    func writeAtomic(_ task: SCSITask, unit: LogicalUnit, lba: UInt64, blocks: UInt32, fua: Bool,
                     completion: @escaping (SCSIOutcome) -> Void) {
        let bs = Int(unit.info.blockSize)
        let bytes = Int(blocks) * bs
        // SBC-4 §5.48.2: TRANSFER LENGTH 0 → nothing is written; not an error.
        if bytes == 0 { completion(.good(dataIn: nil, impliedLength: 0)); return }
        // SBC-4 §4.29.1: all or nothing — a Data-Out shorter or longer than the CDB's blocks is refused before
        // anything is written (as COMPARE AND WRITE does), never written in part.
        guard Int(task.pdu.expectedDataTransferLength) == bytes, task.dataOutLength == bytes, let data = task.buffer else {
            completion(.checkCondition(.invalidFieldInCDB))
            return
        }
        let stable = fua || unit.writeThrough
        let gate = unit.state.atomicWriteGate
        withRangeLock(unit, lba: lba, blocks: UInt64(blocks), excludingUnlockedWrites: true, write: true, failed: completion) { [self] unlock in
            // Counted only once the range lock is held (never before: a read that waits for atomic writers while
            // holding a range lock — EXTENDED COPY — must not wait for a writer that waits for that lock).
            gate.beginExclusive()
            let finish: (SCSIOutcome) -> Void = { outcome in
                gate.endExclusive()
                unlock()
                completion(outcome)
            }
            awaitSharedDrained(gate, polls: 0) { [self] drained in
                guard drained else {
                    // Reads that never finish (a hung backing store): nothing was written.
                    logAtomic("write atomic abandoned lba=\(lba) blocks=\(blocks) reason=reads-not-drained")
                    finish(.checkCondition(.internalTargetFailure))
                    return
                }
                engine.submit(IORequest(op: .write, offset: lba * UInt64(bs), length: bytes, buffer: data.pointer, fua: stable),
                              on: unit.device) { result in
                    switch result {
                    case .success: finish(.good(dataIn: nil, impliedLength: bytes))
                    case .failure(let e): finish(.checkCondition(SCSIExecutor.senseFor(e, write: true)))
                    }
                }
            }
        }
    }

    /// Runs `body` once the commands registered on `gate` without the range lock have finished (polled on this
    /// loop, bounded); `body(false)` after the bound.
    func awaitSharedDrained(_ gate: ExclusionGate, polls: Int, _ body: @escaping (Bool) -> Void) {
        if gate.sharedDrained { body(true); return }
        if polls >= Self.drainPollLimit { body(false); return }
        _ = engine.loop.schedule(after: Self.drainPollNanoseconds) { [self] in
            awaitSharedDrained(gate, polls: polls + 1, body)
        }
    }

    /// Runs a data read of blocks [lba, lba + blocks) of `unit` so that it cannot observe half of a WRITE ATOMIC
    /// (SBC-4 §4.29.3). `body` gets the function to call once its I/O is done. Units without atomic support (or
    /// read-only ones, which never see an atomic write) read directly; otherwise the read registers with the gate
    /// and only takes the range lock while an atomic write is in progress on the unit.
    func isolatedRead(_ unit: LogicalUnit, lba: UInt64, blocks: UInt64,
                      _ body: @escaping (_ done: @escaping () -> Void) -> Void) {
        guard unit.hasAtomicWrites else { body({}); return }
        let gate = unit.state.atomicWriteGate
        if gate.beginShared() {
            body({ gate.endShared() })
            return
        }
        withRangeLock(unit, lba: lba, blocks: blocks, body)
    }

    /// `isolatedRead` for a read issued while holding another range lock (EXTENDED COPY holds its destination's):
    /// it must not queue for a range lock, so it waits (polled, bounded) until no atomic write is in progress on
    /// `unit`. `body` gets nil when the wait timed out (nothing was read).
    func isolatedReadWithoutLocking(_ unit: LogicalUnit, polls: Int = 0,
                                    _ body: @escaping (_ done: (() -> Void)?) -> Void) {
        guard unit.hasAtomicWrites else { body({}); return }
        let gate = unit.state.atomicWriteGate
        if gate.beginShared() {
            body({ gate.endShared() })
            return
        }
        if polls >= Self.drainPollLimit { body(nil); return }
        _ = engine.loop.schedule(after: Self.drainPollNanoseconds) { [self] in
            isolatedReadWithoutLocking(unit, polls: polls + 1, body)
        }
    }

    private func logAtomic(_ line: String) {
        atomicLogger.warning("\(line)")
    }
}

private let atomicLogger = Logger(label: "iscsi-targetd.scsi")
