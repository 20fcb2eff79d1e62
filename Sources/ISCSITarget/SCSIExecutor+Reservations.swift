import BlockStore
import SCSICommands

/// SPC-2 RESERVE/RELEASE and SPC-4 PERSISTENT RESERVE IN/OUT against the unit's shared state.
extension SCSIExecutor {
    func reserveLegacy(unit: LogicalUnit, context: ExecutionContext) -> SCSIOutcome {
        let nexus = context.nexus.reservationNexus
        do {
            try unit.state.withReservations { (pr: inout PersistentReservations) throws(ReservationError) in
                try pr.reserveLegacy(nexus)
                return ((), [])
            }
            return .good(dataIn: nil, impliedLength: 0)
        } catch {
            return outcome(error)
        }
    }

    func releaseLegacy(unit: LogicalUnit, context: ExecutionContext) -> SCSIOutcome {
        let nexus = context.nexus.reservationNexus
        unit.state.withReservationsNoThrow { pr in pr.releaseLegacy(nexus) }
        return .good(dataIn: nil, impliedLength: 0)
    }

    func persistentReserveIn(unit: LogicalUnit, action: PRInServiceAction, allocationLength: UInt16) -> SCSIOutcome {
        let data = unit.state.readReservations { pr -> [UInt8] in
            switch action {
            case .readKeys: return pr.readKeys()
            case .readReservation: return pr.readReservation()
            case .reportCapabilities: return pr.reportCapabilities()
            case .readFullStatus: return pr.readFullStatus()
            }
        }
        return dataIn(data, allocation: Int(allocationLength))
    }

    func persistentReserveOut(_ task: SCSITask, unit: LogicalUnit, request: PROutRequest,
                              context: ExecutionContext) -> SCSIOutcome {
        // SPC-4 §6.14.1: the parameter list must arrive whole.
        guard let buffer = task.buffer, task.dataOutLength == PROutParameters.length else {
            return .checkCondition(.parameterListLengthError)
        }
        let bytes = Array(UnsafeRawBufferPointer(start: buffer.pointer, count: task.dataOutLength))
        let parameters: PROutParameters
        do {
            parameters = try PROutParameters.parse(bytes, for: request)
        } catch {
            return .checkCondition(error)
        }
        let nexus = context.nexus.reservationNexus
        do {
            try unit.state.withReservations { (pr: inout PersistentReservations) throws(ReservationError) in
                ((), try pr.execute(request, parameters, from: nexus))
            }
            return .good(dataIn: nil, impliedLength: 0)
        } catch {
            return outcome(error)
        }
    }

    private func outcome(_ error: ReservationError) -> SCSIOutcome {
        switch error {
        case .conflict: return .status(.reservationConflict)
        case .sense(let reason): return .checkCondition(reason)
        }
    }
}
