import ArgumentParser

/// `iscsi-targetadm`: administration tool for iscsi-target.
///
/// Subcommands are added to `configuration.subcommands`; planned: `show`, `reload`, and an
/// ietadm-compatible `--op` front end.
@main
struct TargetAdm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iscsi-targetadm",
        abstract: "Administer the iscsi-target daemon and its IET-compatible configuration.",
        subcommands: [CheckConfig.self])
}
