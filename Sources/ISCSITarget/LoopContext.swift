import BlockStore
import LinuxIO
import Logging

/// Daemon-wide settings the runtime needs (from the command line and defaults).
public struct ServerSettings: Sendable {
    /// RFC 7143 §13.9: TargetPortalGroupTag; IET always uses 1.
    public var portalGroupTag: UInt16 = 1
    /// Seconds a connection may take to finish its login.
    public var loginTimeoutSeconds: UInt64 = 30
    /// Commands a session may have outstanding (CmdSN window), unless the target sets QueuedCommands.
    public var defaultQueuedCommands: Int = 128
    /// Cap on data segments we send (IET's MaxXmitDataSegmentLength), unless the target sets it.
    public var maxXmitDataSegmentLength: Int = 262_144
    /// Connections in total / still logging in.
    public var maxConnections: Int = 4096
    public var maxConnectionsInLogin: Int = 256
    /// Connections still logging in from one peer address (IET allowed 32 in login in total).
    public var maxConnectionsInLoginPerHost: Int = 64
    /// Bytes of responses queued for a peer before we stop reading from it (back-pressure).
    public var maxQueuedBytesPerConnection: Int = 32 << 20
    /// Bytes of data buffers a connection's commands may hold at once; beyond it → TASK SET FULL (SAM-5 §5.3).
    public var maxBufferedBytesPerConnection: Int = 128 << 20
    /// Idle data buffers each event loop keeps for reuse (`IOBufferPool`); buffers in use are bounded by
    /// ``maxBufferedBytesPerConnection`` per connection.
    public var bufferCacheBytesPerLoop: Int = 256 << 20
    /// Longest busy-poll window of an idle loop at queue depth 1, in µs (`EventLoop.pollBriefly`); 0 = never poll.
    public var pollMicroseconds: Int = 100
    /// Pin event loop i to the i-th CPU the daemon may use (`--no-pin-loops` turns it off).
    public var pinLoops = true
    public init() {}
}

/// Per-event-loop resources: the loop, its I/O engine and buffer pool.
final class LoopContext {
    let loop: EventLoop
    let engine: IOEngine
    let pool: IOBufferPool
    let executor: SCSIExecutor
    let registry: TargetRegistry
    let settings: ServerSettings
    let logger: Logger
    /// Live connections on this loop, by id.
    var connections: [UInt64: Connection] = [:]
    /// SCSI commands alive on this loop (all connections): the queue-depth signal for busy-polling.
    let load = LoopLoad()

    init(loop: EventLoop, engine: IOEngine, pool: IOBufferPool, registry: TargetRegistry, settings: ServerSettings, logger: Logger) {
        self.loop = loop
        self.engine = engine
        self.pool = pool
        self.executor = SCSIExecutor(engine: engine, pool: pool)
        self.registry = registry
        self.settings = settings
        self.logger = logger
    }
}

/// Loop-confined count of live `SCSITask`s (incremented at creation, decremented in `deinit`). At most one
/// means the loop serves queue depth 1, where polling beats sleeping (`EventLoop.pollBriefly`).
final class LoopLoad {
    var activeTasks = 0
    /// CDB arrays of freed tasks, refilled in place by the next commands' header decode (an allocation and a
    /// free per command saved). Bounded.
    var spareCDBs: [[UInt8]] = []
    static let maxSpareCDBs = 256

    func recycle(cdb: [UInt8]) {
        if cdb.count == 16 && spareCDBs.count < Self.maxSpareCDBs { spareCDBs.append(cdb) }
    }
}
