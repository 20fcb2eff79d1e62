import ISCSIWire
import Testing
@testable import ISCSITarget

/// The ITT table against `Dictionary` as the model: random inserts, duplicate tags, lookups, removals by tag and
/// by identity, growth and clearing, with tags drawn from a small range so probe runs collide and wrap.
@Suite("TaskTable")
struct TaskTableTests {
    private func task(_ tag: UInt32) -> SCSITask {
        SCSITask(pdu: SCSICommandPDU(read: false, write: false, lun: 0, initiatorTaskTag: tag,
                                     expectedDataTransferLength: 0, cmdSN: 0, expStatSN: 0, cdb: [0x00]),
                 lunNumber: 0, unit: nil)
    }

    @Test("matches a Dictionary over 50k seeded random operations", arguments: [UInt32(40), 300, UInt32.max])
    func randomOperations(tagRange: UInt32) {
        var seed: UInt64 = 0x7A5C_7AB1 &+ UInt64(tagRange)
        func next() -> UInt64 {  // deterministic op sequence (SplitMix64)
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var table = TaskTable(minimumCapacity: 4)
        var model: [UInt32: SCSITask] = [:]
        for step in 0..<50_000 {
            let tag = UInt32(truncatingIfNeeded: next() % UInt64(tagRange == .max ? UInt64(UInt32.max) + 1 : UInt64(tagRange)))
            switch next() % 10 {
            case 0...3:
                let t = task(tag)
                let existing = table.insertIfAbsent(t, for: tag)
                #expect(existing === model[tag], "step \(step): insert \(tag)")
                if model[tag] == nil { model[tag] = t }
            case 4...5:
                #expect(table[tag] === model[tag], "step \(step): lookup \(tag)")
            case 6...7:
                #expect(table.remove(tag) === model.removeValue(forKey: tag), "step \(step): remove \(tag)")
            case 8:
                // Removal by identity: a stale task object under a reused tag must not remove the live one.
                let stale = task(tag)
                table.remove(stale)
                if let live = model[tag] {
                    #expect(table[tag] === live)
                    if next() % 2 == 0 { table.remove(live); model[tag] = nil }
                }
            default:
                if step % 5000 == 9 { table.removeAll(); model.removeAll() }
            }
            #expect(table.count == model.count, "step \(step)")
        }
        #expect(Set(table.allTasks.map { ObjectIdentifier($0) }) == Set(model.values.map { ObjectIdentifier($0) }))
        for (tag, t) in model { #expect(table[tag] === t) }
    }

    @Test("every tag of a full window stays reachable after interleaved removals")
    func windowChurn() {
        var table = TaskTable()
        var live: [UInt32: SCSITask] = [:]
        for round in 0..<200 {
            for i in 0..<128 {
                let tag = UInt32(round * 128 + i)
                let t = task(tag)
                #expect(table.insertIfAbsent(t, for: tag) == nil)
                live[tag] = t
            }
            for (tag, _) in live where tag % 3 != UInt32(round % 3) {
                table.remove(tag)
                live[tag] = nil
            }
            for (tag, t) in live { #expect(table[tag] === t) }
            #expect(table.count == live.count)
        }
    }
}
