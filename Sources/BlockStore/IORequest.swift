/// The kind of a backing-store request.
public enum IOOperation: Sendable {
    /// Read `length` bytes at `offset` into `buffer`.
    case read
    /// Write `length` bytes from `buffer` at `offset`.
    case write
    /// Make all completed writes stable (SYNCHRONIZE CACHE): `fdatasync`/`IOCB_CMD_FDSYNC`.
    case flush
    /// Deallocate `length` bytes at `offset` so they read back as zeros (SBC-3 §4.7 UNMAP with LBPRZ = 1):
    /// `fallocate(PUNCH_HOLE | KEEP_SIZE)`, or zeros written where the file system cannot punch holes.
    /// No buffer. Always runs on the worker pool (fallocate blocks on metadata).
    case discard
}

/// One backing-store request. The buffer must stay valid until the completion runs.
public struct IORequest {
    /// Read, write or flush.
    public var op: IOOperation
    /// Byte offset on the device (ignored for flush).
    public var offset: UInt64
    /// Byte count (ignored for flush).
    public var length: Int
    /// The data buffer (nil for flush). `IOBuffer`s are aligned for the `O_DIRECT` fast path.
    public var buffer: UnsafeMutableRawPointer?
    /// For writes: stable before completion (SBC-3 FUA): `RWF_DSYNC`, or write then `fdatasync`.
    public var fua: Bool

    /// Creates a request.
    public init(op: IOOperation, offset: UInt64, length: Int, buffer: UnsafeMutableRawPointer?, fua: Bool = false) {
        self.op = op
        self.offset = offset
        self.length = length
        self.buffer = buffer
        self.fua = fua
    }

    /// A read of `length` bytes at `offset` into `buffer`.
    public static func read(offset: UInt64, length: Int, into buffer: UnsafeMutableRawPointer) -> IORequest {
        IORequest(op: .read, offset: offset, length: length, buffer: buffer)
    }

    /// A write of `length` bytes from `buffer` at `offset`.
    public static func write(offset: UInt64, length: Int, from buffer: UnsafeMutableRawPointer, fua: Bool = false) -> IORequest {
        IORequest(op: .write, offset: offset, length: length, buffer: buffer, fua: fua)
    }

    /// Deallocation of `length` bytes at `offset` (reads return zeros afterwards).
    public static func discard(offset: UInt64, length: Int) -> IORequest {
        IORequest(op: .discard, offset: offset, length: length, buffer: nil)
    }

    /// A cache flush.
    public static var flush: IORequest {
        IORequest(op: .flush, offset: 0, length: 0, buffer: nil)
    }
}
