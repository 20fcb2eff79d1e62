import BlockStore
import Glibc
import ISCSIWire
import SCSICommands

/// WRITE SAME, UNMAP, GET LBA STATUS (SBC-3 §4.7, §5.6, §5.28, §5.41), COMPARE AND WRITE (§5.3), ORWRITE (§5.9).
extension SCSIExecutor {
    /// Bytes per WRITE SAME write request: the pattern is replicated into one buffer of this size.
    static let writeSameChunk = 1 << 20

    func writeSame(_ task: SCSITask, unit: LogicalUnit, lba: UInt64, blocks: UInt64, unmap: Bool, noDataOut: Bool,
                   completion: @escaping (SCSIOutcome) -> Void) {
        let info = unit.scsiInfo
        let bs = Int(info.blockSize)
        var pattern = [UInt8](repeating: 0, count: bs)
        if !noDataOut {
            // SBC-3 §5.41: the Data-Out Buffer holds exactly one logical block; any other EDTL → INVALID
            // FIELD IN CDB (LIO does the same).
            guard Int(task.pdu.expectedDataTransferLength) == bs, task.dataOutLength == bs, let buffer = task.buffer else {
                completion(.checkCondition(.invalidFieldInCDB))
                return
            }
            pattern = Array(UnsafeRawBufferPointer(start: buffer.pointer, count: bs))
        }
        let offset = lba * UInt64(bs)       // lba + blocks ≤ blockCount: fits
        let length = blocks * UInt64(bs)    // blocks ≤ MAXIMUM WRITE SAME LENGTH
        let stable = unit.writeThrough
        withRangeLock(unit, lba: lba, blocks: blocks, write: true, failed: completion) { [self] unlock in
            let done: (SCSIOutcome) -> Void = { outcome in
                unlock()
                completion(outcome)
            }
            // SBC-3 §5.41: with UNMAP = 1 on a thin unit (LBPWS = 1) the range is deallocated and reads back as
            // zeros (LBPRZ); the Data-Out block is not written (LIO and tgt behave the same, and libiscsi's
            // WriteSame*.UnmapUntilEnd expects zeros after an UNMAP with a 0xFF block). Otherwise every
            // block is written.
            if unmap && info.thinProvisioning {
                var request = IORequest.discard(offset: offset, length: Int(length))
                request.fua = stable
                submit(request, on: unit, write: true, failed: done) {
                    done(.good(dataIn: nil, impliedLength: noDataOut ? 0 : bs))
                }
                return
            }
            let chunk = min(Int(clamping: length), Self.writeSameChunk)
            let buffer = pool.take(capacity: chunk)
            var filled = 0
            while filled < chunk {
                let n = min(bs, chunk - filled)
                pattern.withUnsafeBytes { src in
                    if let base = src.baseAddress { (buffer.pointer + filled).copyMemory(from: base, byteCount: n) }
                }
                filled += n
            }
            let pool = self.pool
            writeChunks(unit, buffer: buffer, chunk: chunk, from: offset, end: offset + length, fua: stable) { outcome in
                pool.give(buffer)
                done(outcome.map { $0 } ?? .good(dataIn: nil, impliedLength: noDataOut ? 0 : bs))
            }
        }
    }

    /// Writes `buffer` (a whole number of blocks) repeatedly over [from, end), one request at a time.
    private func writeChunks(_ unit: LogicalUnit, buffer: IOBuffer, chunk: Int, from: UInt64, end: UInt64, fua: Bool,
                             completion: @escaping (SCSIOutcome?) -> Void) {
        guard from < end else { completion(nil); return }
        let n = Int(min(UInt64(chunk), end - from))
        submit(IORequest(op: .write, offset: from, length: n, buffer: buffer.pointer, fua: fua), on: unit, write: true,
               failed: { completion($0) }) { [self] in
            writeChunks(unit, buffer: buffer, chunk: chunk, from: from + UInt64(n), end: end, fua: fua, completion: completion)
        }
    }

