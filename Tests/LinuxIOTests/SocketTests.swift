import Glibc
@testable import LinuxIO
import Synchronization
import Testing

/// A blocking client socket connected to `address` (test side).
func connectClient(_ address: SocketAddress) throws -> Int32 {
    var (storage, length, isIPv6) = try SocketAddress.encode(host: address.host, port: address.port)
    let fd = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #expect(fd >= 0)
    let rc = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
    }
    if rc != 0 { throw SystemError(errno: errno, call: "connect") }
    return fd
}

func readFully(_ fd: Int32, count: Int) -> [UInt8] {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: count)
    while out.count < count {
        let n = Glibc.read(fd, &buffer, count - out.count)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return out
}

@Suite struct SocketTests {
    @Test func listenOnEphemeralPortReportsTheRealPort() throws {
        let (fd, address) = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { Socket.close(fd) }
        #expect(address.host == "127.0.0.1")
        #expect(address.port != 0)
        #expect(!address.isIPv6)
        #expect(address.description == "127.0.0.1:\(address.port)")
        // Nothing pending: accept says so instead of blocking.
        #expect(try Socket.accept(fd) == nil)
    }

    @Test func ipv6AddressesUseBrackets() throws {
        let listened: (fd: Int32, address: SocketAddress)
        do {
            listened = try Socket.listenTCP(host: "[::1]", port: 0)
        } catch {
            #expect([EADDRNOTAVAIL, EAFNOSUPPORT].contains(error.errno))
            print("skipping IPv6 listen: \(error)")
            return
        }
        defer { Socket.close(listened.fd) }
        #expect(listened.address.isIPv6)
        #expect(listened.address.host == "::1")
        #expect(listened.address.description == "[::1]:\(listened.address.port)")
    }

