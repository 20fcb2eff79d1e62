import BlockStore
import SCSICommands
import Synchronization

/// Held EXTENDED COPY results: per logical unit (copy manager), I_T nexus and LIST IDENTIFIER (SPC-4 §6.4.3).
struct CopyResultsKey: Hashable, Sendable {
    var unit: String
    var nexus: NexusID
    var listID: UInt8
}

/// The copy manager's state shared by every loop: held results, bounded (256 records in all).
enum CopyManagerState {
    static let results = Mutex(CopyResultsTable<CopyResultsKey>(capacity: 256))
}

/// One EXTENDED COPY in progress.
private final class XCopyJob {
    let task: SCSITask
    let list: XCopyParameterList
    /// Reachable logical units: the addressed one first, then the target's others by LUN.
    let units: [LogicalUnit]
    let infos: [LogicalUnitInfo]
    let nexus: NexusID
    /// Key of the held results, nil when nothing is held (LIST ID USAGE 11b, or the table is full).
    let key: CopyResultsKey?
    let parameterListLength: Int
    let buffer: IOBuffer
    let bufferBytes: Int
    var segmentsProcessed = 0
    var bytesTransferred: UInt64 = 0

    init(task: SCSITask, list: XCopyParameterList, units: [LogicalUnit], nexus: NexusID, key: CopyResultsKey?,
         parameterListLength: Int, buffer: IOBuffer, bufferBytes: Int) {
        self.task = task
        self.list = list
        self.units = units
        self.infos = units.map(\.scsiInfo)
        self.nexus = nexus
        self.key = key
        self.parameterListLength = parameterListLength
        self.buffer = buffer
        self.bufferBytes = bufferBytes
    }
}

/// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 §6.4, §6.18): the copy manager moves blocks between logical
/// units of the same target through the loop's IOEngine, at most `xcopyChunk` bytes per step, never blocking the loop.
extension SCSIExecutor {
    /// Bytes read and written per copy step.
    static let xcopyChunk = 1 << 20

    func extendedCopy(_ task: SCSITask, unit: LogicalUnit, parameterListLength: Int, context: ExecutionContext,
                      completion: @escaping (SCSIOutcome) -> Void) {
        // SPC-4 §6.4.1: PARAMETER LIST LENGTH 0 → no copy, not an error.
        if parameterListLength == 0 { completion(.good(dataIn: nil, impliedLength: 0)); return }
        let bytes = task.buffer.map { Array(UnsafeRawBufferPointer(start: $0.pointer, count: task.dataOutLength)) } ?? []
        let list: XCopyParameterList
        do {
            // The whole list is validated before any block moves (SPC-4 §6.4.3).
            list = try XCopyParameterList.parse(bytes)
        } catch {
            completion(.checkCondition(error))
            return
        }
        var units: [LogicalUnit] = [unit]
        for lun in context.units.keys.sorted() {
            if let other = context.units[lun], other !== unit { units.append(other) }
        }
        var key: CopyResultsKey?
        if list.holdsResults {
            let candidate = CopyResultsKey(unit: unit.persistenceIdentity, nexus: context.nexus, listID: list.listID)
            do {
                let held = try CopyManagerState.results.withLock { (table) throws(SenseReason) -> Bool in
                    try table.begin(candidate)
                }
                key = held ? candidate : nil
            } catch {
                completion(.checkCondition(error))
                return
            }
        }
        let chunk = Self.xcopyChunk
        let job = XCopyJob(task: task, list: list, units: units, nexus: context.nexus, key: key,
                           parameterListLength: parameterListLength, buffer: pool.take(capacity: chunk), bufferBytes: chunk)
        let pool = self.pool
        copySegment(job, index: 0) { outcome in
            pool.give(job.buffer)
            if let key = job.key {
                let status: SCSIStatus
                var sense: SenseReason?
                switch outcome {
                case .good: status = .good
                case .checkCondition(let reason): status = .checkCondition; sense = reason
                case .status(let s): status = s
                }
                CopyManagerState.results.withLock { $0.finish(key, status: status, sense: sense) }
            }
            completion(outcome)
        }
    }

    /// Processes segment `index` and the ones after it, in order (SPC-4 §6.4.6.1).
    private func copySegment(_ job: XCopyJob, index: Int, done: @escaping (SCSIOutcome) -> Void) {
        // A task aborted by a TMF (or a closing connection) stops between steps; the outcome is dropped.
        if job.task.aborted { done(.status(.taskAborted)); return }
        guard index < job.list.segments.count else {
            done(.good(dataIn: nil, impliedLength: job.parameterListLength))
            return
        }
        let segment: XCopyResolvedSegment
        do {
            segment = try job.list.resolve(segment: index, units: job.infos, preferred: 0)
        } catch {
            done(.checkCondition(error))
            return
        }
        let source = job.units[segment.sourceUnit]
        let destination = job.units[segment.destinationUnit]
        // SPC-4 §5.12.2: the copy reads the source and writes the destination for the nexus that sent it; each copy
        // target applies its reservations as it would to a READ / WRITE from that nexus.
        source.state.preparePersistence(identity: source.persistenceIdentity)
        destination.state.preparePersistence(identity: destination.persistenceIdentity)
        if source.state.reservationConflict(job.nexus, access: .read)
            || destination.state.reservationConflict(job.nexus, access: .write) {
            done(.status(.reservationConflict))
            return
        }
        let next = { [self] in
            job.segmentsProcessed = index + 1
            recordProgress(job)
            copySegment(job, index: index + 1, done: done)
        }
        if segment.blocks == 0 { next(); return }
        // Same unit, destination inside the source range after its start: copy from the end (memmove order).
        let backward = source === destination && segment.destinationLBA > segment.sourceLBA
            && segment.destinationLBA - segment.sourceLBA < segment.blocks
        copyBlocks(job, segment, source: source, destination: destination, copied: 0, backward: backward) { failure in
            if let failure { done(failure) } else { next() }
        }
    }

