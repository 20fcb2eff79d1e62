import Glibc
import IETConfig
import ISCSINegotiation
import LinuxIO
import Logging
import SCSICommands
import Synchronization

/// A refused run-time change; `description` is shown to the administrator as is.
public struct AdminFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Serialises run-time changes: control-socket requests and SIGHUP reloads each take it, so that a
/// `target new` never interleaves with a reload that rebuilds the target set.
private let administrationLock = Mutex(())

/// Carries a value out of an event loop back to the control thread.
private final class Collector<Value: Sendable>: Sendable {
    private let value = Mutex<[Value]>([])
    func add(_ v: Value) { value.withLock { $0.append(v) } }
    var all: [Value] { value.withLock { $0 } }
}

/// Run-time administration (ietadm's `--op new|delete|update|show`). Changes apply to the running
/// daemon only; like ietadm, nothing is written back to ietd.conf, and the next reload makes the
/// running set equal to the file again.
extension TargetServer {
    /// Runs `body` while no other run-time change or reload runs.
    public func serializedAdministration<R: Sendable>(_ body: () -> R) -> R {
        administrationLock.withLock { _ in body() }
    }

    /// Executes one administrative request (everything but `ping`, `show` and `reload`) and returns its
    /// output text.
    public func administer(_ command: ControlCommand) throws(AdminFailure) -> String {
        let result: Result<String, AdminFailure> = serializedAdministration {
            do throws(AdminFailure) {
                return .success(try execute(command))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func execute(_ command: ControlCommand) throws(AdminFailure) -> String {
        switch command {
        case .targetNew(let tid, let name): return try addTarget(tid: tid, name: name)
        case .targetDelete(let tid): return try deleteTarget(tid: tid)
        case .targetUpdate(let tid, let parameters): return try updateTarget(tid: tid, parameters: parameters)
        case .lunNew(let tid, let lun, let parameters): return try addLUN(tid: tid, lun: lun, parameters: parameters)
        case .lunDelete(let tid, let lun): return try deleteLUN(tid: tid, lun: lun)
        case .sessionShow(let tid, let sid): return try sessionParameters(tid: tid, sid: sid)
        case .connectionDelete(let tid, let sid, let cid): return try dropConnection(tid: tid, sid: sid, cid: cid)
        case .userShow(let tid, let kind, let name): return try showAccounts(tid: tid, kind: kind, name: name)
        case .userNew(let tid, let kind, let name, let secret): return try addAccount(tid: tid, kind: kind, name: name, secret: secret)
        case .userDelete(let tid, let kind, let name): return try deleteAccount(tid: tid, kind: kind, name: name)
        case .redirect:
            // IET sent Login Response 0x0101/0x0102 with TargetAddress; the login state machine has no
            // redirection yet.
            throw AdminFailure("login redirection (--redirect) is not supported by iscsi-targetd")
        case .deleteAll: return deleteAll()
        case .ping, .show, .reload:
            throw AdminFailure("not an administrative request")
        }
    }

    // MARK: - Targets

    private func target(tid: Int) throws(AdminFailure) -> Target {
        guard let t = registry.allTargets.first(where: { $0.tid == tid }) else {
            throw AdminFailure("no target with tid \(tid)")
        }
        return t
    }

    private func addTarget(tid requested: Int, name: String) throws(AdminFailure) -> String {
        let current = registry.allTargets
        if current.contains(where: { $0.name.lowercased() == name.lowercased() }) {
            // IET target_find_by_name compares with strcasecmp.
            throw AdminFailure("a target named \(name) exists already")
        }
        var tid = requested
        if tid == 0 {
            // ietadm(8): tid 0 picks the lowest free id.
            let used = Set(current.map(\.tid))
            tid = 1
            while used.contains(tid) { tid += 1 }
        } else if current.contains(where: { $0.tid == tid }) {
            throw AdminFailure("tid \(tid) is in use (by \(current.first { $0.tid == tid }?.name ?? "?"))")
        }
        let (parsed, warnings) = try Self.parseStanza(name: name, lines: [])
        var config = parsed
        config.tid = tid
        let target = Self.makeTarget(config, units: [:], logger: logger)
        commit(current + [target])
        logger.info("admin: target added", metadata: ["iscsi.target": "\(name)", "tid": "\(tid)"])
        return warnings + "tid:\(tid) name:\(name)\n"
    }

    private func deleteTarget(tid: Int) throws(AdminFailure) -> String {
        let t = try target(tid: tid)
        let sessions = registry.sessionCount(target: t.name)
        guard sessions == 0 else {
            // IET 1.4.20+ ChangeLog: "avoid deletion of targets with active sessions".
            throw AdminFailure("target tid \(tid) has \(sessions) active session(s); log them out or drop their connections first")
        }
        commit(registry.allTargets.filter { $0 !== t })
        logger.info("admin: target deleted", metadata: ["iscsi.target": "\(t.name)", "tid": "\(tid)"])
        return ""
    }

    private func updateTarget(tid: Int, parameters: [ControlCommand.Parameter]) throws(AdminFailure) -> String {
        let t = try target(tid: tid)
        var lines = Self.parameterLines(t.config)
        var alias = t.config.alias
        for p in parameters {
            if p.key.lowercased() == "alias" {
                try Self.checkToken(p.value, what: "Alias")
                alias = p.value
                continue
            }
            guard p.key.lowercased() == "maxsessions" || IETParameters.lookup(p.key) != nil else {
                throw AdminFailure("unknown parameter \(p.key)")
            }
            try Self.checkToken(p.key, what: "parameter name")
            try Self.checkToken(p.value, what: "value of \(p.key)")
            lines.append("\(p.key) \(p.value)")
        }
        let (parsed, warnings) = try Self.parseStanza(name: t.name, lines: lines)
        var config = t.config
        config.alias = alias
        config.iscsiParameters = parsed.iscsiParameters
        config.maxSessions = parsed.maxSessions
        config.nopInterval = parsed.nopInterval
        config.nopTimeout = parsed.nopTimeout
        config.queuedCommands = parsed.queuedCommands
        config.queuedCommandsExplicit = parsed.queuedCommandsExplicit
        config.wthreads = parsed.wthreads
        let replacement = Self.makeTarget(config, units: t.units, logger: logger)
        commit(registry.allTargets.map { $0 === t ? replacement : $0 })
        logger.info("admin: target updated; new sessions use the new values", metadata: [
            "iscsi.target": "\(t.name)", "tid": "\(tid)",
            "parameters": "\(parameters.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"])
        return warnings
    }

    // MARK: - LUNs

    private func addLUN(tid: Int, lun: Int, parameters: String) throws(AdminFailure) -> String {
        let t = try target(tid: tid)
        guard let number = UInt16(exactly: lun), t.units[number] == nil else {
            throw AdminFailure("target tid \(tid) already has LUN \(lun)")
        }
        try Self.checkToken(parameters, what: "LUN parameters")
        let (parsed, warnings) = try Self.parseStanza(name: t.name, lines: ["Lun \(lun) \(parameters)"])
        guard let lc = parsed.luns.first else { throw AdminFailure("LUN \(lun): no LUN defined by '\(parameters)'") }
        let unit: LogicalUnit
        do {
            unit = try LogicalUnit.open(lc)
        } catch {
            throw AdminFailure("target tid \(tid) LUN \(lun): \(error)")
        }
        var config = t.config
        config.luns.append(lc)
        var units = t.units
        units[number] = unit
        let replacement = Self.makeTarget(config, units: units, logger: logger)
        // Sessions of this target pick the new unit set up and get REPORTED LUNS DATA HAS CHANGED.
        commit(registry.allTargets.map { $0 === t ? replacement : $0 })
        logger.info("admin: LUN added", metadata: [
            "iscsi.target": "\(t.name)", "tid": "\(tid)", "scsi.lun": "\(lun)", "type": "\(lc.type.rawValue)",
            "path": "\(lc.path ?? "-")", "blocks": "\(unit.info.blockCount)", "blocksize": "\(unit.info.blockSize)"])
        return warnings
    }

    private func deleteLUN(tid: Int, lun: Int) throws(AdminFailure) -> String {
        let t = try target(tid: tid)
        guard let number = UInt16(exactly: lun), t.units[number] != nil else {
            throw AdminFailure("target tid \(tid) has no LUN \(lun)")
        }
        let sessions = registry.sessionCount(target: t.name)
        guard sessions == 0 else {
            throw AdminFailure("target tid \(tid) has \(sessions) active session(s); LUN \(lun) stays")
        }
        var config = t.config
        config.luns.removeAll { $0.lun == number }
        var units = t.units
        units[number] = nil
        commit(registry.allTargets.map { $0 === t ? Self.makeTarget(config, units: units, logger: logger) : $0 })
        logger.info("admin: LUN deleted", metadata: ["iscsi.target": "\(t.name)", "tid": "\(tid)", "scsi.lun": "\(lun)"])
        return ""
    }

    // MARK: - Sessions

    private func session(tid: Int, sid: UInt64) throws(AdminFailure) -> SessionInfo {
        _ = try target(tid: tid)
        guard let s = registry.sessions.first(where: { $0.tid == tid && $0.sid == sid }) else {
            throw AdminFailure("target tid \(tid) has no session with sid \(sid)")
        }
        return s
    }

    private func sessionParameters(tid: Int, sid: UInt64) throws(AdminFailure) -> String {
        let t = try target(tid: tid)
        // ietadm(8): sid 0 shows the configured values.
        if sid == 0 { return ControlFormat.configuredSessionParameters(t) }
        let info = try session(tid: tid, sid: sid)
        if !info.parameters.isEmpty {
            return info.parameters.map { "\($0.0)=\($0.1)\n" }.joined()
        }
        // Ask the loops for the live connection's negotiated parameters.
        let found = Collector<SessionParameters>()
        let isid = sid >> 16
        let initiator = info.initiatorName.lowercased()
        let targetName = info.targetName.lowercased()
        for ctxBox in contexts {
            let done = Semaphore()
            ctxBox.loop.execute {
                for c in ctxBox.owned.connections.values where !c.closed {
                    if let p = c.params, p.isid == isid, p.initiatorName.lowercased() == initiator,
                       c.target?.name.lowercased() == targetName {
                        found.add(p)
                    }
                }
                done.signal()
            }
            done.wait(timeoutSeconds: 5)
        }
        guard let p = found.all.last else { throw AdminFailure("session \(sid) ended") }
        return ControlFormat.sessionParameters(p)
    }

    private func dropConnection(tid: Int, sid: UInt64, cid: Int) throws(AdminFailure) -> String {
        let info = try session(tid: tid, sid: sid)
        // MaxConnections 1: every session has one connection, cid 0 in /proc/net/iet/session.
        guard cid == 0 else { throw AdminFailure("session \(sid) has no connection \(cid) (its only connection is cid 0)") }
        let key = SessionKey(initiatorName: info.initiatorName.lowercased(), isid: sid >> 16, targetName: info.targetName.lowercased())
        guard let handle = registry.existingSession(key), handle.tsih == info.tsih else {
            throw AdminFailure("session \(sid) ended")
        }
        let done = Semaphore()
        handle.shutdown("connection dropped by iscsi-targetadm") { done.signal() }
        done.wait(timeoutSeconds: 30)
        logger.info("admin: connection dropped", metadata: [
            "iscsi.target": "\(info.targetName)", "tid": "\(tid)", "sid": "\(sid)", "iscsi.initiator": "\(info.initiatorName)"])
        return ""
    }

    private func deleteAll() -> String {
        // ietadm --op delete without arguments: "stop all activity" (IET's init script ran it on stop).
        let sessions = registry.sessions
        let done = Semaphore()
        var waiting = 0
        for info in sessions {
            let key = SessionKey(initiatorName: info.initiatorName.lowercased(), isid: info.sid >> 16, targetName: info.targetName.lowercased())
            guard let handle = registry.existingSession(key) else { continue }
            waiting += 1
            handle.shutdown("all targets deleted by iscsi-targetadm") { done.signal() }
        }
        for _ in 0..<waiting { done.wait(timeoutSeconds: 30) }
        let count = registry.allTargets.count
        commit([])
        logger.info("admin: all targets deleted", metadata: ["targets": "\(count)", "sessions": "\(waiting)"])
        return ""
    }

    // MARK: - CHAP accounts (user names only are ever printed or logged)

    private func showAccounts(tid: Int, kind: ControlCommand.AccountKind?, name: String?) throws(AdminFailure) -> String {
        let text: String
        if tid == 0 {
            let c = registry.configuration
            text = ControlFormat.accounts(incoming: c.discoveryIncomingUsers, outgoing: c.discoveryOutgoingUser, kind: kind, name: name)
        } else {
            let t = try target(tid: tid)
            text = ControlFormat.accounts(incoming: t.config.incomingUsers, outgoing: t.config.outgoingUser, kind: kind, name: name)
        }
        if let name, text.isEmpty {
            throw AdminFailure("no \(kind?.rawValue ?? "account") \(name) in \(tid == 0 ? "the discovery accounts" : "target tid \(tid)")")
        }
        return text
    }

    private func addAccount(tid: Int, kind: ControlCommand.AccountKind, name: String, secret: String) throws(AdminFailure) -> String {
        try Self.checkToken(name, what: "user name")
        try Self.checkToken(secret, what: "password")
        let line = "\(kind.rawValue) \(name) \(secret)"
        if tid == 0 {
            let (parsed, warnings) = try Self.parse("\(line)\n")
            var c = registry.configuration
            switch kind {
            case .incoming:
                guard let a = parsed.discoveryIncomingUsers.first else { throw AdminFailure("invalid account") }
                c.discoveryIncomingUsers.removeAll { $0.user == a.user }
                c.discoveryIncomingUsers.append(a)
            case .outgoing:
                guard let a = parsed.discoveryOutgoingUser else { throw AdminFailure("invalid account") }
                c.discoveryOutgoingUser = a
            }
            commit(registry.allTargets, configuration: c)
            logger.info("admin: discovery account added", metadata: ["kind": "\(kind.rawValue)", "user": "\(name)"])
            return warnings
        }
        let t = try target(tid: tid)
        let (parsed, warnings) = try Self.parseStanza(name: t.name, lines: [line])
        var config = t.config
        switch kind {
        case .incoming:
            guard let a = parsed.incomingUsers.first else { throw AdminFailure("invalid account") }
            config.incomingUsers.removeAll { $0.user == a.user }
            config.incomingUsers.append(a)
        case .outgoing:
            guard let a = parsed.outgoingUser else { throw AdminFailure("invalid account") }
            config.outgoingUser = a
        }
        commit(registry.allTargets.map { $0 === t ? Self.makeTarget(config, units: t.units, logger: logger) : $0 })
        logger.info("admin: account added", metadata: ["iscsi.target": "\(t.name)", "kind": "\(kind.rawValue)", "user": "\(name)"])
        return warnings
    }

    private func deleteAccount(tid: Int, kind: ControlCommand.AccountKind, name: String) throws(AdminFailure) -> String {
        func remove(_ incoming: inout [CHAPAccount], _ outgoing: inout CHAPAccount?) -> Bool {
            switch kind {
            case .incoming:
                let before = incoming.count
                incoming.removeAll { $0.user == name }
                return incoming.count != before
            case .outgoing:
                guard outgoing?.user == name else { return false }
                outgoing = nil
                return true
            }
        }
        if tid == 0 {
            var c = registry.configuration
            guard remove(&c.discoveryIncomingUsers, &c.discoveryOutgoingUser) else {
                throw AdminFailure("no \(kind.rawValue) \(name) in the discovery accounts")
            }
            commit(registry.allTargets, configuration: c)
            logger.info("admin: discovery account deleted", metadata: ["kind": "\(kind.rawValue)", "user": "\(name)"])
            return ""
        }
        let t = try target(tid: tid)
        var config = t.config
        guard remove(&config.incomingUsers, &config.outgoingUser) else {
            throw AdminFailure("no \(kind.rawValue) \(name) in target tid \(tid)")
        }
        commit(registry.allTargets.map { $0 === t ? Self.makeTarget(config, units: t.units, logger: logger) : $0 })
        logger.info("admin: account deleted", metadata: ["iscsi.target": "\(t.name)", "kind": "\(kind.rawValue)", "user": "\(name)"])
        return ""
    }

    // MARK: - Helpers

    /// Installs a new target set (same `registry.replace` path as `reload`) and lets every connection
    /// pick up its target's new definition: unchanged units stay, a changed LUN set raises REPORTED LUNS
    /// DATA HAS CHANGED, a removed target closes.
    private func commit(_ targets: [Target], configuration: Configuration? = nil) {
        var c = configuration ?? registry.configuration
        c.targets = targets.map(\.config)
        registry.replace(configuration: c, targets: targets, access: registry.accessControl)
        let byName = Dictionary(targets.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        let replacement = Handoff(byName)
        for ctxBox in contexts {
            ctxBox.loop.execute {
                for conn in ctxBox.owned.connections.values {
                    conn.targetReloaded(replacement.value)
                }
            }
        }
    }

    private static func makeTarget(_ config: TargetConfig, units: [UInt16: LogicalUnit], logger: Logger) -> Target {
        let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters(config.iscsiParameters)
        for w in warnings { logger.warning("\(w)", metadata: ["iscsi.target": "\(config.name)"]) }
        return Target(config: config, policy: policy, units: units, queuedCommands: config.queuedCommandsIfSet)
    }

    /// The stanza lines that reproduce a target's parameters (not its LUNs or accounts).
    static func parameterLines(_ c: TargetConfig) -> [String] {
        var lines = c.iscsiParameters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines.append("MaxSessions \(c.maxSessions)")
        lines.append("NOPInterval \(c.nopInterval)")
        lines.append("NOPTimeout \(c.nopTimeout)")
        lines.append("Wthreads \(c.wthreads)")
        if c.queuedCommandsExplicit { lines.append("QueuedCommands \(c.queuedCommands)") }
        return lines
    }

    /// Values go through the ietd.conf parser, so they must be single tokens.
    static func checkToken(_ value: String, what: String) throws(AdminFailure) {
        guard !value.isEmpty else { throw AdminFailure("\(what) is empty") }
        guard !value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7f }) else {
            throw AdminFailure("\(what) must not contain blanks or control characters")
        }
        guard !value.hasPrefix("#") else { throw AdminFailure("\(what) must not start with '#'") }
    }

    /// Validates a `Target NAME` stanza with the given directive lines through the ietd.conf parser,
    /// so run-time changes obey exactly the rules of the file (ranges, Yes/No, Lun syntax, IET's
    /// default ScsiId/ScsiSN).
    static func parseStanza(name: String, lines: [String]) throws(AdminFailure) -> (TargetConfig, String) {
        try checkToken(name, what: "target name")
        let text = "Target \(name)\n" + lines.map { "    \($0)\n" }.joined()
        let (configuration, warnings) = try parse(text)
        guard let t = configuration.targets.first else { throw AdminFailure("invalid target name \(name)") }
        return (t, warnings)
    }

    /// Parses an ietd.conf fragment; errors throw, warnings come back as `warning: ...` lines.
    static func parse(_ text: String) throws(AdminFailure) -> (Configuration, String) {
        let (parsed, diagnostics) = ConfigParser.parse(text, path: "<iscsi-targetadm>")
        let errors = diagnostics.filter { $0.severity == .error }
        guard let parsed, errors.isEmpty else {
            throw AdminFailure(errors.map(\.message).joined(separator: "; "))
        }
        // Noise for a fragment: the full stanza is not there, and earlier values are restated on purpose.
        let quiet = ["has no LUNs", "has no LUN 0", "is set more than once", "no targets defined"]
        let warnings = diagnostics.filter { d in d.severity == .warning && !quiet.contains { d.message.contains($0) } }
        return (parsed, warnings.map { "warning: \($0.message)\n" }.joined())
    }
}