    func unmapCommand(_ task: SCSITask, unit: LogicalUnit, parameterListLength: Int,
                      completion: @escaping (SCSIOutcome) -> Void) {
        let info = unit.scsiInfo
        // SBC-3 §5.28: UNMAP needs LBPU = 1; a fully provisioned unit does not implement it.
        guard info.thinProvisioning else { completion(.checkCondition(.invalidCommandOperationCode)); return }
        // SBC-3 §5.28: PARAMETER LIST LENGTH 0 → nothing to do.
        if parameterListLength == 0 { completion(.good(dataIn: nil, impliedLength: 0)); return }
        let extents: [UnmapParameterList.Extent]
        do {
            let bytes = task.buffer.map { Array(UnsafeRawBufferPointer(start: $0.pointer, count: task.dataOutLength)) } ?? []
            extents = try UnmapParameterList.parse(bytes, unit: info)
        } catch {
            completion(.checkCondition(error))
            return
        }
        unmapExtents(unit, extents[...], blockSize: UInt64(info.blockSize), completion: completion)
    }

    private func unmapExtents(_ unit: LogicalUnit, _ extents: ArraySlice<UnmapParameterList.Extent>, blockSize: UInt64,
                              completion: @escaping (SCSIOutcome) -> Void) {
        guard let e = extents.first else { completion(.good(dataIn: nil, impliedLength: 0)); return }
        let rest = extents.dropFirst()
        withRangeLock(unit, lba: e.lba, blocks: UInt64(e.blocks), write: true, failed: completion) { [self] unlock in
            var request = IORequest.discard(offset: e.lba * blockSize, length: Int(UInt64(e.blocks) * blockSize))
            request.fua = unit.writeThrough
            submit(request, on: unit, write: true, failed: { unlock(); completion($0) }) { [self] in
                unlock()
                unmapExtents(unit, rest, blockSize: blockSize, completion: completion)
            }
        }
    }

    /// SBC-3 §5.6 GET LBA STATUS from the backing store's extent map (SEEK_DATA / SEEK_HOLE).
    func getLBAStatus(unit: LogicalUnit, lba: UInt64, allocationLength: UInt32) -> SCSIOutcome {
        let info = unit.scsiInfo
        let bs = UInt64(info.blockSize)
        let limit = Emulator.lbaStatusDescriptorLimit(allocationLength: allocationLength)
        var descriptors: [Emulator.LBAStatusDescriptor] = []
        var current = lba
        while current < info.blockCount && descriptors.count < limit {
            let remaining = info.blockCount - current
            var mapped = true
            var blocks = remaining
            if info.thinProvisioning, let extent = unit.device.allocationExtent(at: current * bs) {
                mapped = extent.mapped
                // Whole blocks only: a partially mapped block counts as mapped (it holds data).
                blocks = mapped ? (extent.length + bs - 1) / bs : extent.length / bs
                if blocks == 0 { mapped = true; blocks = 1 }
            }
            blocks = min(blocks, remaining, UInt64(UInt32.max))
            if let last = descriptors.last, last.status == (mapped ? .mapped : .deallocated),
               UInt64(last.blocks) + blocks <= UInt64(UInt32.max) {
                descriptors[descriptors.count - 1].blocks += UInt32(blocks)
            } else {
                descriptors.append(Emulator.LBAStatusDescriptor(lba: current, blocks: UInt32(blocks),
                                                                status: mapped ? .mapped : .deallocated))
            }
            current += blocks
        }
        return dataIn(Emulator.lbaStatus(descriptors), allocation: Int(allocationLength))
    }

    // MARK: - COMPARE AND WRITE / ORWRITE

    /// Checks the Data-Out length of a command whose CDB fixes it exactly (SBC-3 §5.3).
    private func exactDataOut(_ task: SCSITask, _ expected: Int) -> IOBuffer? {
        guard Int(task.pdu.expectedDataTransferLength) == expected, task.dataOutLength == expected else { return nil }
        return task.buffer
    }

