import ArgumentParser
import IETConfig

#if canImport(Glibc)
import Glibc
#endif

/// `check-config [PATH]`: parse an ietd.conf (and optionally the access files) and report problems.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check an ietd.conf for errors and IET compatibility warnings.",
        discussion: """
            Diagnostics go to standard error as 'path:line:column: severity: message'. The exit status \
            is 1 when there is any error, 0 otherwise (warnings do not fail). Without PATH the file is \
            searched as IET did: /etc/iet/ietd.conf, then /etc/ietd.conf.
            """)

    @Argument(help: "The ietd.conf to check.")
    var path: String?

    @Flag(help: "Print a JSON summary of the parsed configuration (CHAP secrets redacted) to standard output.")
    var json = false

    @Option(name: .customLong("access-dir"),
            help: "Also check initiators.allow, initiators.deny and targets.allow in this directory.")
    var accessDirectory: String?

    @Flag(name: .customLong("no-warnings"), help: "Print only errors.")
    var noWarnings = false

    func run() throws {
        var diagnostics: [Diagnostic] = []
        let configPath: String
        if let path {
            configPath = path
        } else {
            let (found, locateDiagnostics) = ConfigFiles.locateConfiguration()
            diagnostics.append(contentsOf: locateDiagnostics)
            guard let found else {
                report(diagnostics)
                printError("iscsi-targetadm: no configuration file found\n")
                throw ExitCode(1)
            }
            configPath = found
        }
        let (configuration, configDiagnostics) = ConfigFiles.load(path: configPath)
        diagnostics.append(contentsOf: configDiagnostics)
        if let accessDirectory {
            let (_, accessDiagnostics) = AccessControl.load(directory: accessDirectory)
            diagnostics.append(contentsOf: accessDiagnostics)
        }
        report(diagnostics)

        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.count - errors
        let targets = configuration?.targets.count ?? 0
        let luns = configuration?.targets.reduce(0) { $0 + $1.luns.count } ?? 0
        let summary = "\(configPath): \(errors == 0 ? "OK" : "INVALID"), \(targets) target\(targets == 1 ? "" : "s"), "
            + "\(luns) LUN\(luns == 1 ? "" : "s"), \(errors) error\(errors == 1 ? "" : "s"), "
            + "\(warnings) warning\(warnings == 1 ? "" : "s")\n"
        if json {
            printError(summary)
            print(ConfigJSON.render(configuration, path: configPath, errors: errors, warnings: warnings))
        } else {
            print(summary, terminator: "")
        }
        if errors > 0 {
            throw ExitCode(1)
        }
    }

    func report(_ diagnostics: [Diagnostic]) {
        for diagnostic in diagnostics where !(noWarnings && diagnostic.severity == .warning) {
            printError(diagnostic.description + "\n")
        }
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        bytes = bytes.dropFirst(written)
    }
}
