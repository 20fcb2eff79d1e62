import BlockStore
import ISCSIWire
import LinuxIO
import Logging
import SCSICommands
import Synchronization

/// Keeps reads that run without the range lock away from WRITE ATOMIC(16) (SBC-4 §4.29.3: a command that
/// overlaps an atomic write sees it entirely or not at all). One per logical unit, shared by all loops.
///
/// Writers (WRITE, COMPARE AND WRITE, …) already exclude an atomic write through the LU range lock; plain reads
/// do not lock, so a buffered read could copy a block while the atomic write is half-way through copying it into
/// the page cache. The gate is a Dekker handshake: a read counts itself, then checks for atomic writers; an atomic
/// writer (holding its range lock) counts itself, then waits until the counted reads are gone. With sequentially
/// consistent operations at least one side sees the other, so a read either finished before the atomic write
/// starts, or takes the range lock (and so runs entirely before or after it).
final class AtomicWriteGate: Sendable {
    /// WRITE ATOMIC commands holding their range lock, from before their drain wait to their completion.
    private let writers = Atomic<Int>(0)
    /// Reads in flight without the range lock.
    private let unlockedReads = Atomic<Int>(0)

    init() {}

    /// Registers a read that runs without the range lock. False when an atomic write is in progress: the read
    /// must then be serialised (range lock) instead, and must not call ``endUnlockedRead()``.
    func beginUnlockedRead() -> Bool {
        unlockedReads.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if writers.load(ordering: .sequentiallyConsistent) == 0 { return true }
        unlockedReads.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return false
    }

    func endUnlockedRead() { unlockedReads.wrappingSubtract(1, ordering: .sequentiallyConsistent) }

    /// Called by an atomic write once it holds its range lock (never before: a read that waits for writers while
    /// holding a range lock — EXTENDED COPY — must not wait for a writer that waits for that lock).
    func beginWrite() { writers.wrappingAdd(1, ordering: .sequentiallyConsistent) }

    func endWrite() { writers.wrappingSubtract(1, ordering: .sequentiallyConsistent) }

    /// True once no read registered before ``beginWrite()`` is still running.
    var unlockedReadsDrained: Bool { unlockedReads.load(ordering: .sequentiallyConsistent) == 0 }
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
        withRangeLock(unit, lba: lba, blocks: UInt64(blocks)) { [self] unlock in
            gate.beginWrite()
            let finish: (SCSIOutcome) -> Void = { outcome in
                gate.endWrite()
                unlock()
                completion(outcome)
            }
            awaitUnlockedReadsDrained(gate, polls: 0) { [self] drained in
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

    /// Runs `body` once the reads registered without the range lock have finished (polled on this loop, bounded).
    private func awaitUnlockedReadsDrained(_ gate: AtomicWriteGate, polls: Int, _ body: @escaping (Bool) -> Void) {
        if gate.unlockedReadsDrained { body(true); return }
        if polls >= Self.drainPollLimit { body(false); return }
        _ = engine.loop.schedule(after: Self.drainPollNanoseconds) { [self] in
            awaitUnlockedReadsDrained(gate, polls: polls + 1, body)
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
        if gate.beginUnlockedRead() {
            body({ gate.endUnlockedRead() })
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
        if gate.beginUnlockedRead() {
            body({ gate.endUnlockedRead() })
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
