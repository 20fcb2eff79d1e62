/// Loop-confined timer store: a binary min-heap on (deadline, sequence) with lazy cancellation.
///
/// Cancelled timers stay in the heap until they reach the top or the heap is compacted, which happens when
/// dead entries outnumber live ones (so per-command timeouts that are almost always cancelled cannot grow it).
struct TimerQueue {
    private struct Item {
        var deadline: UInt64
        var sequence: UInt64
        func precedes(_ other: Item) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }
    private var heap: [Item] = []
    private var actions: [UInt64: () -> Void] = [:]
    private var nextSequence: UInt64 = 1

    var isEmpty: Bool { actions.isEmpty }
    var count: Int { actions.count }

    mutating func insert(deadline: UInt64, _ work: @escaping () -> Void) -> TimerID {
        let sequence = nextSequence
        nextSequence &+= 1
        actions[sequence] = work
        push(Item(deadline: deadline, sequence: sequence))
        return TimerID(raw: sequence)
    }

    mutating func cancel(_ id: TimerID) {
        guard actions.removeValue(forKey: id.raw) != nil else { return }
        if heap.count > 64 && heap.count > 2 * actions.count { compact() }
    }

    /// The earliest live deadline, dropping cancelled entries from the top.
    var earliestDeadline: UInt64? {
        mutating get {
            dropCancelledTop()
            return heap.first?.deadline
        }
    }

    /// Removes and returns the action of the earliest timer whose deadline is `<= now`.
    mutating func popExpired(now: UInt64) -> (() -> Void)? {
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let work = actions.removeValue(forKey: top.sequence) { return work }
        }
        return nil
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, actions[top.sequence] == nil { popTop() }
    }

    private mutating func compact() {
        heap.removeAll { actions[$0.sequence] == nil }
        // Re-heapify bottom-up.
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func push(_ item: Item) {
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var best = left
            let right = left + 1
            if right < heap.count && heap[right].precedes(heap[left]) { best = right }
            guard heap[best].precedes(heap[parent]) else { return }
            heap.swapAt(best, parent)
            parent = best
        }
    }
}
