import BlockStore
import IETConfig
import ISCSINegotiation
import LinuxIO
import SCSICommands
import Synchronization

/// One logical unit at run time: its SCSI description and the opened backing store.
public final class LogicalUnit: Sendable {
    public let info: LogicalUnitInfo
    public let device: BackingDevice
    public let config: LUNConfig
    /// Unit attentions and reservations, shared by all nexuses.
    public let state = LogicalUnitState()
    /// IOMode=wt: every write reaches stable storage before GOOD (RWF_DSYNC / fdatasync).
    public var writeThrough: Bool { config.ioMode == .wt }

    /// Logical blocks per O_DIRECT alignment unit when a direct backing store needs more alignment than one
    /// block (BlockSize=512 on a 4 KiB-sector device, or on a file system whose direct I/O wants 4 KiB), else 1.
    /// Writes not aligned to it go through the page cache (read-modify-write of the unit) and must not overlap an
    /// O_DIRECT write of the same unit in flight: see `SCSIExecutor.withRangeLock(write:)`.
    public let alignmentBlocks: UInt64

    public init(info: LogicalUnitInfo, device: BackingDevice, config: LUNConfig) {
        self.info = info
        self.device = device
        self.config = config
        transferLimits = BlockTransferLimits(info)
        let unit = UInt64(max(device.directAlignment, 1))
        let bs = UInt64(max(info.blockSize, 1))
        alignmentBlocks = device.isDirect && unit > bs && unit % bs == 0 ? unit / bs : 1
    }

    /// Blocks [lba, lba + blocks) widened to whole alignment units, or nil when they already are (or the unit
    /// is 1 block). The parser keeps `lba + blocks` within the block count; should it not, the range widens to
    /// the end of the address space (more locking, never less).
    func widenedToAlignment(lba: UInt64, blocks: UInt64) -> (lba: UInt64, blocks: UInt64)? {
        let k = alignmentBlocks
        guard k > 1, blocks > 0, lba % k != 0 || blocks % k != 0 else { return nil }
        let start = lba - lba % k
        let (end, o1) = lba.addingReportingOverflow(blocks)
        let (roundedEnd, o2) = end.addingReportingOverflow((k - end % k) % k)
        return (start, (o1 || o2 ? UInt64.max : roundedEnd) - start)
    }

    /// `info`'s READ / WRITE limits as a plain value: the per-command parse takes these (passing `info` itself
    /// copied its five reference-counted fields, ≈ 350 instructions per command in callgrind).
    private let transferLimits: BlockTransferLimits

    /// Parses a CDB addressed to this unit (SCSICommands' `CommandParser`); READ / WRITE take the fast path.
    func parse(_ cdb: [UInt8]) throws(SenseReason) -> ParsedCommand {
        if let parsed = try CommandParser.parseDataTransfer(cdb, limits: transferLimits) { return parsed }
        return try CommandParser.parse(cdb, unit: info)
    }

