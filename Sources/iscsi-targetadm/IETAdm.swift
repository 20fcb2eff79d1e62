/// ietadm's command line (IET usr/ietadm.c, ietadm(8)) translated to control-socket requests.
///
///     --op new    --tid=N --params Name=NAME                     add a target (tid 0: lowest free)
///     --op delete --tid=N                                        delete a target (no sessions)
///     --op show   --tid=N                                        target parameters, Key=Value lines
///     --op show   --tid=N --sid=S                                a session's negotiated parameters (S 0: configured)
///     --op new    --tid=N --lun=L --params Path=P[,Type=..,...]  add a LUN
///     --op delete --tid=N --lun=L                                delete a LUN (no sessions)
///     --op delete --tid=N --sid=S --cid=C                        drop a connection
///     --op delete                                                delete every target (closes every session)
///     --op update --tid=N --params=K=V,...                       change target parameters for new sessions
///     --op update --tid=N --redirect=ADDR                        login redirection (not supported)
///     --op show|new|delete [--tid=N] --user [--params=IncomingUser|OutgoingUser=NAME[,Password=P]]
///
/// Options take `--opt=value` or `--opt value`; IET's short forms `-o -t -s -c -l -p -u -r` work too.
struct IETAdmCommand: Equatable {
    enum Operation: String {
        case new, delete, update, show
    }

    enum Action: Equatable {
        case request([String])
        case help
        case version
    }

    struct UsageError: Error, CustomStringConvertible, Equatable {
        var description: String
        init(_ description: String) { self.description = description }
    }

    var operation: Operation?
    var tid: Int?
    var lun: Int?
    var sid: UInt64?
    var cid: Int?
    var user = false
    var params: String?
    var redirect: String?
    var controlSocket = defaultControlSocket
    var help = false
    var version = false

    /// True when the command line is in ietadm form (has `--op`/`-o`, or is ietadm's `--version`
    /// together with other ietadm options).
    static func isCompatInvocation(_ arguments: [String]) -> Bool {
        arguments.contains { $0 == "--op" || $0.hasPrefix("--op=") || $0 == "-o" || ($0.hasPrefix("-o") && !$0.hasPrefix("--")) }
    }

