import Testing
import SCSICommands

@Test("Every strict prefix of a supported CDB → INVALID FIELD IN CDB, never a trap", arguments: SCSIOpcode.allCases)
func truncatedCDBs(_ opcode: SCSIOpcode) {
    // A CDB that would be valid at full length (all-zero fields; READ CAPACITY(16) needs its SA).
    var full = [UInt8](repeating: 0, count: opcode.cdbLength)
    full[0] = opcode.rawValue
    if opcode == .serviceActionIn16 { full[1] = 0x10 }
    if opcode == .reportLUNs { full[9] = 0x10 }
    if opcode == .modeSense6 || opcode == .modeSense10 { full[2] = 0x3F }
    if opcode == .writeSame10 || opcode == .writeSame16 { full[opcode == .writeSame10 ? 8 : 13] = 1 }
    if opcode == .persistentReserveOut { full[8] = 24 }
    if opcode == .maintenanceIn { full[1] = 0x0C }
    // WRITE ATOMIC(16) parses only on a unit that reports atomic limits (SBC-4 §6.6.4).
    let unit = opcode == .writeAtomic16 ? atomicDisk : disk
    #expect((try? CommandParser.parse(full, unit: unit)) != nil, "full-length \(opcode) should parse")
    for length in 1..<opcode.cdbLength {
        #expect(parseResult(Array(full.prefix(length)), unit: unit) == .failure(.invalidFieldInCDB), "\(opcode) length \(length)")
    }
}

/// A small deterministic PRNG (SplitMix64) so the fuzz run is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let fuzzUnits: [LogicalUnitInfo] = [
    disk,
    readOnlyDisk,
    LogicalUnitInfo(lun: 16383, blockSize: 4096, blockCount: UInt64.max, writeCacheEnabled: true,
                    scsiID: Array(repeating: 0xFF, count: 64), serialNumber: String(repeating: "\u{7}é", count: 50),
                    physicalBlockExponent: 0xFF, maximumTransferBlocks: 0, optimalTransferBlocks: UInt32.max,
                    mediumRotationRate: 0xFFFF, vendor: "", product: "", revision: ""),
    LogicalUnitInfo(lun: 1, blockSize: 0, blockCount: 0, maximumTransferBlocks: UInt32.max),
    atomicDisk,
    alignedAtomicDisk,
    { var u = LogicalUnitInfo(lun: 2, blockSize: 4096, blockCount: UInt64.max, maximumTransferBlocks: 0)
      u.setAtomicWriteLimits(blocks: UInt32.max)
      return u }(),
]

