import Glibc
@testable import LinuxIO
import Synchronization

/// Runs `body` on the loop thread and waits for it to call `done`.
@discardableResult
func onLoop<T: Sendable>(_ loop: EventLoop, _ body: @escaping @Sendable (_ done: @escaping @Sendable (T) -> Void) -> Void) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        let once = Mutex(false)
        loop.execute {
            body { value in
                let first = once.withLock { fired -> Bool in defer { fired = true }; return !fired }
                if first { continuation.resume(returning: value) }
            }
        }
    }
}

/// A started loop, stopped and joined by `shutdown()`.
func startedLoop(_ name: String = "test") throws -> EventLoop {
    let loop = try EventLoop(name: name)
    try loop.start()
    return loop
}

func shutdown(_ loop: EventLoop) {
    loop.stop()
    loop.waitUntilStopped()
}

/// A pipe with both ends non-blocking.
func makePipe() -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    let rc = pipe(&fds)
    precondition(rc == 0)
    for fd in fds { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
    return (fds[0], fds[1])
}

func writeByte(_ fd: Int32, _ value: UInt8 = 0x42) {
    var v = value
    _ = Glibc.write(fd, &v, 1)
}

func drainFD(_ fd: Int32) {
    var buffer = [UInt8](repeating: 0, count: 256)
    while Glibc.read(fd, &buffer, buffer.count) > 0 {}
}

/// Records calls in order (loop thread only, read after the loop is done).
final class Recorder: @unchecked Sendable {
    private let items = Mutex<[String]>([])
    func add(_ s: String) { items.withLock { $0.append(s) } }
    var all: [String] { items.withLock { $0 } }
}

final class ClosureHandler: EventHandler {
    let body: (EpollEvents) -> Void
    init(_ body: @escaping (EpollEvents) -> Void) { self.body = body }
    func handleEvents(_ events: EpollEvents) { body(events) }
}