    /// Parses ietadm options. Never traps.
    static func parse(_ arguments: [String]) throws(UsageError) -> IETAdmCommand {
        var command = IETAdmCommand()
        var i = 0
        let longNames: [String: String] = [
            "--op": "op", "--tid": "tid", "--lun": "lun", "--sid": "sid", "--cid": "cid", "--params": "params",
            "--redirect": "redirect", "--control-socket": "control-socket",
        ]
        let shortNames: [String: String] = ["-o": "op", "-t": "tid", "-l": "lun", "-s": "sid", "-c": "cid", "-p": "params", "-r": "redirect"]
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            switch argument {
            case "--user", "-u": command.user = true; continue
            case "--help", "-h": command.help = true; continue
            case "--version", "-v": command.version = true; continue
            default: break
            }
            var name: String?
            var value: String?
            if argument.hasPrefix("--") {
                let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                name = longNames[String(parts[0])]
                if parts.count == 2 { value = String(parts[1]) }
            } else if argument.hasPrefix("-"), argument.count >= 2 {
                let flag = String(argument.prefix(2))
                name = shortNames[flag]
                if argument.count > 2 { value = String(argument.dropFirst(2)) }
            }
            guard let name else { throw UsageError("unknown option '\(argument)'") }
            if value == nil {
                guard i < arguments.count else { throw UsageError("option '\(argument)' needs a value") }
                value = arguments[i]
                i += 1
            }
            let v = value ?? ""
            switch name {
            case "op":
                guard let op = Operation(rawValue: v) else { throw UsageError("unknown --op '\(v)' (new, delete, update, show)") }
                command.operation = op
            case "tid":
                // IET tids are 32-bit unsigned; we keep them positive 31-bit.
                guard let n = Int(v), (0...0x7fff_ffff).contains(n) else { throw UsageError("invalid --tid '\(v)'") }
                command.tid = n
            case "lun":
                // IET kernel volume_add: LUN 0...0x3fff.
                guard let n = Int(v), (0...0x3fff).contains(n) else { throw UsageError("invalid --lun '\(v)' (0...16383)") }
                command.lun = n
            case "sid":
                let parsed = v.hasPrefix("0x") || v.hasPrefix("0X") ? UInt64(v.dropFirst(2), radix: 16) : UInt64(v)
                guard let n = parsed else { throw UsageError("invalid --sid '\(v)'") }
                command.sid = n
            case "cid":
                guard let n = Int(v), (0...0xffff).contains(n) else { throw UsageError("invalid --cid '\(v)'") }
                command.cid = n
            case "params": command.params = v
            case "redirect": command.redirect = v
            case "control-socket": command.controlSocket = v
            default: break
            }
        }
        return command
    }

    /// `K=V,K=V` → pairs; a key without `=` has an empty value (`--params=IncomingUser`).
    static func splitParams(_ text: String) -> [(key: String, value: String)] {
        text.split(separator: ",", omittingEmptySubsequences: true).map { item in
            let trimmed = item.drop { $0 == " " }
            if let eq = trimmed.firstIndex(of: "=") {
                return (String(trimmed[..<eq]), String(trimmed[trimmed.index(after: eq)...]))
            }
            return (String(trimmed), "")
        }
    }

    /// The control request this command line stands for.
    func action() throws(UsageError) -> Action {
        if help { return .help }
        if version && operation == nil { return .version }
        guard let operation else { throw UsageError("--op is required (new, delete, update, show)") }
        let params = self.params.map(Self.splitParams) ?? []
        func param(_ key: String) -> String? {
            params.first { $0.key.lowercased() == key.lowercased() }?.value
        }
        func needTid() throws(UsageError) -> Int {
            guard let tid else { throw UsageError("--op \(operation.rawValue) needs --tid") }
            return tid
        }

        if user {
            // Accounts: --params=IncomingUser|OutgoingUser=NAME[,Password=SECRET]; no tid = discovery.
            let tidWord = String(tid ?? 0)
            let account = params.first { ["incominguser", "outgoinguser"].contains($0.key.lowercased()) }
            let kind = account.map { $0.key.lowercased() == "incominguser" ? "IncomingUser" : "OutgoingUser" }
            switch operation {
            case .show:
                var words = ["user", "show", tidWord]
                if let kind {
                    words.append(kind)
                    if let name = account?.value, !name.isEmpty { words.append(name) }
                }
                return .request(words)
            case .new:
                guard let kind, let name = account?.value, !name.isEmpty else {
                    throw UsageError("--op new --user needs --params=IncomingUser=NAME,Password=SECRET (or OutgoingUser)")
                }
                guard let secret = param("Password"), !secret.isEmpty else { throw UsageError("--op new --user needs Password=SECRET in --params") }
                return .request(["user", "new", tidWord, kind, name, secret])
            case .delete:
                guard let kind, let name = account?.value, !name.isEmpty else {
                    throw UsageError("--op delete --user needs --params=IncomingUser=NAME (or OutgoingUser=NAME)")
                }
                return .request(["user", "delete", tidWord, kind, name])
            case .update:
                throw UsageError("--op update --user is not an ietadm operation; delete and re-add the account")
            }
        }

        switch operation {
        case .show:
            let t = try needTid()
            if let sid { return .request(["session", "show", String(t), String(sid)]) }
            return .request(["target", "show", String(t)])
        case .new:
            let t = try needTid()
            if let lun {
                guard let p = self.params, !p.isEmpty else { throw UsageError("--op new --lun needs --params Path=PATH[,Type=fileio|blockio|nullio,...]") }
                return .request(["lun", "new", String(t), String(lun), p])
            }
            guard let name = param("Name"), !name.isEmpty else { throw UsageError("--op new needs --params Name=TARGETNAME (or --lun)") }
            return .request(["target", "new", String(t), name])
        case .delete:
            guard let t = tid else {
                if lun != nil || sid != nil { throw UsageError("--op delete needs --tid") }
                return .request(["delete-all"])
            }
            if let lun { return .request(["lun", "delete", String(t), String(lun)]) }
            if let sid {
                guard let cid else { throw UsageError("--op delete --sid needs --cid") }
                return .request(["conn", "delete", String(t), String(sid), String(cid)])
            }
            return .request(["target", "delete", String(t)])
        case .update:
            let t = try needTid()
            if let redirect { return .request(["redirect", String(t)] + (redirect.isEmpty ? [] : [redirect])) }
            guard let p = self.params, !p.isEmpty else { throw UsageError("--op update needs --params=KEY=VALUE,... or --redirect") }
            return .request(["target", "update", String(t), p])
        }
    }

    static let usage = """
        Usage: iscsi-targetadm --op new|delete|update|show [--tid=N] [--lun=N] [--sid=N] [--cid=N]
                               [--user] [--params=KEY=VALUE,...] [--redirect=ADDR] [--control-socket PATH]
          --op new    --tid=N --params Name=NAME                       add a target (tid 0: lowest free)
          --op delete --tid=N                                          delete a target without sessions
          --op show   --tid=N                                          show target parameters
          --op show   --tid=N --sid=S                                  show a session's negotiated parameters
          --op new    --tid=N --lun=L --params Path=PATH[,Type=...]    add a LUN
          --op delete --tid=N --lun=L                                  delete a LUN (target without sessions)
          --op delete --tid=N --sid=S --cid=C                          drop a connection
          --op delete                                                  delete all targets, closing all sessions
          --op update --tid=N --params=KEY=VALUE,...                   change parameters for new sessions
          --op show|new|delete [--tid=N] --user [--params=IncomingUser|OutgoingUser=NAME[,Password=SECRET]]
                                                                       CHAP accounts (no tid: discovery); never shows secrets
        Changes apply to the running daemon only; they are not written to ietd.conf.
        See also: iscsi-targetadm --help (show, reload, check-config).

        """

    /// Runs the ietadm-style command line; returns the exit status.
    static func run(_ arguments: [String]) -> Int32 {
        do throws(UsageError) {
            let command = try parse(arguments)
            switch try command.action() {
            case .help:
                writeOut(usage)
                return 0
            case .version:
                writeOut("iscsi-targetadm 0.1.0 (ietadm compatible)\n")
                return 0
            case .request(let words):
                return ControlClient.run(words, socketPath: command.controlSocket)
            }
        } catch {
            printError("iscsi-targetadm: \(error.description)\n\(usage)")
            return AdmExit.usage
        }
    }
}