@Test("10k seeded random CDBs: only SenseReason errors, consistent results, executable output")
func randomCDBs() throws {
    var rng = SplitMix64(state: 0x15C5_1000)
    let opcodes = SCSIOpcode.allCases.map(\.rawValue)
    var accepted = 0
    for iteration in 0..<10_000 {
        let length = Int.random(in: 0...20, using: &rng)
        var cdb = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Bias towards implemented opcodes so the field decoders are exercised.
        if !cdb.isEmpty && iteration % 4 != 0 {
            cdb[0] = opcodes[Int.random(in: 0..<opcodes.count, using: &rng)]
        }
        // Every other CDB: a mostly-zero CDB of the right length with two random field bytes
        // and the CONTROL byte clear, so many reach the emulators and the I/O checks.
        if iteration % 2 == 1, let opcode = SCSIOpcode(rawValue: opcodes[Int.random(in: 0..<opcodes.count, using: &rng)]) {
            cdb = [UInt8](repeating: 0, count: opcode.cdbLength)
            cdb[0] = opcode.rawValue
            if opcode == .serviceActionIn16 { cdb[1] = 0x10 }
            for _ in 0..<2 {
                cdb[Int.random(in: 1..<(opcode.cdbLength - 1), using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
        }
        let unit = fuzzUnits[iteration % fuzzUnits.count]
        let context = EmulationContext(lunList: [0, 1, 300], senseFormat: iteration % 2 == 0 ? .fixed : .descriptor,
                                       pendingSense: iteration % 3 == 0 ? .miscompare(offset: 9) : nil)
        // Typed throws: the only error that can come out is a SenseReason.
        do throws(SenseReason) {
            let parsed = try CommandParser.parse(cdb, unit: unit)
            accepted += 1
            switch parsed.command {
            case .emulated(let command):
                #expect(parsed.direction == .fromTarget || parsed.transferLength == 0)
                let data = try Emulator.execute(command, unit: unit, context: context)
                _ = SenseData.build(.invalidFieldInCDB, format: context.senseFormat)
                #expect(data.count <= 65_536 * 8 + 8)
            case .read(let lba, let blocks, _), .write(let lba, let blocks, _), .verify(let lba, let blocks, _):
                // The range the runtime will touch really is inside the medium.
                if blocks > 0 {
                    #expect(lba < unit.blockCount && unit.blockCount - lba >= UInt64(blocks))
                }
                if case .write = parsed.command { #expect(!unit.readOnly) }
            case .synchronizeCache(let lba, _), .prefetch(let lba, _), .getLBAStatus(let lba, _):
                #expect(lba <= unit.blockCount)
            case .writeSame(let lba, let blocks, _, _):
                #expect(blocks > 0 && lba < unit.blockCount && unit.blockCount - lba >= blocks && !unit.readOnly)
            case .compareAndWrite(let lba, let blocks, _), .orWrite(let lba, let blocks, _):
                if blocks > 0 { #expect(lba < unit.blockCount && unit.blockCount - lba >= UInt64(blocks)) }
                #expect(!unit.readOnly)
            case .writeAtomic(let lba, let blocks, _):
                // SBC-4 §5.48: only within the unit's atomic limits (never on a unit that reports none).
                if blocks > 0 { #expect(lba < unit.blockCount && unit.blockCount - lba >= UInt64(blocks)) }
                #expect(blocks <= unit.maximumAtomicTransferBlocks && !unit.readOnly)
            case .unmap, .reserve, .release, .persistentReserveIn, .persistentReserveOut, .extendedCopy, .receiveCopyResults:
                break
            }
        } catch {
            _ = SenseData.build(error, format: .descriptor)
        }
        // Missing-unit parsing is just as safe.
        if let parsed = try? CommandParser.parseForMissingUnit(cdb), case .emulated(let command) = parsed.command {
            _ = try Emulator.execute(command, unit: nil, context: context)
        }
    }
    #expect(accepted > 1_000)  // 1250 with this seed
}

@Test("parseDataTransfer (the data-path parse) agrees with parse on 20k seeded CDBs; nil for other opcodes")
func dataTransferParseMatchesFullParse() {
    var rng = SplitMix64(state: 0xDA7A_7A5F)
    let transfers: Set<SCSIOpcode> = [.read6, .read10, .read12, .read16, .write6, .write10, .write12, .write16,
                                      .writeAndVerify10, .writeAndVerify12, .writeAndVerify16]
    let opcodes = SCSIOpcode.allCases.map(\.rawValue)
    for iteration in 0..<20_000 {
        let unit = fuzzUnits[iteration % fuzzUnits.count]
        let length = Int.random(in: 0...20, using: &rng)
        var cdb = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        if !cdb.isEmpty && iteration % 8 != 0 {
            let pool = iteration % 2 == 0 ? transfers.map(\.rawValue) : opcodes
            cdb[0] = pool[Int.random(in: 0..<pool.count, using: &rng)]
            // Small LBAs and lengths too, so in-range commands are common.
            if iteration % 3 == 0, cdb.count >= 10 { for i in 2..<min(cdb.count, 10) { cdb[i] = 0 } }
        }
        let full = parseResult(cdb, unit: unit)
        let fast: Result<ParsedCommand?, SenseReason>
        do throws(SenseReason) {
            fast = .success(try CommandParser.parseDataTransfer(cdb, limits: BlockTransferLimits(unit)))
        } catch {
            fast = .failure(error)
        }
        let isTransfer = cdb.first.flatMap(SCSIOpcode.init(rawValue:)).map(transfers.contains) ?? false
        switch fast {
        case .success(let parsed?):
            #expect(isTransfer && full == .success(parsed), "CDB \(cdb)")
        case .success(nil):
            #expect(!isTransfer, "CDB \(cdb): a transfer opcode must not fall through")
        case .failure(let e):
            // Header errors (empty CDB, unknown opcode, short CDB) and transfer errors match `parse`.
            #expect(full == .failure(e), "CDB \(cdb)")
        }
    }
}
