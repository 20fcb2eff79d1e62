import LinuxIO

/// Carries a loop-confined value across a `@Sendable` boundary. The value is only ever touched on the
/// event loop that owns it; `loop.execute` hops back there before use, and `assertOwned` checks it.
struct LoopBound<Value>: @unchecked Sendable {
    private let value: Value
    let loop: EventLoop
    init(_ value: Value, loop: EventLoop) {
        self.value = value
        self.loop = loop
    }
    /// The value; only valid on the owning loop's thread.
    var owned: Value {
        precondition(loop.isInLoopThread, "loop-bound value touched off its event loop")
        return value
    }
}

/// A value we move between threads exactly once (hand-off), never sharing it.
struct Handoff<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
