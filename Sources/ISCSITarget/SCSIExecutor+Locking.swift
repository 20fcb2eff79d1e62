import BlockStore
import LinuxIO
import SCSICommands

extension LogicalUnit {
    /// The SCSI description the emulation answers from. Logical block provisioning follows the backing
    /// store unless the configuration already decided: files and block devices deallocate with
    /// fallocate(PUNCH_HOLE), after which the blocks read as zeros (LBPME = 1, LBPRZ = 1); a null device
    /// has nothing to deallocate (SBC-3 §4.7.1: fully provisioned).
    ///
    /// The physical block exponent is the one `LogicalUnit.open` derived: 0 except for blocks smaller than a
    /// block device's own (then the device's block). Reporting 4 KiB physical blocks for files would be accurate
    /// but changes what guests see after a migration from IET, and libiscsi's GetLBAStatus.UnmapSingle
    /// mis-computes its expected LBA when LOGICAL BLOCKS PER PHYSICAL BLOCK > 1.
    var scsiInfo: LogicalUnitInfo {
        guard device.kind != .null else { return info }
        var i = info
        if !i.thinProvisioning {
            i.thinProvisioning = true
            i.readsZerosAfterUnmap = true
        }
        return i
    }

    /// Stable per-unit name of the APTPL state file: IET ScsiId (hex) + LUN, or the serial number.
    var persistenceIdentity: String {
        let id = info.scsiID.map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined()
        return (id.isEmpty ? info.serialNumber : id) + "-lun\(info.lun)"
    }
}

extension SCSIExecutor {
    /// Runs `body` holding an exclusive lock on blocks [lba, lba + blocks) of `unit` (SBC-3 §5.3 COMPARE AND
    /// WRITE atomicity against other writers on any loop). `body` gets the unlock function and must call it
    /// exactly once when its I/O is done. Runs `body` at once when the range is free, otherwise on this loop
    /// once the holder releases.
    ///
    /// `excludingUnlockedWrites`: COMPARE AND WRITE, ORWRITE and WRITE ATOMIC also wait (after taking the lock)
    /// for plain WRITEs that run without the lock (`plainWriteGate`); new plain WRITEs take the range lock while
    /// one of them is active. If those writes never finish (a hung store) `body` is not run and `failed` gets
    /// INTERNAL TARGET FAILURE after the drain bound.
    ///
    /// `write`: the body writes these blocks. On a unit whose blocks are smaller than its O_DIRECT alignment
    /// (`LogicalUnit.alignmentBlocks` > 1) a write not aligned to it is a read-modify-write of whole device blocks
    /// in the page cache; an O_DIRECT write of the same device block in flight meanwhile races the kernel's
    /// invalidation of that page, and the page's write-back can then put the older block back (SubBlockLUNTests
    /// reproduces it). So such a write locks the widened range and excludes the unlocked plain WRITEs, whose
    /// ranges are whole units.
    func withRangeLock(_ unit: LogicalUnit, lba: UInt64, blocks: UInt64, excludingUnlockedWrites: Bool = false,
                       write: Bool = false, failed: ((SCSIOutcome) -> Void)? = nil,
                       _ body: @escaping (_ unlock: @escaping () -> Void) -> Void) {
        let state = unit.state
        let loop = engine.loop
        var run = body
        var lba = lba, blocks = blocks, excludingUnlockedWrites = excludingUnlockedWrites
        if write, let widened = unit.widenedToAlignment(lba: lba, blocks: blocks) {
            (lba, blocks) = widened
            excludingUnlockedWrites = true
        }
        if excludingUnlockedWrites {
            let gate = state.plainWriteGate
            gate.beginExclusive()
            run = { [self] unlock in
                let release = { unlock(); gate.endExclusive() }
                awaitSharedDrained(gate, polls: 0) { drained in
                    if drained { body(release); return }
                    release()
                    failed?(.checkCondition(.internalTargetFailure))
                }
            }
        }
        let bound = LoopBound(run, loop: loop)
        let token = state.lockRange(lba: lba, blocks: blocks) { token in
            loop.execute { bound.owned({ state.unlockRange(token) }) }
        }
        if let token { run({ state.unlockRange(token) }) }
    }

    /// Submits `request` and maps the result to an outcome-or-continue.
    func submit(_ request: IORequest, on unit: LogicalUnit, write: Bool,
                failed: @escaping (SCSIOutcome) -> Void, then next: @escaping () -> Void) {
        engine.submit(request, on: unit.device) { result in
            switch result {
            case .success: next()
            case .failure(let e): failed(.checkCondition(SCSIExecutor.senseFor(e, write: write)))
            }
        }
    }
}
