import CShims
import Glibc
import LinuxIO
import Synchronization

/// What a LUN is backed by.
public enum BackingKind: Sendable {
    /// A regular file (IET `Type=fileio`).
    case file
    /// A block device (IET `Type=blockio`).
    case blockDevice
    /// No storage: reads return zeros, writes are discarded (IET `Type=nullio`).
    case null
}

/// An open backing store, shared by all event loops (pread/pwrite/aio on a shared fd are thread-safe).
///
/// The descriptors are closed when the last reference goes away; in-flight requests hold a reference.
public final class BackingDevice: Sendable {
    /// The path it was opened from; nil for a null device.
    public let path: String?
    /// File, block device or null.
    public let kind: BackingKind
    /// Size in bytes (`BLKGETSIZE64` for block devices, `st_size` for files).
    public let sizeInBytes: UInt64
    /// `BLKSSZGET` for block devices, 512 for files and null devices.
    public let logicalBlockSize: UInt32
    /// Bytes the store writes all-or-nothing across power loss, for a write of at most this many bytes at an offset
    /// that is a multiple of it (SBC-4 §4.29 WRITE ATOMIC rests on this). Block devices: the physical sector
    /// (`BLKPBSZGET`) when the device's first physical sector is aligned (`BLKALIGNOFF` 0), else the logical sector
    /// (`BLKSSZGET`). Files: 512 — the filesystem's device is not probed, and a 512-aligned 512-byte range lies in
    /// one sector of any device. Null devices store nothing, so any write is trivially atomic (64 KiB reported).
    public let powerFailAtomicBytes: UInt32
    /// True when the fast path fd is open with `O_DIRECT`.
    public let isDirect: Bool
    /// True when opened read-only; writes complete with EROFS.
    public let readOnly: Bool
    /// Why `O_DIRECT` was asked for but not used (the filesystem refused it), for the log. Nil otherwise.
    public let directFallbackReason: String?

    /// The fast-path fd (`O_DIRECT` when ``isDirect``); -1 for null devices.
    let fd: Int32
    /// A buffered fd for requests that are not aligned for `O_DIRECT` (same as `fd` when not direct).
    let bufferedFD: Int32
    /// The alignment `O_DIRECT` needs for offset, length and buffer address: the logical block size for block
    /// devices; for files what `statx(STATX_DIOALIGN)` reports, or what a probe read found (see ``open``).
    public let directAlignment: Int
    /// Feature probes learned at run time, shared by all engines (bits of `Probe`).
    let probes = Atomic<UInt8>(0)

    enum Probe: UInt8 {
        /// preadv2(RWF_NOWAIT) answered EOPNOTSUPP/EINVAL.
        case noNowaitRead = 1
        /// pwritev2(RWF_NOWAIT) answered EOPNOTSUPP/EINVAL.
        case noNowaitWrite = 2
        /// IOCB_CMD_FDSYNC was refused at io_submit.
        case noAIOFdsync = 4
        /// aio_rw_flags = RWF_DSYNC was refused at io_submit.
        case noAIODsync = 8
        /// pwritev2(RWF_DSYNC) was refused.
        case noPwriteDsync = 16
    }

    func has(_ probe: Probe) -> Bool { probes.load(ordering: .relaxed) & probe.rawValue != 0 }
    func learn(_ probe: Probe) { probes.bitwiseOr(probe.rawValue, ordering: .relaxed) }

    init(path: String?, kind: BackingKind, size: UInt64, logicalBlockSize: UInt32, fd: Int32, bufferedFD: Int32,
         isDirect: Bool, readOnly: Bool, directFallbackReason: String?, powerFailAtomicBytes: UInt32? = nil,
         directAlignment: Int? = nil) {
        self.path = path
        self.kind = kind
        self.sizeInBytes = size
        self.logicalBlockSize = logicalBlockSize
        self.fd = fd
        self.bufferedFD = bufferedFD
        self.isDirect = isDirect
        self.readOnly = readOnly
        self.directFallbackReason = directFallbackReason
        switch kind {
        case .blockDevice: self.powerFailAtomicBytes = powerFailAtomicBytes ?? logicalBlockSize
        case .file: self.powerFailAtomicBytes = powerFailAtomicBytes ?? 512
        case .null: self.powerFailAtomicBytes = powerFailAtomicBytes ?? 65536
        }
        switch kind {
        case .blockDevice: self.directAlignment = max(Int(logicalBlockSize), 512)
        case .file: self.directAlignment = directAlignment ?? IOBufferPool.alignment
        case .null: self.directAlignment = 1
        }
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
        if bufferedFD >= 0 && bufferedFD != fd { _ = Glibc.close(bufferedFD) }
    }