    @Test func nonNumericHostIsRejectedWithoutResolution() {
        #expect(throws: SystemError(errno: EINVAL, call: "inet_pton")) {
            _ = try Socket.listenTCP(host: "localhost", port: 0)
        }
        #expect(throws: SystemError(errno: EINVAL, call: "inet_pton")) {
            _ = try Socket.listenTCP(host: "1.2.3.4.5", port: 0)
        }
    }

    @Test func acceptReadWritevAndEOF() async throws {
        let (listenFD, address) = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { Socket.close(listenFD) }
        let client = try connectClient(address)
        defer { close(client) }
        let payload: [UInt8] = Array("hello iscsi".utf8)
        _ = payload.withUnsafeBytes { Glibc.write(client, $0.baseAddress, $0.count) }

        // Poll briefly for the connection (it is queued by the time connect returned).
        var accepted: (fd: Int32, peer: SocketAddress)?
        for _ in 0..<100 where accepted == nil {
            accepted = try Socket.accept(listenFD)
            if accepted == nil { usleep(1000) }
        }
        let conn = try #require(accepted)
        defer { Socket.close(conn.fd) }
        #expect(conn.peer.host == "127.0.0.1")
        #expect(try Socket.peerAddress(conn.fd) == conn.peer)
        #expect(try Socket.localAddress(conn.fd) == address)
        Socket.setNoDelay(conn.fd)

        var buffer = [UInt8](repeating: 0, count: 64)
        var got = 0
        for _ in 0..<100 where got < payload.count {
            let r = try buffer.withUnsafeMutableBytes { try Socket.read(conn.fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if case .processed(let n) = r { got += n } else { usleep(1000) }
        }
        #expect(Array(buffer[0..<got]) == payload)
        // Nothing more queued.
        #expect(try buffer.withUnsafeMutableBytes { try Socket.read(conn.fd, into: $0) } == .wouldBlock)

        // Gather two pieces in one call.
        let head: [UInt8] = [1, 2, 3], tail: [UInt8] = [4, 5]
        let written = try head.withUnsafeBytes { h in
            try tail.withUnsafeBytes { t in
                let iov = [iovec(iov_base: UnsafeMutableRawPointer(mutating: h.baseAddress), iov_len: h.count),
                           iovec(iov_base: UnsafeMutableRawPointer(mutating: t.baseAddress), iov_len: t.count)]
                return try iov.withUnsafeBufferPointer { try Socket.writev(conn.fd, $0) }
            }
        }
        #expect(written == .processed(5))
        #expect(readFully(client, count: 5) == [1, 2, 3, 4, 5])

        // Peer closes: EOF is .processed(0).
        shutdown(client, Int32(SHUT_WR))
        var eof = false
        for _ in 0..<100 where !eof {
            if try buffer.withUnsafeMutableBytes({ try Socket.read(conn.fd, into: $0) }) == .processed(0) { eof = true } else { usleep(1000) }
        }
        #expect(eof)
    }

    @Test func writevToAClosedPeerThrowsInsteadOfRaisingSIGPIPE() throws {
        let (listenFD, address) = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { Socket.close(listenFD) }
        let client = try connectClient(address)
        var accepted: (fd: Int32, peer: SocketAddress)?
        for _ in 0..<100 where accepted == nil {
            accepted = try Socket.accept(listenFD)
            if accepted == nil { usleep(1000) }
        }
        let conn = try #require(accepted)
        defer { Socket.close(conn.fd) }
        // RST the connection: SO_LINGER 0 then close.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(client)
        usleep(10_000)
        let bytes = [UInt8](repeating: 7, count: 100)
        var failure: SystemError?
        for _ in 0..<10 where failure == nil {
            do {
                _ = try bytes.withUnsafeBytes { b in
                    let iov = [iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)]
                    return try iov.withUnsafeBufferPointer { try Socket.writev(conn.fd, $0) }
                }
            } catch { failure = error as? SystemError }
        }
        #expect(failure.map { [EPIPE, ECONNRESET].contains($0.errno) } == true)
    }

    @Test func listenerOnTheLoopAcceptsAndEchoes() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        final class Echo: EventHandler {
            let fd: Int32
            var registration: Registration?
            let loop: EventLoop
            init(fd: Int32, loop: EventLoop) { self.fd = fd; self.loop = loop }
            func handleEvents(_ events: EpollEvents) {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let r = try? buffer.withUnsafeMutableBytes { try Socket.read(fd, into: $0) }
                    guard case .processed(let n)? = r, n > 0 else {
                        if r != .wouldBlock, let reg = registration { loop.deregister(reg); registration = nil; Socket.close(fd) }
                        return
                    }
                    _ = buffer.withUnsafeBytes { b in
                        let iov = [iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: n)]
                        return iov.withUnsafeBufferPointer { try? Socket.writev(fd, $0) }
                    }
                }
            }
        }
        final class ListenerBox: @unchecked Sendable { var listener: TCPListener? }
        let box = ListenerBox()
        let address: SocketAddress? = await onLoop(loop) { done in
            box.listener = try? TCPListener(loop: loop, host: "127.0.0.1", port: 0) { fd, peer in
                let echo = Echo(fd: fd, loop: loop)
                echo.registration = try? loop.register(fd: fd, events: [.readable, .readHangup], handler: echo)
            }
            done(box.listener?.address)
        }
        let listenAddress = try #require(address)
        for round in 0..<3 {
            let client = try connectClient(listenAddress)
            let message = Array("round \(round)".utf8)
            _ = message.withUnsafeBytes { Glibc.write(client, $0.baseAddress, $0.count) }
            #expect(readFully(client, count: message.count) == message)
            close(client)
        }
        await onLoop(loop) { (done: @escaping @Sendable (Bool) -> Void) in
            box.listener?.close()
            box.listener = nil
            done(true)
        }
    }

    @Test func signalWatcherDeliversABlockedSignalOnTheLoop() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        final class Box: @unchecked Sendable { var watcher: SignalWatcher? }
        let box = Box()
        let loopThread: UInt = await onLoop(loop) { done in
            // SIGUSR2 is blocked only in the loop thread; it is raised at that thread alone (pthread_kill), so
            // no other test thread can take the default action.
            box.watcher = try? SignalWatcher(loop: loop, signals: [SIGUSR2]) { signo in
                loop.execute { box.watcher?.close() }
                Self.received.withLock { $0 = signo }
            }
            done(pthread_self())
        }
        pthread_kill(loopThread, SIGUSR2)
        for _ in 0..<200 where Self.received.withLock({ $0 }) == 0 { usleep(1000) }
        #expect(Self.received.withLock { $0 } == SIGUSR2)
    }
    static let received = Mutex<Int32>(0)

    @Test func ignoreSIGPIPEIsCallable() {
        ignoreSIGPIPE()
    }
}