    /// Opens the backing store described by `config` and derives the SCSI description.
    public static func open(_ config: LUNConfig) throws -> LogicalUnit {
        let readOnly = config.ioMode == .ro
        let device: BackingDevice
        switch config.type {
        case .nullio:
            let blockSize = UInt64(config.blockSize ?? 512)
            // IET: Blocks= default is 64 GiB worth of blocks.
            let (bytes, overflow) = (config.blocks ?? ((1 << 36) / blockSize)).multipliedReportingOverflow(by: blockSize)
            guard !overflow else { throw RuntimeError("LUN \(config.lun): nullio size overflows") }
            device = BackingDevice.null(sizeInBytes: bytes)
        case .fileio, .blockio:
            guard let path = config.path else { throw RuntimeError("LUN \(config.lun): no Path") }
            // blockio bypasses the page cache (O_DIRECT + libaio); fileio keeps IET's page-cache semantics.
            device = try BackingDevice.open(path: path, readOnly: readOnly, direct: config.type == .blockio)
        }
        let blockSize = config.blockSize ?? max(512, device.logicalBlockSize)
        guard blockSize == 512 || blockSize == 4096 else {
            throw RuntimeError("LUN \(config.lun): BlockSize \(blockSize) unsupported (512 or 4096)")
        }
        let blocks = device.sizeInBytes / UInt64(blockSize)
        guard blocks > 0 else { throw RuntimeError("LUN \(config.lun): backing store is smaller than one block") }
        // SBC-4 §5.20.2 READ CAPACITY(16): blocks smaller than the device's (BlockSize=512 on an LV of a 4Kn
        // disk — IET refused this) report the device's block as the physical block, so initiators align to it.
        // Requests that still do not are served through the buffered fd under an exclusive range lock widened
        // to whole device blocks (LogicalUnit.alignmentBlocks, SCSIExecutor+Locking.swift).
        var exponent: UInt8 = 0
        if device.kind == .blockDevice, device.logicalBlockSize > blockSize {
            exponent = UInt8(truncatingIfNeeded: (device.logicalBlockSize / blockSize).trailingZeroBitCount)
        }
        // Transfers are bounded so that one command never pins more than 8 MiB of buffer.
        let maxTransferBytes: UInt32 = 8 << 20
        var info = LogicalUnitInfo(
            lun: config.lun,
            blockSize: blockSize,
            blockCount: blocks,
            readOnly: readOnly,
            writeCacheEnabled: config.ioMode == .wb,
            scsiID: config.scsiID,
            serialNumber: config.scsiSN,
            physicalBlockExponent: exponent,
            maximumTransferBlocks: maxTransferBytes / blockSize,
            optimalTransferBlocks: (1 << 20) / blockSize
        )
        // SBC-4 §6.6.4: WRITE ATOMIC(16) only as far as the backing store is power-fail atomic (SCSIExecutor+Atomic.swift).
        info.setAtomicWriteLimits(blocks: LogicalUnit.atomicWriteBlocks(blockSize: blockSize, device: device))
        return LogicalUnit(info: info, device: device, config: config)
    }
}

/// A target at run time.
public final class Target: Sendable {
    public let config: TargetConfig
    public let policy: TargetNegotiationPolicy
    public let units: [UInt16: LogicalUnit]
    /// IET QueuedCommands when the configuration sets it (CmdSN window); nil → the daemon's default.
    public let queuedCommands: Int?
    public var name: String { config.name }
    public var tid: Int { config.tid }
    public var lunList: [UInt16] { units.keys.sorted() }

    public init(config: TargetConfig, policy: TargetNegotiationPolicy, units: [UInt16: LogicalUnit], queuedCommands: Int?) {
        self.config = config
        self.policy = policy
        self.units = units
        self.queuedCommands = queuedCommands
    }
}

public struct RuntimeError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Key of an I_T nexus as far as session identity goes (RFC 7143 §4.4.3: InitiatorName + ISID, TargetName + TPGT).
struct SessionKey: Hashable, Sendable {
    var initiatorName: String
    var isid: UInt64
    var targetName: String
}

/// What other threads may do with a live session: ask it to go away (reinstatement, forced target removal).
struct SessionHandle: Sendable {
    let id: UInt64
    let tsih: UInt16
    let shutdown: @Sendable (_ reason: String, _ done: @escaping @Sendable () -> Void) -> Void
}

/// A snapshot of a session for `show sessions` and /proc/net/iet/session-style output.
public struct SessionInfo: Sendable {
    public var tid: Int
    public var targetName: String
    public var sid: UInt64
    public var tsih: UInt16
    public var initiatorName: String
    public var peer: String
    public var headerDigest: Bool
    public var dataDigest: Bool
    public var parameters: [(String, String)]
}