    /// Opens a file or block device.
    ///
    /// - Parameters:
    ///   - path: a regular file or a block device.
    ///   - readOnly: open `O_RDONLY`.
    ///   - direct: try `O_DIRECT` (libaio fast path). If the filesystem refuses it (EINVAL), the device is opened
    ///     buffered and ``directFallbackReason`` says so. A direct device also keeps a buffered fd for
    ///     requests that are not block-aligned.
    /// - Throws: `SystemError` from `open`, `fstat` or the block-device ioctls; EINVAL (call `"fstat"`) when the
    ///   path is neither a regular file nor a block device, or a block device reports a bad block size.
    public static func open(path: String, readOnly: Bool, direct: Bool) throws(SystemError) -> BackingDevice {
        var isDirect = direct
        var fallback: String?
        var fd = try openRetrying(path, readOnly: readOnly, direct: direct, allowEINVAL: direct)
        if fd < 0 {
            isDirect = false
            fallback = "O_DIRECT refused (EINVAL) for \(path); using buffered I/O"
            fd = try openRetrying(path, readOnly: readOnly, direct: false, allowEINVAL: false)
        }
        var size: UInt64 = 0
        let kind: BackingKind
        var blockSize: UInt32 = 512
        var atomicBytes: UInt32?
        do throws(SystemError) {
            switch cshims_stat_kind(fd, &size) {
            case 1:
                kind = .blockDevice
                guard cshims_blk_getsize64(fd, &size) == 0 else {
                    throw SystemError(errno: Glibc.errno, call: "ioctl(BLKGETSIZE64)")
                }
                var ssz: Int32 = 0
                guard cshims_blk_logical_block_size(fd, &ssz) == 0 else {
                    throw SystemError(errno: Glibc.errno, call: "ioctl(BLKSSZGET)")
                }
                // SBC-3 §6.4.2: the logical block length is a power of two of at least 512 bytes.
                guard ssz >= 512, ssz <= 65536, ssz & (ssz - 1) == 0 else {
                    throw SystemError(errno: EINVAL, call: "ioctl(BLKSSZGET)")
                }
                blockSize = UInt32(ssz)
                atomicBytes = physicalSectorIfAligned(fd, logical: blockSize)
            case 2:
                kind = .file
            case 0:
                throw SystemError(errno: EINVAL, call: "fstat")
            default:
                throw SystemError(errno: Glibc.errno, call: "fstat")
            }
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        var alignment: Int?
        if isDirect && kind == .file { alignment = fileDirectAlignment(fd, size: size) }
        var buffered = fd
        if isDirect {
            do throws(SystemError) {
                buffered = try openRetrying(path, readOnly: readOnly, direct: false, allowEINVAL: false)
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
        }
        return BackingDevice(path: path, kind: kind, size: size, logicalBlockSize: blockSize, fd: fd,
                             bufferedFD: buffered, isDirect: isDirect, readOnly: readOnly,
                             directFallbackReason: fallback, powerFailAtomicBytes: atomicBytes,
                             directAlignment: alignment)
    }

    /// The `O_DIRECT` alignment of a regular file. A file LUN usually has 512-byte blocks, so assuming the page
    /// size would send every I/O that is not 4 KiB-aligned (random 4K reads at 512-byte LBAs) to the worker pool.
    /// - `statx(STATX_DIOALIGN)` (Linux 6.1; ext4, xfs, btrfs): the larger of its memory and offset alignment.
    /// - Not reported (tmpfs, older kernels): one 512-byte `O_DIRECT` read at offset 512 into a buffer that is
    ///   512- but not 4096-aligned; if the filesystem takes it, 512 serves for offset, length and memory.
    /// - Otherwise the page size, as before (a misaligned request then goes to the buffered fd, never fails).
    private static func fileDirectAlignment(_ fd: Int32, size: UInt64) -> Int {
        var memory: UInt32 = 0, offset: UInt32 = 0
        if cshims_dio_alignment(fd, &memory, &offset) == 1, offset > 0 {
            let a = Int(max(memory, offset))
            // Power of two, at most 1 MiB: anything else is not a value we can align requests to.
            if a & (a - 1) == 0, a <= 1 << 20 { return a }
            return 1 << 30  // not a usable alignment: no request qualifies, all take the buffered fd
        }
        guard size >= 1024 else { return IOBufferPool.alignment }
        let probe = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { probe.deallocate() }
        return cshims_pread2(fd, probe + 512, 512, 512, 0) == 512 ? 512 : IOBufferPool.alignment
    }

    /// `BLKPBSZGET` / `BLKALIGNOFF` (linux/fs.h `_IO(0x12, 123)` / `_IO(0x12, 122)`): the physical sector size when it
    /// is a power of two ≥ the logical one and the device's first LBA starts a physical sector; otherwise the
    /// logical sector size (a logical sector is always written whole). Probe failures fall back to the logical size.
    private static func physicalSectorIfAligned(_ fd: Int32, logical: UInt32) -> UInt32 {
        var physical: UInt32 = 0
        var alignment: Int32 = -1
        guard ioctl(fd, UInt(0x127B), &physical) == 0, ioctl(fd, UInt(0x127A), &alignment) == 0,
              alignment == 0, physical >= logical, physical <= 65536, physical & (physical &- 1) == 0
        else { return logical }
        return physical
    }

    /// A null device of the given size: reads are zero-filled, writes discarded, flushes succeed.
    public static func null(sizeInBytes: UInt64) -> BackingDevice {
        BackingDevice(path: nil, kind: .null, size: sizeInBytes, logicalBlockSize: 512, fd: -1, bufferedFD: -1,
                      isDirect: false, readOnly: false, directFallbackReason: nil)
    }

    /// Returns -1 instead of throwing for EINVAL when `allowEINVAL` (the O_DIRECT probe).
    private static func openRetrying(_ path: String, readOnly: Bool, direct: Bool, allowEINVAL: Bool) throws(SystemError) -> Int32 {
        while true {
            let fd = cshims_open_backing(path, readOnly ? 1 : 0, direct ? 1 : 0)
            if fd >= 0 { return fd }
            let err = Glibc.errno
            if err == EINTR { continue }
            if err == EINVAL && allowEINVAL { return -1 }
            throw SystemError(errno: err, call: direct ? "open(O_DIRECT)" : "open")
        }
    }
}

extension BackingDevice {
    /// SEEK_DATA / SEEK_HOLE `whence` values (Linux ABI; Glibc does not import the names).
    static let seekData: Int32 = 3
    static let seekHole: Int32 = 4

    /// Allocation status of the device at byte `offset` (SBC-3 §5.6 GET LBA STATUS): whether the bytes there
    /// are mapped (hold data) or deallocated (a hole that reads as zeros), and how many bytes from `offset`
    /// share that status, at most up to ``sizeInBytes``.
    ///
    /// Files use `lseek(SEEK_DATA/SEEK_HOLE)`; block devices, null devices and file systems without hole
    /// reporting answer "mapped up to the end". A metadata lookup, cheap enough for the loop thread.
    /// - Returns: nil when `offset` is at or past the end of the device.
    /// Flushes written data to stable storage, blocking (`fdatasync`). For shutdown only, never on an
    /// event loop's I/O path. Returns the errno on failure.
    public func synchronize() -> Int32? {
        guard kind != .null, !readOnly else { return nil }
        for f in Set([fd, bufferedFD]) where f >= 0 {
            if Glibc.fdatasync(f) != 0 { return errno }
        }
        return nil
    }

    public func allocationExtent(at offset: UInt64) -> (mapped: Bool, length: UInt64)? {
        guard offset < sizeInBytes, offset <= UInt64(Int64.max) else { return nil }
        let rest = sizeInBytes - offset
        guard kind == .file else { return (kind != .null, rest) }
        let start = Int64(offset)
        let data = lseek(bufferedFD, off_t(start), Self.seekData)
        if data < 0 {
            // ENXIO: no data at or after offset → a hole to the end; anything else: no hole support.
            return Glibc.errno == ENXIO ? (false, rest) : (true, rest)
        }
        if Int64(data) > start {
            return (false, min(UInt64(Int64(data) - start), rest))
        }
        let hole = lseek(bufferedFD, off_t(start), Self.seekHole)
        guard hole > start else { return (true, rest) }
        return (true, min(UInt64(Int64(hole) - start), rest))
    }
}
