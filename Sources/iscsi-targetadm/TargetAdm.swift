import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `iscsi-targetadm`: administration tool for iscsi-target.
///
/// Two front ends: subcommands (`show`, `reload`, `check-config`, `ping`) and ietadm's
/// `--op new|delete|update|show` options, recognised before ArgumentParser sees the command line.
@main
struct TargetAdm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iscsi-targetadm",
        abstract: "Administer the iscsi-target daemon and its IET-compatible configuration.",
        discussion: """
            ietadm compatibility: iscsi-targetadm --op new|delete|update|show [--tid=N] [--lun=N] \
            [--sid=N] [--cid=N] [--user] [--params=K=V,...] [--redirect=ADDR] [--control-socket PATH]. \
            Run-time changes are not written back to ietd.conf (as with ietadm); a reload restores the file's targets.
            """,
        version: "0.1.0",
        subcommands: [Show.self, Reload.self, CheckConfig.self, Ping.self])

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if IETAdmCommand.isCompatInvocation(arguments) {
            Glibc.exit(IETAdmCommand.run(arguments))
        }
        main(nil)
    }
}

/// `--control-socket PATH`, shared by the commands that talk to the daemon.
struct ControlOptions: ParsableArguments {
    @Option(name: .customLong("control-socket"), help: "The daemon's control socket.")
    var controlSocket: String = defaultControlSocket
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show targets, sessions (/proc/net/iet/session format), LUNs (/proc/net/iet/volume format) or one target's parameters.")

    enum Object: String, ExpressibleByArgument, CaseIterable {
        case targets, sessions, luns, volumes, target
    }

    @Argument(help: "targets | sessions | luns | target")
    var object: Object = .targets

    @Argument(help: "The tid (with 'target').")
    var tid: Int?

    @Flag(help: "JSON instead of the IET text format (targets, sessions, luns).")
    var json = false

    @OptionGroup var control: ControlOptions

    func validate() throws {
        if object == .target && tid == nil { throw ValidationError("'show target' needs a TID") }
        if object != .target && tid != nil { throw ValidationError("a TID goes with 'show target' only") }
    }

    func run() throws {
        var words = ["show", object == .volumes ? "luns" : object.rawValue]
        if let tid { words.append(String(tid)) }
        if json { words.append("--json") }
        let status = ControlClient.run(words, socketPath: control.controlSocket)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read ietd.conf and the access files (as SIGHUP does); on any error the running configuration stays.",
        discussion: "Removing or changing a target or LUN that has sessions is refused unless --force (which closes those sessions).")

    @Flag(help: "Also remove or change targets and LUNs that have sessions (their sessions are closed).")
    var force = false

    @OptionGroup var control: ControlOptions

    func run() throws {
        let status = ControlClient.run(force ? ["reload", "--force"] : ["reload"], socketPath: control.controlSocket)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that the daemon answers on its control socket.")

    @OptionGroup var control: ControlOptions

    func run() throws {
        let status = ControlClient.run(["ping"], socketPath: control.controlSocket)
        if status != 0 { throw ExitCode(status) }
    }
}
