/// A growable ring buffer used as a FIFO queue (loop-confined or lock-protected by its owner).
struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: consuming Element) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    /// The element `index` positions from the front (`0 <= index < count`).
    func peek(_ index: Int) -> Element? {
        guard index >= 0, index < count else { return nil }
        return storage[(head + index) % storage.count]
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage.take(at: head)
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    private mutating func grow() {
        let newCapacity = max(16, storage.count * 2)
        var newStorage = [Element?](repeating: nil, count: newCapacity)
        for i in 0..<count { newStorage[i] = storage[(head + i) % storage.count] }
        storage = newStorage
        head = 0
    }
}

extension Array {
    /// Moves the element at `index` out and leaves nil there — not a copy followed by a clear, which costs a
    /// retain / release pair per reference-counted field on the per-I/O path.
    mutating func take<Wrapped>(at index: Int) -> Wrapped? where Element == Wrapped? {
        var taken: Wrapped? = nil
        swap(&taken, &self[index])
        return taken
    }
}
