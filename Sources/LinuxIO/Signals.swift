import CShims
import Glibc

/// Ignores SIGPIPE process-wide (writes use `MSG_NOSIGNAL` anyway; this covers any other write to a socket).
public func ignoreSIGPIPE() {
    cshims_ignore_sigpipe()
}

/// Delivers signals (by default SIGTERM, SIGINT, SIGHUP) to a callback on an ``EventLoop`` through `signalfd`.
///
/// A signal reaches the signalfd only if it is blocked in **every** thread; otherwise the kernel may run the
/// default action (terminate) on a thread that does not block it. Call ``blockSignals(_:)`` at the top of `main`,
/// before any thread is created (threads inherit the mask). Loop thread only.
public final class SignalWatcher: EventHandler {
    /// The signals handled by default.
    public static let defaultSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    private let loop: EventLoop
    private let fd: Int32
    private var registration: Registration?
    private let handler: (Int32) -> Void

    /// Blocks `signals` in the calling thread (and threads it creates later).
    /// The corresponding C function is `pthread_sigmask`.
    public static func blockSignals(_ signals: [Int32] = SignalWatcher.defaultSignals) throws(SystemError) {
        let rc = signals.withUnsafeBufferPointer { cshims_block_signals($0.baseAddress, Int32($0.count)) }
        guard rc == 0 else { throw SystemError(errno: Glibc.errno, call: "pthread_sigmask") }
    }

    /// Creates the signalfd (also blocking `signals` in the calling thread) and registers it in `loop`.
    /// - Parameter handler: called on the loop thread with each delivered signal number.
    /// - Throws: `SystemError` from `pthread_sigmask`, `signalfd` or the registration.
    public init(loop: EventLoop, signals: [Int32] = SignalWatcher.defaultSignals, handler: @escaping (Int32) -> Void) throws(SystemError) {
        loop.preconditionInLoopThread()
        try Self.blockSignals(signals)
        let fd = signals.withUnsafeBufferPointer { cshims_signalfd($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw SystemError(errno: Glibc.errno, call: "signalfd") }
        self.loop = loop
        self.fd = fd
        self.handler = handler
        do throws(SystemError) {
            registration = try loop.register(fd: fd, events: .readable, handler: self)
        } catch {
            closeIgnoringErrors(fd)
            throw error
        }
    }

    /// Deregisters and closes the signalfd (the signals stay blocked). Idempotent.
    public func close() {
        loop.preconditionInLoopThread()
        guard let r = registration else { return }
        registration = nil
        loop.deregister(r)
        closeIgnoringErrors(fd)
    }

    public func handleEvents(_ events: EpollEvents) {
        while registration != nil {
            let signo = cshims_signalfd_read(fd)
            if signo < 0 {
                if Glibc.errno == EINTR { continue }
                return  // EAGAIN: drained
            }
            handler(signo)
        }
    }
}
