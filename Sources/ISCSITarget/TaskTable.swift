/// A connection's live SCSI tasks by Initiator Task Tag (RFC 7143 §11.2.1.8: unique among the tasks a connection
/// has outstanding). Open addressing with linear probing and backward-shift deletion (no tombstones).
///
/// Why not `Dictionary`: it hashes each `UInt32` key with SipHash, and the receive → complete path does three
/// lookups per command (≈ 250 instructions in callgrind, 2-3 % of the per-command user-space work). Here a slot
/// is `(tag ^ salt) × 2⁶⁴/φ`, top bits: a few instructions. The tags come from the peer, so the salt is random
/// per table (no precomputed colliding tag set), and the table holds at most the commands the CmdSN window
/// admits, so even a degenerate probe sequence is bounded by that window.
struct TaskTable {
    private var tags: [UInt32]
    private var tasks: [SCSITask?]
    /// log2 of the capacity.
    private var bits: Int
    private let salt: UInt64
    private(set) var count = 0

    init(minimumCapacity: Int = 64) {
        var bits = 4
        while 1 << bits < minimumCapacity * 2 && bits < 30 { bits += 1 }
        self.bits = bits
        tags = [UInt32](repeating: 0, count: 1 << bits)
        tasks = [SCSITask?](repeating: nil, count: 1 << bits)
        salt = UInt64.random(in: 0...UInt64.max)
    }

    @inline(__always)
    private func home(_ tag: UInt32) -> Int {
        Int(truncatingIfNeeded: ((UInt64(tag) ^ salt) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
    }

    /// The slot holding `tag`, or nil.
    @inline(__always)
    private func find(_ tag: UInt32) -> Int? {
        let mask = tasks.count - 1
        var i = home(tag)
        while tasks[i] != nil {
            if tags[i] == tag { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    subscript(tag: UInt32) -> SCSITask? {
        guard let i = find(tag) else { return nil }
        return tasks[i]
    }

    /// Adds `task` under `tag` unless the tag is taken; returns the task already holding it (nothing changed).
    mutating func insertIfAbsent(_ task: SCSITask, for tag: UInt32) -> SCSITask? {
        let mask = tasks.count - 1
        var i = home(tag)
        while let existing = tasks[i] {
            if tags[i] == tag { return existing }
            i = (i + 1) & mask
        }
        tags[i] = tag
        tasks[i] = task
        count += 1
        // At most half full: probe sequences stay short.
        if count * 2 > tasks.count { grow() }
        return nil
    }

    /// Removes and returns the task under `tag`.
    @discardableResult
    mutating func remove(_ tag: UInt32) -> SCSITask? {
        guard let i = find(tag) else { return nil }
        return removeSlot(i)
    }

    /// Removes `task` if it is the one registered under its tag (a later command may reuse the tag).
    mutating func remove(_ task: SCSITask) {
        guard let i = find(task.itt), tasks[i] === task else { return }
        removeSlot(i)
    }

    /// Every live task (unspecified order); for task management and connection teardown, not the data path.
    var allTasks: [SCSITask] { tasks.compactMap { $0 } }

    mutating func removeAll() {
        for i in tasks.indices { tasks[i] = nil }
        count = 0
    }

    @discardableResult
    private mutating func removeSlot(_ slot: Int) -> SCSITask? {
        let mask = tasks.count - 1
        var removed: SCSITask? = nil
        swap(&removed, &tasks[slot])
        count -= 1
        // Backward shift: pull later members of the probe run into the hole so lookups never stop early.
        var hole = slot
        var j = (slot + 1) & mask
        while tasks[j] != nil {
            let h = home(tags[j])
            // The entry at j may move to the hole iff its home is not in the cyclic range (hole, j].
            let inRange = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if !inRange {
                tags[hole] = tags[j]
                tasks.swapAt(hole, j)
                hole = j
            }
            j = (j + 1) & mask
        }
        return removed
    }

    private mutating func grow() {
        let oldTags = tags
        var oldTasks: [SCSITask?] = []
        swap(&oldTasks, &tasks)
        bits += 1
        tags = [UInt32](repeating: 0, count: 1 << bits)
        tasks = [SCSITask?](repeating: nil, count: 1 << bits)
        let mask = tasks.count - 1
        for (k, t) in oldTasks.enumerated() {
            guard let t else { continue }
            var i = home(oldTags[k])
            while tasks[i] != nil { i = (i + 1) & mask }
            tags[i] = oldTags[k]
            tasks[i] = t
        }
    }
}
