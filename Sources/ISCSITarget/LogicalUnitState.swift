import SCSICommands
import Synchronization

/// State of one logical unit shared by every I_T nexus (all event loops): unit attentions per nexus
/// (SAM-5 §5.14) and reservations (SPC-2 RESERVE/RELEASE, SPC-4 persistent reservations).
/// Protected by a mutex; every operation is short and never blocks on I/O.
public final class LogicalUnitState: Sendable {
    private struct State {
        var unitAttentions: [NexusID: [SenseReason]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Queues a unit attention for every nexus in `nexuses` except `except`.
    public func establishUnitAttention(_ reason: SenseReason, for nexuses: [NexusID], except: NexusID?) {
        state.withLock { s in
            for n in nexuses where n != except {
                s.unitAttentions[n, default: []].append(reason)
            }
        }
    }

    /// Takes the oldest pending unit attention for `nexus`, if any.
    public func takeUnitAttention(for nexus: NexusID) -> SenseReason? {
        state.withLock { s in
            guard var list = s.unitAttentions[nexus], !list.isEmpty else { return nil }
            let first = list.removeFirst()
            s.unitAttentions[nexus] = list.isEmpty ? nil : list
            return first
        }
    }

    /// SAM-5 §6.3.x LOGICAL UNIT RESET (also TARGET WARM/COLD RESET): state cleared, other nexuses see
    /// BUS DEVICE RESET FUNCTION OCCURRED.
    public func logicalUnitReset(by nexus: NexusID, knownNexuses: [NexusID]) {
        establishUnitAttention(.busDeviceResetFunctionOccurred, for: knownNexuses, except: nexus)
    }

    /// The I_T nexus went away (session closed or reinstated): drop its pending unit attentions.
    public func nexusLost(_ nexus: NexusID) {
        state.withLock { s in s.unitAttentions[nexus] = nil }
    }
}
