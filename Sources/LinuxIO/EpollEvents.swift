import CShims

/// Readiness events for a registered descriptor. Raw values are the Linux `EPOLL*` bits.
public struct EpollEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `EPOLLIN` (0x001).
    public static let readable = EpollEvents(rawValue: 0x001)
    /// `EPOLLOUT` (0x004).
    public static let writable = EpollEvents(rawValue: 0x004)
    /// `EPOLLERR` (0x008); always reported, whether asked for or not.
    public static let error = EpollEvents(rawValue: 0x008)
    /// `EPOLLHUP` (0x010); always reported, whether asked for or not.
    public static let hangup = EpollEvents(rawValue: 0x010)
    /// `EPOLLRDHUP` (0x2000): the peer shut down its writing half.
    public static let readHangup = EpollEvents(rawValue: 0x2000)
    /// `EPOLLET`: report the fd when it becomes ready (each wake-up of its wait queue), not while it stays ready.
    /// For an eventfd that is never read (the AIO completion fd: completions are taken from the ring).
    public static let edgeTriggered = EpollEvents(rawValue: 0x8000_0000)

    public var description: String {
        var parts: [String] = []
        if contains(.readable) { parts.append("readable") }
        if contains(.writable) { parts.append("writable") }
        if contains(.error) { parts.append("error") }
        if contains(.hangup) { parts.append("hangup") }
        if contains(.readHangup) { parts.append("readHangup") }
        return "[" + parts.joined(separator: ",") + "]"
    }

    /// The values the C headers give, to check the constants above (used by tests).
    static var fromC: (readable: UInt32, writable: UInt32, error: UInt32, hangup: UInt32, readHangup: UInt32) {
        (cshims_EPOLLIN(), cshims_EPOLLOUT(), cshims_EPOLLERR(), cshims_EPOLLHUP(), cshims_EPOLLRDHUP())
    }
}

/// Receives readiness events for a descriptor registered with an ``EventLoop``. Called on the loop thread.
public protocol EventHandler: AnyObject {
    /// Called with the ready events, masked to what is currently registered plus `.error`/`.hangup`.
    func handleEvents(_ events: EpollEvents)
}

/// A registration of a descriptor in an ``EventLoop``.
///
/// The descriptor and a per-loop registration ID are packed into `epoll_data.u64` (NIO `EPollUserData`), so an
/// event that was queued for an earlier registration of the same fd number is recognised and dropped.
public struct Registration: Hashable, Sendable, CustomStringConvertible {
    /// The registered descriptor.
    public let fd: Int32
    /// The loop-unique registration ID.
    public let id: UInt32

    init(fd: Int32, id: UInt32) {
        self.fd = fd
        self.id = id
    }

    /// `id` in the high 32 bits, `fd` in the low 32 bits.
    var packed: UInt64 { UInt64(id) << 32 | UInt64(UInt32(bitPattern: fd)) }

    init(packed: UInt64) {
        self.fd = Int32(bitPattern: UInt32(truncatingIfNeeded: packed))
        self.id = UInt32(truncatingIfNeeded: packed >> 32)
    }

    public var description: String { "Registration(fd: \(fd), id: \(id))" }
}