/// Targets, LUNs, access control and live sessions, shared by all event loops.
public final class TargetRegistry: Sendable {
    private struct State {
        var targets: [String: Target] = [:]          // key: lowercased name (IET compares with strcasecmp)
        var order: [String] = []
        var access: AccessControl
        var discovery: Configuration
        var sessions: [SessionKey: SessionHandle] = [:]
        var sessionInfo: [UInt64: SessionInfo] = [:]
        var listeners: [SocketAddress] = []
        var nextTSIH: UInt16 = 1
        var nextSessionID: UInt64 = 1
    }
    private let state: Mutex<State>

    public init(configuration: Configuration, targets: [Target], access: AccessControl) {
        var s = State(access: access, discovery: configuration)
        for t in targets {
            s.targets[t.name.lowercased()] = t
            s.order.append(t.name.lowercased())
        }
        state = Mutex(s)
    }

    /// Listening portals (set by the server), for SendTargets.
    public var listeners: [SocketAddress] {
        get { state.withLock { $0.listeners } }
    }

    func addListener(_ address: SocketAddress) {
        state.withLock { $0.listeners.append(address) }
    }

    public func target(named name: String) -> Target? {
        state.withLock { $0.targets[name.lowercased()] }
    }

    public var allTargets: [Target] {
        state.withLock { s in s.order.compactMap { s.targets[$0] } }
    }

    public var accessControl: AccessControl { state.withLock { $0.access } }
    public var configuration: Configuration { state.withLock { $0.discovery } }

    /// Replaces targets and access rules (reload). Sessions stay as they are.
    public func replace(configuration: Configuration, targets: [Target], access: AccessControl) {
        state.withLock { s in
            s.targets = [:]
            s.order = []
            for t in targets {
                s.targets[t.name.lowercased()] = t
                s.order.append(t.name.lowercased())
            }
            s.access = access
            s.discovery = configuration
        }
    }

    func allocateSessionID() -> (id: UInt64, tsih: UInt16) {
        state.withLock { s in
            let id = s.nextSessionID
            s.nextSessionID &+= 1
            var tsih = s.nextTSIH
            // RFC 7143 §11.12.6: TSIH 0 is reserved for "new session".
            if tsih == 0 { tsih = 1 }
            s.nextTSIH = tsih &+ 1
            return (id, tsih)
        }
    }

    /// Registers a new session; returns the session it replaces (reinstatement), if any.
    func register(_ key: SessionKey, handle: SessionHandle, info: SessionInfo) -> SessionHandle? {
        state.withLock { s in
            let old = s.sessions[key]
            s.sessions[key] = handle
            s.sessionInfo[handle.id] = info
            if let old { s.sessionInfo[old.id] = nil }
            return old
        }
    }

    func existingSession(_ key: SessionKey) -> SessionHandle? {
        state.withLock { $0.sessions[key] }
    }

    func unregister(_ key: SessionKey, id: UInt64) {
        state.withLock { s in
            if s.sessions[key]?.id == id { s.sessions[key] = nil }
            s.sessionInfo[id] = nil
        }
    }

    func sessionCount(target: String) -> Int {
        state.withLock { s in s.sessions.keys.filter { $0.targetName.lowercased() == target.lowercased() }.count }
    }

    /// Every live I_T nexus of a target (for unit attentions and reservations that concern other nexuses).
    public func nexuses(forTarget name: String, portalGroupTag: UInt16 = 1) -> [NexusID] {
        let lowered = name.lowercased()
        return state.withLock { s in
            s.sessions.keys.filter { $0.targetName == lowered }.map {
                NexusID(initiatorName: $0.initiatorName, isid: $0.isid, targetName: $0.targetName, portalGroupTag: portalGroupTag)
            }
        }
    }

    public var sessions: [SessionInfo] {
        state.withLock { s in s.sessionInfo.values.sorted { ($0.tid, $0.sid) < ($1.tid, $1.sid) } }
    }
}
