import CShims
import Glibc

/// A listening TCP socket registered in an ``EventLoop`` that hands each accepted connection to a callback.
///
/// Accepts at most ``maxAcceptsPerWakeup`` connections per readiness event (fairness, SPDK
/// `GET_PDU_LOOP_COUNT` idea). When `accept4` fails with a resource error (EMFILE, ENFILE, ENOBUFS, ENOMEM) the
/// pending connection stays queued and the socket stays readable, so instead of busy looping the listener
/// stops polling for ``backoffNanoseconds`` and then tries again.
///
/// The loop holds the listener (as the handler) until ``close()``. Loop thread only.
public final class TCPListener: EventHandler {
    /// The listening fd (owned; closed by ``close()``).
    public let fd: Int32
    /// The bound local address (with the real port when 0 was asked for).
    public let address: SocketAddress
    /// Connections accepted per wake-up before yielding to other work.
    public var maxAcceptsPerWakeup = 64
    /// Pause after a resource error before polling the listener again.
    public var backoffNanoseconds: UInt64 = 100_000_000
    /// Called for errors that pause accepting (for logging). Optional.
    public var onError: ((SystemError) -> Void)?

    private let loop: EventLoop
    private let onAccept: (_ fd: Int32, _ peer: SocketAddress) -> Void
    private var registration: Registration?
    private var backoffTimer: TimerID?

    /// Binds, listens and registers in `loop`.
    /// - Parameters:
    ///   - onAccept: receives each new non-blocking fd (now owned by the callee) and the peer address.
    /// - Throws: `SystemError` from ``Socket/listenTCP(host:port:backlog:)`` or the registration.
    public init(
        loop: EventLoop, host: String, port: UInt16, backlog: Int32 = 128,
        onAccept: @escaping (_ fd: Int32, _ peer: SocketAddress) -> Void
    ) throws(SystemError) {
        loop.preconditionInLoopThread()
        let (fd, address) = try Socket.listenTCP(host: host, port: port, backlog: backlog)
        self.fd = fd
        self.address = address
        self.loop = loop
        self.onAccept = onAccept
        do throws(SystemError) {
            registration = try loop.register(fd: fd, events: .readable, handler: self)
        } catch {
            Socket.close(fd)
            throw error
        }
    }

    /// Stops listening: deregisters and closes the socket. Idempotent.
    public func close() {
        loop.preconditionInLoopThread()
        if let id = backoffTimer { loop.cancel(id); backoffTimer = nil }
        guard let r = registration else { return }
        registration = nil
        loop.deregister(r)
        Socket.close(fd)
    }

    public func handleEvents(_ events: EpollEvents) {
        for _ in 0..<max(1, maxAcceptsPerWakeup) {
            guard registration != nil else { return }
            do throws(SystemError) {
                guard let (client, peer) = try Socket.accept(fd) else { return }
                onAccept(client, peer)
            } catch {
                pause(error)
                return
            }
        }
    }

    private func pause(_ error: SystemError) {
        onError?(error)
        guard let r = registration, backoffTimer == nil else { return }
        try? loop.modify(r, events: [])
        backoffTimer = loop.schedule(after: backoffNanoseconds) { [weak self] in
            guard let self, let r = self.registration else { return }
            self.backoffTimer = nil
            try? self.loop.modify(r, events: .readable)
        }
    }
}
