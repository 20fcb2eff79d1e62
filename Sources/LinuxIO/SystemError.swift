import CShims
import Glibc

/// A failed system call: the `errno` it reported and the name of the call.
///
/// Hashable on the errno and call name only; the description adds the `strerror` text.
public struct SystemError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The C `errno` value (positive).
    public var errno: Int32
    /// The name of the failed call, e.g. `"accept4"` or `"io_submit"`.
    public var call: String

    /// Creates an error from an errno value and the name of the failed call.
    public init(errno: Int32, call: String) {
        self.errno = errno
        self.call = call
    }

    /// `"<call>: <strerror> (errno <n>)"`.
    public var description: String {
        let text: String
        if let s = strerror(errno) { text = String(cString: s) } else { text = "unknown error" }
        return "\(call): \(text) (errno \(errno))"
    }
}

/// The result of a non-blocking operation.
public enum IOResult<T: Equatable & Sendable>: Equatable, Sendable {
    /// The operation would have blocked (EAGAIN/EWOULDBLOCK); nothing was transferred.
    case wouldBlock
    /// The operation completed with this value.
    case processed(T)
}

/// Errnos that can only come from a bug in this process (a wrong fd or pointer), never from a peer.
/// Style rule (NIO `isUnacceptableErrno`, swift-system): trap on these rather than continue with a corrupt fd table.
@inline(__always)
func preconditionAcceptableErrno(_ err: Int32, _ call: StaticString) {
    precondition(err != EBADF && err != EFAULT, "unacceptable errno \(err) from \(call): programmer error")
}

/// Runs a syscall returning -1/errno, retrying EINTR (swift-system `valueOrErrno(retryOnInterrupt: true)`)
/// and mapping EAGAIN to `.wouldBlock`.
@inline(__always)
func nonBlockingSyscall<T: FixedWidthInteger & Sendable>(
    _ call: StaticString, trapOnBadFD: Bool = true, _ body: () -> T
) throws(SystemError) -> IOResult<T> {
    while true {
        let r = body()
        if r >= 0 { return .processed(r) }
        let err = Glibc.errno
        switch err {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        default:
            if trapOnBadFD { preconditionAcceptableErrno(err, call) }
            throw SystemError(errno: err, call: "\(call)")
        }
    }
}

/// Runs a blocking-style syscall returning -1/errno, retrying EINTR.
@inline(__always)
func retryingSyscall<T: FixedWidthInteger>(_ call: StaticString, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r >= 0 { return r }
        let err = Glibc.errno
        if err == EINTR { continue }
        throw SystemError(errno: err, call: "\(call)")
    }
}

/// Closes a descriptor. EINTR is not retried: on Linux the fd is released even when close reports EINTR, so a
/// retry could close a descriptor another thread has just been given (NIO `System.swift`).
func closeIgnoringErrors(_ fd: Int32) {
    if fd >= 0 { _ = Glibc.close(fd) }
}

/// The current CLOCK_MONOTONIC time in nanoseconds.
public func monotonicNanoseconds() -> UInt64 {
    cshims_monotonic_ns()
}
