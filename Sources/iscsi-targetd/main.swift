import ArgumentParser
import Glibc
import IETConfig
import ISCSITarget
import LinuxIO
import Logging

/// The embedded demo configuration (`--demo`): one sparse 1 GiB file LUN on 127.0.0.1.
let demoImagePath = "/var/tmp/iscsi-target-demo.img"
let demoConfig = """
# Embedded demo configuration of iscsi-targetd --demo
Target iqn.2026-11.org.example:demo
    Alias demo
    Lun 0 Path=\(demoImagePath),Type=fileio,IOMode=wb

"""

enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}

@main
struct TargetDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iscsi-targetd",
        abstract: "Userspace iSCSI target that serves IET's ietd.conf.",
        version: "0.1.0")

    @Option(name: .long, help: "Configuration file (default /etc/iet/ietd.conf, then /etc/ietd.conf).")
    var config: String?

    @Option(name: .long, help: "Listen on ADDR:PORT (repeatable). Default 0.0.0.0:3260 and [::]:3260 (127.0.0.1:3260 with --demo).")
    var portal: [String] = []

    @Flag(name: .long, help: "Stay in the foreground (the daemon never forks; kept for ietd compatibility).")
    var foreground = false

    @Option(name: .long, help: "Log level.")
    var logLevel: LogLevelOption = .info

    @Option(name: .long, help: "Control socket path for iscsi-targetadm.")
    var controlSocket: String = "/run/iscsi-targetd/control.sock"

    @Flag(name: .long, help: "Serve the embedded demo configuration (a 1 GiB sparse file LUN) on 127.0.0.1:3260.")
    var demo = false

    @Flag(name: .long, help: "Check the configuration, print diagnostics and exit (non-zero on errors).")
    var checkConfig = false

    @Option(name: .long, help: "Event loop threads (default: one per core).")
    var threads: Int?

    @Option(name: .long, help: "Connections in total.")
    var maxConnections: Int = 4096

    @Option(name: .long, help: "Connections still logging in at once (IET: 32).")
    var maxLoginConnections: Int = 256

    @Option(name: .long, help: "Connections still logging in at once from one address.")
    var maxLoginConnectionsPerHost: Int = 64

    @Option(name: .long, help: "Seconds a connection may take to log in.")
    var loginTimeout: UInt64 = 30

    @Option(name: .long, help: "Commands in flight per session (CmdSN window) when the target sets no QueuedCommands.")
    var queueDepth: Int = 128

    @Option(name: .customLong("max-buffer-mib"), help: "MiB of data buffers one connection's commands may hold (beyond → TASK SET FULL).")
    var maxBufferMiB: Int = 128

    @Option(name: .customLong("buffer-cache-mib"), help: "MiB of idle data buffers each event loop keeps for reuse (0 = free every buffer after use, which costs page faults on every I/O).")
    var bufferCacheMiB: Int = 256

    @Option(name: .long, help: "Busy-poll window in µs at queue depth 1: the loop polls for the AIO completion and the initiator's next command instead of sleeping (about half the QD1 latency; up to one core of CPU while such a stream runs; backs off when events come later; 0 = off).")
    var pollUsec: Int = 100

    @Flag(inversion: .prefixedNo, help: "Pin event loop i to the i-th CPU the daemon may use (taskset/cpuset honoured).")
    var pinLoops = true

    mutating func validate() throws {
        guard maxConnections >= 1, maxLoginConnections >= 1, maxLoginConnectionsPerHost >= 1, loginTimeout >= 1, (1...4096).contains(queueDepth),
              (1...4096).contains(maxBufferMiB) else {
            throw ValidationError("limits must be positive (queue depth 1...4096, buffers 1...4096 MiB)")
        }
        guard (0...65536).contains(bufferCacheMiB) else { throw ValidationError("--buffer-cache-mib must be 0...65536") }
        guard (0...1000).contains(pollUsec) else { throw ValidationError("--poll-usec must be 0...1000") }
        if let t = threads, !(1...256).contains(t) { throw ValidationError("--threads must be 1...256") }
    }

    mutating func run() throws {
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "iscsi-targetd")
        // Block the signals we handle before any thread starts, so that threads inherit the mask and
        // only the main thread's sigwait sees them.
        var mask = sigset_t()
        sigemptyset(&mask)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&mask, s) }
        pthread_sigmask(SIG_BLOCK, &mask, nil)

        // Load the configuration.
        let (text, path) = try loadConfigText(logger: logger)
        let (parsed, diagnostics) = ConfigParser.parse(text, path: path)
        for d in diagnostics { FileHandleStderr.write("\(d)\n") }
        guard let configuration = parsed else {
            FileHandleStderr.write("\(path): configuration has errors; not starting\n")
            throw ExitCode(1)
        }
        if checkConfig {
            print("\(path): OK, \(configuration.targets.count) target(s), \(diagnostics.count) warning(s)")
            return
        }
        let directory = demo ? "/nonexistent" : dirname(of: path)
        let (access, aclDiagnostics) = AccessControl.load(directory: directory)
        for d in aclDiagnostics { FileHandleStderr.write("\(d)\n") }

        // SPC-4 §5.14.x APTPL: persistent reservation state lives beside the configuration file.
        if !demo { LogicalUnitState.persistenceDirectory = directory }
        ignoreSIGPIPE()
        let targets: [Target]
        do {
            targets = try TargetBuilder.build(configuration, logger: logger)
        } catch {
            logger.critical("cannot open backing stores", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let registry = TargetRegistry(configuration: configuration, targets: targets, access: access)
        var portals: [Portal] = []
        for p in portal {
            guard let parsedPortal = Portal(parsing: p) else {
                FileHandleStderr.write("invalid --portal \(p) (expected ADDR:PORT or [V6]:PORT)\n")
                throw ExitCode(2)
            }
            portals.append(parsedPortal)
        }
        if portals.isEmpty {
            portals = demo ? [Portal(host: "127.0.0.1", port: 3260)]
                           : [Portal(host: "0.0.0.0", port: 3260), Portal(host: "::", port: 3260)]
        }
        let loopCount = threads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var settings = ServerSettings()
        settings.maxConnections = maxConnections
        settings.maxConnectionsInLogin = maxLoginConnections
        settings.maxConnectionsInLoginPerHost = maxLoginConnectionsPerHost
        settings.loginTimeoutSeconds = loginTimeout
        settings.defaultQueuedCommands = queueDepth
        settings.maxBufferedBytesPerConnection = maxBufferMiB << 20
        settings.bufferCacheBytesPerLoop = bufferCacheMiB << 20
        settings.pollMicroseconds = pollUsec
        settings.pinLoops = pinLoops
        let server = try TargetServer(registry: registry, settings: settings, loopCount: loopCount, logger: logger)
        do {
            _ = try server.listen(on: portals)
        } catch {
            logger.critical("cannot listen", metadata: ["error": "\(error)"])
            server.stop()
            throw ExitCode(1)
        }
        let configPath = path
        var control: ControlServer?
        do {
            control = try ControlServer(path: controlSocket, registry: registry, logger: logger, server: server) { force in
                reload(server: server, path: configPath, force: force, logger: logger)
            }
            control?.start()
        } catch {
            logger.warning("control socket unavailable; iscsi-targetadm cannot reach this daemon", metadata: ["error": "\(error)"])
        }
        logger.info("ready", metadata: ["targets": "\(targets.count)", "threads": "\(loopCount)", "config": "\(path)"])
        notifySystemd("READY=1")

        // Signals: SIGTERM/SIGINT stop gracefully.
        let stop = waitForSignals([SIGTERM, SIGINT, SIGHUP]) { sig in
            if sig == SIGHUP {
                logger.info("SIGHUP received: reloading the configuration")
                notifySystemd("RELOADING=1")
                // Serialised with iscsi-targetadm's run-time changes.
                _ = server.serializedAdministration { reload(server: server, path: configPath, force: false, logger: logger) }
                notifySystemd("READY=1")
                return false
            }
            logger.info("signal received: stopping", metadata: ["signal": "\(sig)"])
            return true
        }
        _ = stop
        notifySystemd("STOPPING=1")
        control?.stop()
        server.stop()
        logger.info("stopped")
    }

    private func loadConfigText(logger: Logger) throws -> (String, String) {
        if demo {
            try ensureDemoImage(logger: logger)
            return (demoConfig, "<demo>")
        }
        let candidates = config.map { [$0] } ?? ["/etc/iet/ietd.conf", "/etc/ietd.conf"]
        for (i, c) in candidates.enumerated() {
            if let text = readFile(c) {
                if config == nil && i == 1 {
                    logger.warning("/etc/ietd.conf location is deprecated; use /etc/iet/ietd.conf")
                }
                return (text, c)
            }
        }
        FileHandleStderr.write("cannot read configuration \(candidates.joined(separator: " or ")): \(String(cString: strerror(errno)))\n")
        throw ExitCode(1)
    }

    private func ensureDemoImage(logger: Logger) throws {
        let fd = open(demoImagePath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            FileHandleStderr.write("cannot create \(demoImagePath): \(String(cString: strerror(errno)))\n")
            throw ExitCode(1)
        }
        defer { Glibc.close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_size == 0 {
            // Sparse: no blocks are allocated until written.
            if ftruncate(fd, 1 << 30) != 0 {
                FileHandleStderr.write("cannot size \(demoImagePath): \(String(cString: strerror(errno)))\n")
                throw ExitCode(1)
            }
            logger.info("created sparse demo image", metadata: ["path": "\(demoImagePath)", "size": "1GiB"])
        }
    }
}

/// Re-reads the configuration and applies it; on any error the running configuration stays.
@discardableResult
func reload(server: TargetServer, path: String, force: Bool, logger: Logger) -> (ok: Bool, message: String) {
    guard path != "<demo>" else { return (false, "the demo configuration cannot be reloaded") }
    guard let text = readFile(path) else {
        logger.error("reload failed: cannot read configuration", metadata: ["path": "\(path)"])
        return (false, "cannot read \(path)")
    }
    let (parsed, diagnostics) = ConfigParser.parse(text, path: path)
    for d in diagnostics { FileHandleStderr.write("\(d)\n") }
    guard let configuration = parsed else {
        logger.error("reload rejected: configuration has errors; the running configuration stays")
        let errors = diagnostics.map { "\($0)" }.joined(separator: "\n")
        return (false, "configuration has errors; the running configuration stays\n\(errors)")
    }
    let (access, aclDiagnostics) = AccessControl.load(directory: dirname(of: path))
    for d in aclDiagnostics { FileHandleStderr.write("\(d)\n") }
    let result = server.reload(configuration: configuration, access: access, force: force)
    if result.ok {
        logger.info("configuration reloaded", metadata: ["summary": "\(result.message)"])
    } else {
        logger.error("reload rejected", metadata: ["reason": "\(result.message)"])
    }
    return result
}

func dirname(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let d = String(path[..<slash])
    return d.isEmpty ? "/" : d
}

func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { Glibc.close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
        // Configuration files are small; refuse absurd sizes rather than allocate without bound.
        if bytes.count > 64 << 20 { return nil }
    }
    return String(decoding: bytes, as: UTF8.self)
}

enum FileHandleStderr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
    }
}

/// sd_notify without libsystemd: a datagram to $NOTIFY_SOCKET.
func notifySystemd(_ state: String) {
    guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return }
    defer { Glibc.close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    var pathBytes = Array(path.utf8)
    if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 } // abstract namespace
    let maxLen = MemoryLayout.size(ofValue: addr.sun_path)
    guard pathBytes.count < maxLen else { return }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in pathBytes.enumerated() { raw[i] = b }
    }
    let len = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
    var msg = Array(state.utf8)
    _ = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
            msg.withUnsafeMutableBytes { m in sendto(fd, m.baseAddress, m.count, Int32(MSG_NOSIGNAL), sp, len) }
        }
    }
}

/// Blocks the listed signals and waits for them with sigwait on this (main) thread; `handler` returns
/// true to stop waiting.
func waitForSignals(_ signals: [Int32], handler: (Int32) -> Bool) -> Int32 {
    var set = sigset_t()
    sigemptyset(&set)
    for s in signals { sigaddset(&set, s) }
    while true {
        var sig: Int32 = 0
        if sigwait(&set, &sig) == 0 {
            if handler(sig) { return sig }
        }
    }
}
