import Glibc
import ISCSIWire
import LinuxIO

/// One PDU waiting to go out: header bytes (BHS + header digest) and trailer (padding + data digest) in a
/// fixed slot this object owns, and an optional data segment that points into an I/O buffer owned by
/// `owner` (no copy). Objects are recycled by `TransmitQueue` (no allocation per PDU in steady state).
final class OutgoingPDU {
    /// BHS (48) + header digest (4) + padding (≤ 3) + data digest (4) ≤ 59: no target PDU carries an AHS.
    static let slotSize = 64
    /// Header at offset 0, trailer right after it.
    let storage: UnsafeMutableRawPointer
    var headerLength = 0
    var trailerLength = 0
    var data: UnsafeRawBufferPointer?
    /// Keeps `data` alive until the PDU is on the wire.
    var owner: AnyObject?
    /// A command whose buffers go back to the pool once the last byte of this PDU was handed to the kernel
    /// (the final Data-In of a read); reported by `TransmitQueue.flush` (no closure per PDU).
    var sentTask: SCSITask?

    init() {
        storage = UnsafeMutableRawPointer.allocate(byteCount: Self.slotSize, alignment: 16)
    }

    deinit { storage.deallocate() }

    var totalLength: Int { headerLength + (data?.count ?? 0) + trailerLength }
    var trailer: UnsafeMutableRawPointer { storage + headerLength }

    func reset() {
        headerLength = 0
        trailerLength = 0
        data = nil
        owner = nil
        sentTask = nil
    }
}

/// Data we own (emulated command responses, login/text payloads) wrapped so an `OutgoingPDU` can point at it.
final class OwnedBytes {
    let buffer: UnsafeMutableRawBufferPointer
    init(_ bytes: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
        bytes.withUnsafeBytes { src in
            if let b = src.baseAddress, let d = buffer.baseAddress { d.copyMemory(from: b, byteCount: src.count) }
        }
        self.buffer = buffer
        count = bytes.count
    }
    let count: Int
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count]) }
    deinit { buffer.deallocate() }
}

/// The per-connection send queue: gathers PDUs and writes them with one `writev` per flush.
struct TransmitQueue {
    private var queue: [OutgoingPDU] = []
    private var head = 0
    /// Bytes of `queue[head]` already written.
    private var sentInHead = 0
    private(set) var queuedBytes = 0
    /// Sent PDUs kept for reuse (bounded).
    private var spare: [OutgoingPDU] = []
    private static let maxSpare = 128
    /// Up to 64 PDUs per writev (header, data, trailer each).
    private static let iovCapacity = 64 * 3
    private var iovStorage: [iovec] = []

    var isEmpty: Bool { head >= queue.count }

    /// An empty PDU slot to fill and `append`.
    mutating func makePDU() -> OutgoingPDU {
        spare.popLast() ?? OutgoingPDU()
    }

    private mutating func recycle(_ pdu: OutgoingPDU) {
        pdu.reset()
        if spare.count < Self.maxSpare { spare.append(pdu) }
    }

    mutating func append(_ pdu: OutgoingPDU) {
        queue.append(pdu)
        queuedBytes += pdu.totalLength
    }

    /// Writes as much as the socket takes. Returns `true` when everything was written.
    /// Throws on a socket error (connection-fatal).
    mutating func flush(fd: Int32, taskSent: (SCSITask) -> Void) throws -> Bool {
        // The iovec array is allocated once per connection and moved out while in use (unique, so the writes
        // below happen in place): a fresh zero-filled 3 KiB array per flush showed in profiles.
        var iov = iovStorage
        iovStorage = []
        if iov.count < Self.iovCapacity { iov = [iovec](repeating: iovec(), count: Self.iovCapacity) }
        defer { iovStorage = iov }
        while head < queue.count {
            var n = 0
            var skip = sentInHead
            var i = head
            while i < queue.count && n + 3 <= iov.count {
                let p = queue[i]
                func add(_ base: UnsafeRawPointer?, _ len: Int) {
                    guard len > 0, let base else { return }
                    if skip >= len { skip -= len; return }
                    iov[n] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + skip), iov_len: len - skip)
                    skip = 0
                    n += 1
                }
                add(UnsafeRawPointer(p.storage), p.headerLength)
                if let d = p.data { add(d.baseAddress, d.count) }
                if p.trailerLength > 0 { add(UnsafeRawPointer(p.trailer), p.trailerLength) }
                i += 1
            }
            if n == 0 {
                // Only empty PDUs left (cannot happen: every PDU has a 48-byte header).
                break
            }
            let result = try iov.withUnsafeBufferPointer { buf throws(SystemError) in
                try Socket.writev(fd, UnsafeBufferPointer(rebasing: buf[0..<n]))
            }
            switch result {
            case .wouldBlock:
                return false
            case .processed(var written):
                queuedBytes -= written
                while written > 0 && head < queue.count {
                    let remaining = queue[head].totalLength - sentInHead
                    if written >= remaining {
                        written -= remaining
                        let done = queue[head]
                        head += 1
                        sentInHead = 0
                        let sent = done.sentTask
                        recycle(done)
                        if let sent { taskSent(sent) }
                    } else {
                        sentInHead += written
                        written = 0
                    }
                }
                if head > 256 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
            }
        }
        queue.removeAll(keepingCapacity: true)
        head = 0
        sentInHead = 0
        return true
    }

    /// Drops everything (connection closing).
    mutating func discardAll() {
        queue.removeAll()
        head = 0
        sentInHead = 0
        queuedBytes = 0
    }
}
