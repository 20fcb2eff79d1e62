import BlockStore
import CShims
import Glibc
import IETConfig
import ISCSINegotiation
import LinuxIO
import Logging
import SCSICommands
import Synchronization

/// A listening address, e.g. `0.0.0.0:3260` or `[::]:3260`.
public struct Portal: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }
    /// Parses `ADDR:PORT`, `[V6]:PORT`, or `ADDR` (port 3260).
    public init?(parsing text: String) {
        var host = text
        var port: UInt16 = 3260
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let p = UInt16(rest.dropFirst()) else { return nil }
                port = p
            } else if !rest.isEmpty { return nil }
        } else if let colon = text.lastIndex(of: ":"), text.filter({ $0 == ":" }).count == 1 {
            host = String(text[..<colon])
            guard let p = UInt16(text[text.index(after: colon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Builds run-time targets from a parsed configuration (opens every backing store).
public enum TargetBuilder {
    public static func build(_ configuration: Configuration, logger: Logger) throws -> [Target] {
        var targets: [Target] = []
        for tc in configuration.targets {
            var units: [UInt16: LogicalUnit] = [:]
            for lc in tc.luns {
                do {
                    let unit = try LogicalUnit.open(lc)
                    units[lc.lun] = unit
                    // Test-only fault injection (ISCSI_TARGET_FAULTS, docs/hardening.md); off unless set.
                    let faults = FaultInjection.attachFromEnvironment(to: unit.device)
                    if !faults.rules.isEmpty || !faults.invalid.isEmpty {
                        logger.warning("fault injection active", metadata: [
                            "iscsi.target": "\(tc.name)", "scsi.lun": "\(lc.lun)",
                            "rules": "\(faults.rules.count)", "invalid": "\(faults.invalid)"])
                    }
                    logger.info("LUN ready", metadata: [
                        "iscsi.target": "\(tc.name)", "scsi.lun": "\(lc.lun)", "type": "\(lc.type.rawValue)",
                        "path": "\(lc.path ?? "-")", "blocks": "\(unit.info.blockCount)", "blocksize": "\(unit.info.blockSize)",
                        "iomode": "\(lc.ioMode.rawValue)", "direct": "\(unit.device.isDirect)",
                        "direct.align": "\(unit.device.isDirect ? String(unit.device.directAlignment) : "-")"])
                    if unit.device.isDirect && Int(unit.info.blockSize) < unit.device.directAlignment {
                        // Correct either way (such requests use the buffered fd), but slower: say so once.
                        logger.notice("LUN block size is below the backing store's O_DIRECT alignment: requests not aligned to it take the buffered path", metadata: [
                            "iscsi.target": "\(tc.name)", "scsi.lun": "\(lc.lun)", "blocksize": "\(unit.info.blockSize)",
                            "direct.align": "\(unit.device.directAlignment)"])
                    }
                } catch {
                    throw RuntimeError("\(lc.location.file):\(lc.location.line): target \(tc.name) LUN \(lc.lun): \(error)")
                }
            }
            let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters(tc.iscsiParameters)
            for w in warnings { logger.warning("\(w)", metadata: ["iscsi.target": "\(tc.name)"]) }
            targets.append(Target(config: tc, policy: policy, units: units, queuedCommands: tc.queuedCommandsIfSet))
        }
        return targets
    }
}

/// The daemon's runtime: event loops, portals, connections.
public final class TargetServer: Sendable {
    public let registry: TargetRegistry
    let loops: [EventLoop]
    let contexts: [LoopBound<LoopContext>]
    let logger: Logger
    let settings: ServerSettings
    private struct Shared {
        var listeners: [(fd: Int32, address: SocketAddress)] = []
        var nextConnection: UInt64 = 1
        var roundRobin = 0
        var connectionCount = 0
        var loginCount = 0
        /// Connections still logging in, per peer address (one host cannot take every login slot).
        var loginsByHost: [String: Int] = [:]
        var stopping = false
    }
    private let shared = Mutex(Shared())

    /// Starts `loopCount` event loops (one per core by default).
    public init(registry: TargetRegistry, settings: ServerSettings, loopCount: Int, logger: Logger) throws {
        self.registry = registry
        self.settings = settings
        self.logger = logger
        let loops = try EventLoop.startLoops(count: max(1, loopCount), namePrefix: "iscsi-loop")
        self.loops = loops
        var contexts: [LoopBound<LoopContext>] = []
        for (index, loop) in loops.enumerated() {
            // Each loop owns its engine and pool; they are created on (and only used from) that loop.
            let box = Mutex<LoopBound<LoopContext>?>(nil)
            let sem = Semaphore()
            let reg = registry
            let s = settings
            let l = logger
            loop.execute {
                do {
                    loop.maxPollNanoseconds = UInt64(s.pollMicroseconds) * 1_000
                    if s.pinLoops {
                        // One loop per CPU, each staying on its own: the initiator-side work (on loopback the
                        // client itself), softirqs and block-layer workers get the other CPUs instead of
                        // trading places with the loop (measured: −20 % CPU per 4K write, docs/performance.md).
                        let cpu = cshims_pin_thread_to_allowed_cpu(Int32(index))
                        if cpu < 0 { l.notice("event loop not pinned", metadata: ["loop": "\(loop.name)", "errno": "\(-cpu)"]) }
                    }
                    let engine = try IOEngine(loop: loop)
                    let pool = IOBufferPool(maxCachedBytes: s.bufferCacheBytesPerLoop)
                    let ctx = LoopContext(loop: loop, engine: engine, pool: pool, registry: reg, settings: s, logger: l)
                    box.withLock { $0 = LoopBound(ctx, loop: loop) }
                } catch {
                    l.error("cannot create the I/O engine", metadata: ["error": "\(error)"])
                }
                sem.signal()
            }
            sem.wait()
            guard let ctx = box.withLock({ $0 }) else { throw RuntimeError("event loop set-up failed") }
            contexts.append(ctx)
        }
        self.contexts = contexts
    }

    /// Opens a listening socket on each portal; accepted connections are spread over the loops.
    public func listen(on portals: [Portal]) throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        for portal in portals {
            let (fd, address): (Int32, SocketAddress)
            do {
                (fd, address) = try Socket.listenTCP(host: portal.host, port: portal.port, backlog: 256)
            } catch {
                throw RuntimeError("cannot listen on \(portal): \(error)")
            }
            shared.withLock { $0.listeners.append((fd, address)) }
            registry.addListener(address)
            bound.append(address)
            let acceptor = Acceptor(fd: fd, address: address, server: self)
            let loop = loops[0]
            let box = Handoff(acceptor)
            loop.execute {
                do {
                    let r = try loop.register(fd: fd, events: [.readable], handler: box.value)
                    box.value.registration = r
                } catch {
                    self.logger.error("cannot watch listener", metadata: ["portal": "\(address)", "error": "\(error)"])
                }
            }
            logger.info("listening", metadata: ["portal": "\(address)"])
        }
        return bound
    }

    /// Called on loop 0 for each accepted socket: hands it to the next loop (round robin).
    fileprivate func accepted(fd: Int32, peer: SocketAddress, listener: SocketAddress) {
        let (id, index, refuse) = shared.withLock { s -> (UInt64, Int, Bool) in
            if s.stopping || s.connectionCount >= settings.maxConnections || s.loginCount >= settings.maxConnectionsInLogin
                || s.loginsByHost[peer.host, default: 0] >= settings.maxConnectionsInLoginPerHost {
                return (0, 0, true)
            }
            s.loginsByHost[peer.host, default: 0] += 1
            let id = s.nextConnection
            s.nextConnection &+= 1
            let index = s.roundRobin % loops.count
            s.roundRobin &+= 1
            s.connectionCount += 1
            s.loginCount += 1
            return (id, index, false)
        }
        if refuse {
            logger.warning("connection refused: connection/login limit reached or stopping", metadata: ["peer": "\(peer)"])
            Socket.close(fd)
            return
        }
        Socket.setNoDelay(fd)
        let local = (try? Socket.localAddress(fd)) ?? listener
        let ctxBox = contexts[index]
        ctxBox.loop.execute { [self] in
            let ctx = ctxBox.owned
            let conn = Connection(id: id, fd: fd, peer: peer, local: local, ctx: ctx)
            ctx.connections[id] = conn
            conn.addCloseHandler { [self] in
                shared.withLock { $0.connectionCount -= 1 }
            }
            let host = peer.host
            conn.onLoginFinished = { [self] in
                shared.withLock { s in
                    s.loginCount -= 1
                    let left = s.loginsByHost[host, default: 1] - 1
                    s.loginsByHost[host] = left > 0 ? left : nil
                }
            }
            do {
                try conn.start()
            } catch {
                conn.close(reason: "cannot register: \(error)")
            }
        }
    }

    /// SCSI tasks alive on all event loops (diagnostics and tests): a task lives from its command PDU until its
    /// response is sent and nothing references it any more. It is the queue-depth signal busy-polling relies on,
    /// so a task kept alive by a stale reference would disturb polling. Blocks until every loop answered.
    public func liveSCSITaskCount() -> Int {
        let total = Mutex(0)
        for ctxBox in contexts {
            let done = Semaphore()
            ctxBox.loop.execute {
                let n = ctxBox.owned.load.activeTasks
                total.withLock { $0 += n }
                done.signal()
            }
            done.wait(timeoutSeconds: 5)
        }
        return total.withLock { $0 }
    }

    /// Graceful stop: stop accepting, let in-flight I/O finish, close every connection.
    public func stop() {
        let listeners = shared.withLock { s -> [(fd: Int32, address: SocketAddress)] in
            s.stopping = true
            let l = s.listeners
            s.listeners = []
            return l
        }
        let sem = Semaphore()
        loops[0].execute {
            for l in listeners { Socket.close(l.fd) }
            sem.signal()
        }
        sem.wait()
        for ctxBox in contexts {
            let done = Semaphore()
            ctxBox.loop.execute {
                let ctx = ctxBox.owned
                let conns = Array(ctx.connections.values)
                if conns.isEmpty { done.signal(); return }
                let remaining = Mutex(conns.count)
                for c in conns {
                    c.shutdownAfterSettling(reason: "daemon stopping") {
                        let left = remaining.withLock { n -> Int in n -= 1; return n }
                        if left == 0 { done.signal() }
                    }
                }
            }
            done.wait(timeoutSeconds: 30)
        }
        // Everything acknowledged is now on its way; make write-back (IOMode=wb) data stable too.
        for t in registry.allTargets {
            for (lun, u) in t.units {
                if let e = u.device.synchronize() {
                    logger.error("flush at shutdown failed", metadata: ["iscsi.target": "\(t.name)", "scsi.lun": "\(lun)", "errno": "\(e)"])
                }
            }
        }
        for loop in loops { loop.stop() }
        // Join the loop threads so nothing of ours runs after stop() returns (unless called from a loop).
        for loop in loops where !loop.isInLoopThread { loop.waitUntilStopped() }
    }

    /// Applies a new configuration (SIGHUP / `iscsi-targetadm reload`): unchanged LUNs keep their open
    /// backing stores and sessions never notice; new targets/LUNs/ACLs take effect at once; sessions of a
    /// target whose LUN set changed get REPORTED LUNS DATA HAS CHANGED. Removing a target or LUN that has
    /// sessions is refused unless `force` (then those sessions are closed).
    public func reload(configuration: Configuration, access: AccessControl, force: Bool) -> (ok: Bool, message: String) {
        let old = Dictionary(registry.allTargets.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        let newNames = Set(configuration.targets.map { $0.name.lowercased() })
        var busyRemovals: [String] = []
        for (name, t) in old where registry.sessionCount(target: t.name) > 0 {
            if !newNames.contains(name) {
                busyRemovals.append("target \(t.name)")
            } else if let nc = configuration.targets.first(where: { $0.name.lowercased() == name }) {
                let newLuns = Dictionary(nc.luns.map { ($0.lun, $0) }, uniquingKeysWith: { a, _ in a })
                for (lun, unit) in t.units where !sameBacking(newLuns[lun], unit.config) {
                    busyRemovals.append("target \(t.name) LUN \(lun)")
                }
            }
        }
        if !busyRemovals.isEmpty && !force {
            return (false, "refusing to remove or change in-use \(busyRemovals.joined(separator: ", ")) (use --force)")
        }
        // Build the new targets, reusing open units whose definition did not change.
        var targets: [Target] = []
        do {
            for tc in configuration.targets {
                let previous = old[tc.name.lowercased()]
                var units: [UInt16: LogicalUnit] = [:]
                for lc in tc.luns {
                    if let u = previous?.units[lc.lun], u.config == lc {
                        units[lc.lun] = u
                    } else {
                        units[lc.lun] = try LogicalUnit.open(lc)
                    }
                }
                let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters(tc.iscsiParameters)
                for w in warnings { logger.warning("\(w)", metadata: ["iscsi.target": "\(tc.name)"]) }
                targets.append(Target(config: tc, policy: policy, units: units, queuedCommands: tc.queuedCommandsIfSet))
            }
        } catch {
            return (false, "cannot open backing store: \(error)")
        }
        registry.replace(configuration: configuration, targets: targets, access: access)
        let byName = Dictionary(targets.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        let replacement = Handoff(byName)
        for ctxBox in contexts {
            ctxBox.loop.execute {
                let ctx = ctxBox.owned
                for conn in ctx.connections.values {
                    conn.targetReloaded(replacement.value)
                }
            }
        }
        let added = newNames.subtracting(old.keys).count
        let removed = Set(old.keys).subtracting(newNames).count
        return (true, "\(targets.count) target(s): \(added) added, \(removed) removed")
    }

    private func sameBacking(_ a: LUNConfig?, _ b: LUNConfig) -> Bool {
        guard let a else { return false }
        return a == b
    }

    /// Number of live connections (for tests and `show`).
    public var connectionCount: Int { shared.withLock { $0.connectionCount } }
}

/// Accepts connections on one listening socket (runs on loop 0).
private final class Acceptor: EventHandler {
    let fd: Int32
    let address: SocketAddress
    unowned let server: TargetServer
    var registration: Registration?

    init(fd: Int32, address: SocketAddress, server: TargetServer) {
        self.fd = fd
        self.address = address
        self.server = server
    }

    func handleEvents(_ events: EpollEvents) {
        // Bounded per wake-up so a connection storm cannot starve established connections.
        for _ in 0..<64 {
            do {
                guard let (cfd, peer) = try Socket.accept(fd) else { return }
                server.accepted(fd: cfd, peer: peer, listener: address)
            } catch {
                return
            }
        }
    }
}

/// A counting semaphore for the few blocking hand-offs at start and stop (never on a loop's hot path).
final class Semaphore: Sendable {
    private let state = Mutex(0)
    func signal() { state.withLock { $0 += 1 } }
    func wait(timeoutSeconds: Int = 3600) {
        var waitedMs = 0
        while waitedMs < timeoutSeconds * 1000 {
            if state.withLock({ s -> Bool in
                if s > 0 { s -= 1; return true }
                return false
            }) { return }
            usleep(1000)
            waitedMs += 1
        }
    }
}