    /// Copies the blocks of `segment` not yet copied, one chunk per step: destination range locked (SBC-3 §5.3
    /// atomicity against COMPARE AND WRITE / other writers), source read, destination written.
    private func copyBlocks(_ job: XCopyJob, _ segment: XCopyResolvedSegment, source: LogicalUnit, destination: LogicalUnit,
                            copied: UInt64, backward: Bool, done: @escaping (SCSIOutcome?) -> Void) {
        guard copied < segment.blocks else { done(nil); return }
        if job.task.aborted { done(.status(.taskAborted)); return }
        let bs = UInt64(segment.blockSize)
        let chunkBlocks = max(1, UInt64(job.bufferBytes) / bs)
        let n = min(segment.blocks - copied, chunkBlocks)
        let offset = backward ? segment.blocks - copied - n : copied
        let sourceLBA = segment.sourceLBA + offset            // resolve() checked the ranges: no overflow
        let destinationLBA = segment.destinationLBA + offset
        let length = Int(n * bs)
        let stable = destination.writeThrough
        withRangeLock(destination, lba: destinationLBA, blocks: n, write: true, failed: { done($0) }) { [self] unlock in
          // SBC-4 §4.29.3: the source read must not see half of a WRITE ATOMIC; it holds the destination's range
          // lock, so it waits for the source's atomic writes instead of locking (SCSIExecutor+Atomic.swift).
          isolatedReadWithoutLocking(source) { [self] readDone in
            guard let readDone else {
                unlock()
                done(.checkCondition(Self.copyAbortReason(.unrecoveredReadError)))
                return
            }
            engine.submit(.read(offset: sourceLBA * bs, length: length, into: job.buffer.pointer), on: source.device) { [self] result in
                readDone()
                if case .failure(let e) = result {
                    unlock()
                    done(.checkCondition(Self.copyAbortReason(SCSIExecutor.senseFor(e, write: false))))
                    return
                }
                engine.submit(IORequest(op: .write, offset: destinationLBA * bs, length: length, buffer: job.buffer.pointer,
                                        fua: stable), on: destination.device) { [self] result in
                    unlock()
                    if case .failure(let e) = result {
                        done(.checkCondition(Self.copyAbortReason(SCSIExecutor.senseFor(e, write: true))))
                        return
                    }
                    job.bytesTransferred += UInt64(length)
                    recordProgress(job)
                    copyBlocks(job, segment, source: source, destination: destination, copied: copied + n,
                               backward: backward, done: done)
                }
            }
          }
        }
    }

    private func recordProgress(_ job: XCopyJob) {
        guard let key = job.key else { return }
        let segments = job.segmentsProcessed, bytes = job.bytesTransferred
        CopyManagerState.results.withLock { $0.progress(key, segmentsProcessed: segments, bytesTransferred: bytes) }
    }

    /// A copy target's I/O failure → COPY ABORTED with its ASC (SPC-4 §6.4.3); WRITE PROTECTED stays DATA PROTECT.
    static func copyAbortReason(_ reason: SenseReason) -> SenseReason {
        switch reason {
        case .spaceAllocationFailed: return .copyAborted(.spaceAllocationFailed, segmentByte: nil)
        case .writeProtected: return .writeProtected
        case .writeError: return .copyAborted(.writeError, segmentByte: nil)
        default: return .copyAborted(.readError, segmentByte: nil)
        }
    }

    /// RECEIVE COPY RESULTS (SPC-4 §6.18): OPERATING PARAMETERS from the limits; COPY STATUS and FAILED SEGMENT
    /// DETAILS from the results held for this nexus and LIST IDENTIFIER.
    func receiveCopyResults(unit: LogicalUnit, request: CopyResultsRequest, context: ExecutionContext) -> SCSIOutcome {
        let key = CopyResultsKey(unit: unit.persistenceIdentity, nexus: context.nexus, listID: request.listID)
        do {
            let data: [UInt8]
            switch request.serviceAction {
            case .operatingParameters:
                data = Emulator.copyOperatingParameters(unit.scsiInfo)
            case .copyStatus:
                data = try CopyManagerState.results.withLock { (table) throws(SenseReason) -> [UInt8] in
                    try table.copyStatus(key)
                }
            case .failedSegmentDetails:
                data = try CopyManagerState.results.withLock { (table) throws(SenseReason) -> [UInt8] in
                    try table.failedSegmentDetails(key)
                }
            }
            return dataIn(data, allocation: Int(request.allocationLength))
        } catch {
            return .checkCondition(error)
        }
    }

    /// Drops the copy results held for `nexus` (I_T nexus loss, SPC-4 §6.4.3: held data is per I_T nexus).
    static func forgetCopyResults(nexus: NexusID) {
        CopyManagerState.results.withLock { $0.removeAll { $0.nexus == nexus } }
    }
}
