import Glibc
@testable import ISCSITarget
import Synchronization
import Testing

/// The Dekker handshake between lock-free ("shared") commands and those that must see none of them overlap
/// ("exclusive"): SCSIExecutor+Atomic.swift, SBC-3 §5.3 / SBC-4 §4.29.3.
@Suite struct ExclusionGateTests {
    @Test func sharedIsAdmittedWhenNoExclusiveIsActive() {
        let gate = ExclusionGate()
        #expect(gate.sharedDrained)
        #expect(gate.beginShared())
        gate.endShared()
        #expect(gate.sharedDrained)
    }

    /// A refused shared command leaves no count behind (it must not call endShared, and need not).
    @Test func sharedIsRefusedWhileExclusiveAndLeavesNoCount() {
        let gate = ExclusionGate()
        gate.beginExclusive()
        #expect(!gate.beginShared())
        #expect(gate.sharedDrained)
        #expect(!gate.beginShared())
        #expect(gate.sharedDrained)
        gate.endExclusive()
    }

    /// An exclusive command waits for shared ones admitted before it: not drained until the last one ends.
    @Test func sharedHoldersKeepTheGateUndrainedUntilTheyEnd() {
        let gate = ExclusionGate()
        #expect(gate.beginShared())
        #expect(gate.beginShared())
        gate.beginExclusive()
        #expect(!gate.sharedDrained)
        gate.endShared()
        #expect(!gate.sharedDrained)
        gate.endShared()
        #expect(gate.sharedDrained)
        gate.endExclusive()
    }

    @Test func endExclusiveReadmitsShared() {
        let gate = ExclusionGate()
        gate.beginExclusive()
        #expect(!gate.beginShared())
        gate.endExclusive()
        #expect(gate.beginShared())
        #expect(!gate.sharedDrained)
        gate.endShared()
        #expect(gate.sharedDrained)
    }

    /// Exclusive commands nest: shared ones stay refused until the last exclusive one ends.
    @Test func overlappingExclusivesKeepSharedOutUntilTheLastEnds() {
        let gate = ExclusionGate()
        gate.beginExclusive()
        gate.beginExclusive()
        gate.endExclusive()
        #expect(!gate.beginShared())
        #expect(gate.sharedDrained)
        gate.endExclusive()
        #expect(gate.beginShared())
        gate.endShared()
    }

    /// Each unit has separate gates for reads vs WRITE ATOMIC and plain writes vs CAW/ORWRITE/WRITE ATOMIC.
    @Test func aUnitsTwoGatesAreIndependent() {
        let state = LogicalUnitState()
        state.plainWriteGate.beginExclusive()
        #expect(state.atomicWriteGate.beginShared())
        #expect(!state.plainWriteGate.beginShared())
        state.atomicWriteGate.endShared()
        state.plainWriteGate.endExclusive()
        #expect(state.plainWriteGate.sharedDrained && state.atomicWriteGate.sharedDrained)
    }

    /// Under contention (two threads): an exclusive holder that saw the gate drained never overlaps a shared
    /// holder that was admitted. Bounded iterations and spins.
    @Test func sharedAndExclusiveNeverOverlapUnderContention() {
        final class Shared: Sendable {
            let gate = ExclusionGate()
            let sharedActive = Atomic<Int>(0)
            let exclusiveActive = Atomic<Bool>(false)
            let overlaps = Atomic<Int>(0)
            let admitted = Atomic<Int>(0)
            let exclusiveRuns = Atomic<Int>(0)
            let undrained = Atomic<Int>(0)
        }
        let s = Shared()
        runJoined([
            {
                for _ in 0..<200_000 {
                    guard s.gate.beginShared() else { continue }
                    s.admitted.wrappingAdd(1, ordering: .relaxed)
                    s.sharedActive.wrappingAdd(1, ordering: .sequentiallyConsistent)
                    if s.exclusiveActive.load(ordering: .sequentiallyConsistent) { s.overlaps.wrappingAdd(1, ordering: .relaxed) }
                    s.sharedActive.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                    s.gate.endShared()
                }
            },
            {
                for _ in 0..<2_000 {
                    s.gate.beginExclusive()
                    // A refused beginShared bumps the count for a moment: sample until one sample says drained.
                    var drained = false
                    for _ in 0..<10_000_000 where s.gate.sharedDrained {
                        drained = true
                        break
                    }
                    if drained {
                        s.exclusiveActive.store(true, ordering: .sequentiallyConsistent)
                        for _ in 0..<100 where s.sharedActive.load(ordering: .sequentiallyConsistent) != 0 {
                            s.overlaps.wrappingAdd(1, ordering: .relaxed)
                        }
                        s.exclusiveActive.store(false, ordering: .sequentiallyConsistent)
                        s.exclusiveRuns.wrappingAdd(1, ordering: .relaxed)
                    } else {
                        s.undrained.wrappingAdd(1, ordering: .relaxed)
                    }
                    s.gate.endExclusive()
                    sched_yield()
                }
            },
        ])
        #expect(s.overlaps.load(ordering: .relaxed) == 0)
        #expect(s.undrained.load(ordering: .relaxed) == 0)
        #expect(s.exclusiveRuns.load(ordering: .relaxed) == 2_000)
        #expect(s.admitted.load(ordering: .relaxed) > 0)
        #expect(s.gate.sharedDrained)
    }
}

/// Runs each body on its own pthread and joins them all (tests only).
func runJoined(_ bodies: [@Sendable () -> Void]) {
    final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    var threads: [pthread_t] = []
    for body in bodies {
        let arg = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Box>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, arg)
        precondition(rc == 0, "pthread_create: \(rc)")
        threads.append(tid)
    }
    for t in threads { pthread_join(t, nil) }
}