    func compareAndWrite(_ task: SCSITask, unit: LogicalUnit, lba: UInt64, blocks: UInt32, fua: Bool,
                         completion: @escaping (SCSIOutcome) -> Void) {
        let bs = Int(unit.info.blockSize)
        let n = Int(blocks) * bs
        // SBC-3 §5.3: NUMBER OF LOGICAL BLOCKS 0 → nothing compared or written, as long as no Data-Out was
        // announced (an EDTL for more blocks than the 8-bit field holds is an INVALID FIELD IN CDB).
        if n == 0 {
            completion(task.pdu.expectedDataTransferLength == 0 ? .good(dataIn: nil, impliedLength: 0)
                                                                 : .checkCondition(.invalidFieldInCDB))
            return
        }
        guard let data = exactDataOut(task, 2 * n) else { completion(.checkCondition(.invalidFieldInCDB)); return }
        let stable = fua || unit.writeThrough
        withRangeLock(unit, lba: lba, blocks: UInt64(blocks), excludingUnlockedWrites: true, write: true, failed: completion) { [self] unlock in
            let done: (SCSIOutcome) -> Void = { unlock(); completion($0) }
            let current = pool.take(capacity: n)
            let pool = self.pool
            submit(.read(offset: lba * UInt64(bs), length: n, into: current.pointer), on: unit, write: false,
                   failed: { pool.give(current); done($0) }) { [self] in
                let diff = SCSIExecutor.firstDifference(data.pointer, current.pointer, n)
                pool.give(current)
                if let diff {
                    // SBC-3 §5.3: MISCOMPARE DURING VERIFY OPERATION, INFORMATION = offset of the first
                    // differing byte in the Data-Out Buffer; nothing is written.
                    done(.checkCondition(.miscompare(offset: UInt32(diff))))
                    return
                }
                submit(IORequest(op: .write, offset: lba * UInt64(bs), length: n, buffer: data.pointer + n, fua: stable),
                       on: unit, write: true, failed: done) {
                    done(.good(dataIn: nil, impliedLength: 2 * n))
                }
            }
        }
    }

    func orWrite(_ task: SCSITask, unit: LogicalUnit, lba: UInt64, blocks: UInt32, fua: Bool,
                 completion: @escaping (SCSIOutcome) -> Void) {
        let bs = Int(unit.info.blockSize)
        let n = Int(blocks) * bs
        if n == 0 { completion(.good(dataIn: nil, impliedLength: 0)); return }
        let usable = (task.dataOutLength / bs) * bs
        guard usable > 0, let data = task.buffer else { completion(.good(dataIn: nil, impliedLength: n)); return }
        let stable = fua || unit.writeThrough
        withRangeLock(unit, lba: lba, blocks: UInt64(blocks), excludingUnlockedWrites: true, write: true, failed: completion) { [self] unlock in
            let done: (SCSIOutcome) -> Void = { unlock(); completion($0) }
            let current = pool.take(capacity: usable)
            let pool = self.pool
            submit(.read(offset: lba * UInt64(bs), length: usable, into: current.pointer), on: unit, write: false,
                   failed: { pool.give(current); done($0) }) { [self] in
                // SBC-3 §5.9 (ORPROTECT 0): new block = medium OR Data-Out.
                let d = data.pointer.assumingMemoryBound(to: UInt8.self)
                let m = current.pointer.assumingMemoryBound(to: UInt8.self)
                for i in 0..<usable { m[i] |= d[i] }
                submit(IORequest(op: .write, offset: lba * UInt64(bs), length: usable, buffer: current.pointer, fua: stable),
                       on: unit, write: true, failed: { pool.give(current); done($0) }) {
                    pool.give(current)
                    done(.good(dataIn: nil, impliedLength: n))
                }
            }
        }
    }
}
