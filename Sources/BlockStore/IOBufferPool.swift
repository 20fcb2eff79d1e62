import Glibc

/// A page-aligned (4096) heap buffer, suitable for `O_DIRECT`. Freed when the last reference goes away.
///
/// `@unchecked Sendable`: like a raw pointer, it is a handle; whoever passes it between threads (e.g. to an
/// I/O worker and back) is responsible for not touching the bytes while another thread does.
public final class IOBuffer: @unchecked Sendable {
    /// The start of the buffer (4096-aligned).
    public let pointer: UnsafeMutableRawPointer
    /// Usable bytes (a multiple of 4096, at least 4096).
    public let capacity: Int

    /// Allocates at least `capacity` bytes (rounded up to 4096) with `posix_memalign(4096)`.
    /// - Precondition: `0 <= capacity <= IOBufferPool.maxBufferSize` (callers bound transfer lengths first).
    public init(capacity: Int) {
        precondition(capacity >= 0 && capacity <= IOBufferPool.maxBufferSize, "IOBuffer capacity out of range")
        let rounded = max(IOBufferPool.alignment, (capacity + IOBufferPool.alignment - 1) & ~(IOBufferPool.alignment - 1))
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, IOBufferPool.alignment, rounded)
        guard rc == 0, let raw else { fatalError("posix_memalign(\(rounded)) failed: out of memory") }
        self.pointer = raw
        self.capacity = rounded
    }

    deinit { free(pointer) }

    /// The whole buffer as bytes.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pointer, count: capacity)
    }
}

/// A per-loop cache of ``IOBuffer``s in power-of-two size classes (4 KiB … 16 MiB), holding at most
/// `maxCachedBytes` of idle buffers. Larger buffers are allocated exactly and never cached. Loop-confined.
public final class IOBufferPool {
    /// Buffer alignment (page size; satisfies `O_DIRECT` for 512- and 4096-byte devices).
    public static let alignment = 4096
    /// The largest buffer that may be asked for (1 GiB); callers bound transfer lengths far below this.
    public static let maxBufferSize = 1 << 30
    static let smallestClass = 4096
    static let classCount = 13  // 4 KiB << 12 = 16 MiB

    /// Idle buffers currently held.
    public private(set) var cachedBytes = 0
    /// The cache limit.
    public let maxCachedBytes: Int
    private var free: [[IOBuffer]] = Array(repeating: [], count: IOBufferPool.classCount)

    /// Creates an empty pool that keeps at most `maxCachedBytes` of idle buffers.
    public init(maxCachedBytes: Int) {
        self.maxCachedBytes = max(0, maxCachedBytes)
    }

    /// A buffer of at least `capacity` bytes; reused when one of its class is cached. Contents are unspecified.
    /// - Precondition: `0 <= capacity <= IOBufferPool.maxBufferSize`.
    public func take(capacity: Int) -> IOBuffer {
        guard let index = Self.classIndex(capacity) else { return IOBuffer(capacity: capacity) }
        if let buffer = free[index].popLast() {
            cachedBytes -= buffer.capacity
            return buffer
        }
        return IOBuffer(capacity: Self.smallestClass << index)
    }

    /// Returns a buffer for reuse (dropped instead when it is not a class size or the cache is full).
    public func give(_ buffer: IOBuffer) {
        guard let index = Self.classIndex(buffer.capacity), Self.smallestClass << index == buffer.capacity,
              cachedBytes + buffer.capacity <= maxCachedBytes else { return }
        cachedBytes += buffer.capacity
        free[index].append(buffer)
    }

    /// The size class for `capacity`, or nil above the largest class.
    static func classIndex(_ capacity: Int) -> Int? {
        var size = smallestClass
        for index in 0..<classCount {
            if capacity <= size { return index }
            size <<= 1
        }
        return nil
    }
}
