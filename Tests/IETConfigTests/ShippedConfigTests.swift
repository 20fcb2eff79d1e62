import Glibc
import IETConfig
import Testing

/// The files in Configs/ load cleanly (no errors, no warnings).
@Suite struct ShippedConfigTests {
    /// Configs/ relative to this file, following the mini package's symlink.
    static func configsDirectory(file: String = #filePath) -> String? {
        guard let resolved = realpath(file, nil) else { return nil }
        defer { free(resolved) }
        var components = String(cString: resolved).split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/IETConfigTests/<file>
        let directory = components.joined(separator: "/") + "/Configs"
        return ConfigFiles.exists(path: directory) ? directory : nil
    }

    @Test(arguments: ["ietd.conf", "demo.conf"])
    func shippedConfigurationLoads(name: String) throws {
        let directory = try #require(Self.configsDirectory())
        let (config, diagnostics) = ConfigFiles.load(path: directory + "/" + name)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(config != nil)
    }

    @Test func demoTarget() throws {
        let directory = try #require(Self.configsDirectory())
        let (config, _) = ConfigFiles.load(path: directory + "/demo.conf")
        let lun = try #require(config?.target(named: "iqn.2026-11.org.example:demo")?.luns.first)
        #expect(lun.lun == 0 && lun.type == .fileio && lun.ioMode == .wb)
        #expect(lun.path == "/var/tmp/iscsi-target-demo.img")
    }

    @Test func shippedAccessFilesLoad() throws {
        let directory = try #require(Self.configsDirectory())
        let (control, diagnostics) = AccessControl.load(directory: directory)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(control.initiatorAllowed(target: "iqn.2026-11.org.example:storage.vm1-root",
                                         initiatorName: "iqn.1993-08.org.debian:01:vm1", peerAddress: "192.0.2.40"))
        // Entries are alternatives: the name matches from anywhere, the network matches any name.
        #expect(control.initiatorAllowed(target: "iqn.2026-11.org.example:storage.vm1-root",
                                         initiatorName: "iqn.1993-08.org.debian:01:vm1", peerAddress: "198.51.100.9"))
        #expect(!control.initiatorAllowed(target: "iqn.2026-11.org.example:storage.vm1-root",
                                          initiatorName: "iqn.1993-08.org.debian:01:vm2", peerAddress: "198.51.100.9"))
        #expect(control.targetAllowed(target: "iqn.2026-11.org.example:storage.vm1-root", localAddress: "192.0.2.1"))
        #expect(!control.targetAllowed(target: "iqn.2026-11.org.example:storage.vm1-root", localAddress: "192.0.2.2"))
    }

    @Test func missingFile() {
        let (config, diagnostics) = ConfigFiles.load(path: "/nonexistent/ietd.conf")
        #expect(config == nil)
        #expect(diagnostics.errors.count == 1)
        if case .failure(let failure) = ConfigFiles.read(path: "/nonexistent/ietd.conf") {
            #expect(failure.errno == ENOENT)
        } else {
            Issue.record("expected failure")
        }
        let (found, _) = ConfigFiles.locateConfiguration(candidates: ["/nonexistent/a", "/nonexistent/b"])
        #expect(found == nil)
    }
}
