import CShims
import Glibc

/// Non-blocking TCP socket calls. Every wrapper retries EINTR, maps EAGAIN to `.wouldBlock`/`nil`, traps on
/// EBADF/EFAULT (programmer errors, style anchors rule 7) and throws `SystemError` otherwise.
public enum Socket {
    /// Creates a listening TCP socket: non-blocking, close-on-exec, `SO_REUSEADDR`, `IPV6_V6ONLY` for IPv6.
    /// - Parameters:
    ///   - host: numeric IPv4/IPv6 address (`""`/`"*"` = 0.0.0.0, `"::"` = all IPv6, brackets allowed).
    ///   - port: the port; 0 picks an ephemeral port (see the returned address).
    ///   - backlog: the `listen` backlog.
    /// - Returns: the fd and the bound local address.
    /// - Throws: `SystemError` from `inet_pton`, `socket`, `setsockopt`, `bind` or `listen`.
    public static func listenTCP(host: String, port: UInt16, backlog: Int32 = 128) throws(SystemError) -> (fd: Int32, address: SocketAddress) {
        var (storage, length, isIPv6) = try SocketAddress.encode(host: host, port: port)
        let fd = cshims_socket_stream(isIPv6 ? AF_INET6 : AF_INET)
        guard fd >= 0 else { throw SystemError(errno: Glibc.errno, call: "socket") }
        do throws(SystemError) {
            guard cshims_set_reuseaddr(fd) == 0 else { throw SystemError(errno: Glibc.errno, call: "setsockopt(SO_REUSEADDR)") }
            // One socket per address family: a v6 portal must not also capture IPv4 (IET behaviour, explicit portals).
            if isIPv6 {
                guard cshims_set_v6only(fd) == 0 else { throw SystemError(errno: Glibc.errno, call: "setsockopt(IPV6_V6ONLY)") }
            }
            let rc = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
            }
            guard rc == 0 else { throw SystemError(errno: Glibc.errno, call: "bind") }
            guard Glibc.listen(fd, backlog) == 0 else { throw SystemError(errno: Glibc.errno, call: "listen") }
            return (fd, try localAddress(fd))
        } catch {
            closeIgnoringErrors(fd)
            throw error
        }
    }

    /// Accepts one connection with `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`.
    ///
    /// - Returns: the new fd and the peer address, or nil when no connection is pending (EAGAIN).
    /// - Throws: `SystemError` for EMFILE/ENFILE/ENOBUFS/ENOMEM and other hard errors. The listener stays
    ///   readable while a connection is queued, so on these the caller must stop polling it for a while
    ///   (``TCPListener`` does this) instead of busy looping.
    ///
    /// Errors that concern only the connection being accepted (ECONNABORTED, and the pending network errors
    /// accept(2) says to treat like EAGAIN: EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP,
    /// ENETUNREACH, ENETDOWN) are skipped and the next connection is tried. The corresponding C function is `accept4`.
    public static func accept(_ fd: Int32) throws(SystemError) -> (fd: Int32, peer: SocketAddress)? {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cshims_accept4(fd, $0, &length) }
            }
            if client >= 0 {
                let peer = withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: length) }
                }
                return (client, peer ?? SocketAddress(host: "unknown", port: 0, isIPv6: false))
            }
            let err = Glibc.errno
            switch err {
            case EINTR, ECONNABORTED, EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP,
                 ENETUNREACH, ENETDOWN:
                continue
            case EAGAIN, EWOULDBLOCK:
                return nil
            default:
                preconditionAcceptableErrno(err, "accept4")
                throw SystemError(errno: err, call: "accept4")
            }
        }
    }

    /// Reads into `buffer`. `.processed(0)` means end of stream (peer closed).
    /// - Throws: `SystemError` (e.g. ECONNRESET, ETIMEDOUT). The corresponding C function is `read`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Gathers and sends `iov` without raising SIGPIPE (`sendmsg` with `MSG_NOSIGNAL`). At most `IOV_MAX`
    /// entries are sent per call; a partial write is normal and reported as the byte count.
    /// - Throws: `SystemError` (e.g. EPIPE, ECONNRESET). The corresponding C function is `sendmsg`.
    public static func writev(_ fd: Int32, _ iov: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        guard let base = iov.baseAddress, iov.count > 0 else { return .processed(0) }
        let count = Int32(min(iov.count, Int(cshims_iov_max())))
        return try nonBlockingSyscall("sendmsg") { cshims_sendmsg_nosignal(fd, base, count) }
    }

    /// Disables Nagle (`TCP_NODELAY`): PDUs are flushed whole by the writer. Errors are ignored (the socket may
    /// already be reset, which the next read or write reports).
    public static func setNoDelay(_ fd: Int32) {
        _ = cshims_set_nodelay(fd)
    }

    /// The local address of a socket. The corresponding C function is `getsockname`.
    public static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        try address(fd, call: "getsockname", Glibc.getsockname)
    }

    /// The peer address of a connected socket. The corresponding C function is `getpeername`.
    public static func peerAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        try address(fd, call: "getpeername", Glibc.getpeername)
    }

    /// Closes a descriptor. EINTR is not retried: Linux has released the fd even then, and a retry could close
    /// an fd number another thread was just given (NIO `System.swift`). The corresponding C function is `close`.
    public static func close(_ fd: Int32) {
        guard fd >= 0 else { return }
        if Glibc.close(fd) != 0 {
            let err = Glibc.errno
            preconditionAcceptableErrno(err == EINTR ? 0 : err, "close")
        }
    }

    private static func address(
        _ fd: Int32, call: String, _ body: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, &length) }
        }
        guard rc == 0 else { throw SystemError(errno: Glibc.errno, call: call) }
        let decoded = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: length) }
        }
        guard let decoded else { throw SystemError(errno: EAFNOSUPPORT, call: call) }
        return decoded
    }
}
