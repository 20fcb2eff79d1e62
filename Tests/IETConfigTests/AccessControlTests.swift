@testable import IETConfig
import Testing

/// IET 1.4.x initiators.allow / initiators.deny / targets.allow semantics (anchors §1.9).
@Suite struct AccessControlTests {
    static let t1 = "iqn.2001-04.com.example:storage.disk1.sys1.xyz"
    static let t2 = "iqn.2001-04.com.example:storage.disk1.sys2.xyz"
    static let t4 = "iqn.2001-04.com.example:storage.disk1.sys4.xyz"

    static func acl(allow: String? = nil, deny: String? = nil, targets: String? = nil) -> (AccessControl, [Diagnostic]) {
        AccessControl.parse(initiatorsAllow: allow, initiatorsDeny: deny, targetsAllow: targets, directory: "/etc/iet")
    }

    /// Example lines in the style of IET's sample initiators.allow.
    static let sample = """
        # comment
        \(t1) 192.168.0.0/16, .*:mscs1-[1-4]\\.example\\.com
        \(t2) [3ffe:302:11:1:211:43ff:fe31:5ae2], [3ffe:505:2:1::]/64, 192.168.22.0/24
        \(t4) 192.168.22.3, iqn\\.1998-01\\.com\\.vmware:.*\\.example\\.com
        ALL ALL

        """

    @Test func missingFilesAllowEverything() {
        let (control, diagnostics) = Self.acl()
        #expect(diagnostics.isEmpty)
        #expect(control.initiatorAllowed(target: Self.t1, initiatorName: "iqn.x:y", peerAddress: "10.0.0.1"))
        #expect(control.targetAllowed(target: Self.t1, localAddress: "10.0.0.1"))
        #expect(AccessControl().initiatorAllowed(target: "a", initiatorName: "b", peerAddress: "::1"))
    }

    @Test func sampleFileParsesCleanly() {
        let (_, diagnostics) = Self.acl(allow: Self.sample)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
    }

    @Test func ipv4Prefix() {
        let (control, _) = Self.acl(allow: Self.sample)
        #expect(control.initiatorAllowed(target: Self.t1, initiatorName: "iqn.x:y", peerAddress: "192.168.44.5"))
        #expect(!control.initiatorAllowed(target: Self.t1, initiatorName: "iqn.x:y", peerAddress: "10.0.0.1"))
        // IPv4-mapped IPv6 peers match IPv4 entries.
        #expect(control.initiatorAllowed(target: Self.t1, initiatorName: "iqn.x:y", peerAddress: "::ffff:192.168.1.1"))
    }

    @Test func ipv6AddressesAndPrefixes() {
        let (control, _) = Self.acl(allow: Self.sample)
        #expect(control.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "3ffe:302:11:1:211:43ff:fe31:5ae2"))
        #expect(control.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "3ffe:505:2:1::99"))
        #expect(!control.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "3ffe:505:2:2::1"))
        #expect(control.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "192.168.22.200"))
        #expect(!control.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "192.168.23.1"))
    }

    /// Initiator names match an anchored POSIX basic regex (`^pattern$`).
    @Test func regexIsAnchored() {
        let (control, _) = Self.acl(allow: Self.sample)
        #expect(control.initiatorAllowed(target: Self.t1, initiatorName: "iqn.1991-05.com.microsoft:mscs1-3.example.com", peerAddress: "10.1.1.1"))
        #expect(!control.initiatorAllowed(target: Self.t1, initiatorName: "iqn.1991-05.com.microsoft:mscs1-5.example.com", peerAddress: "10.1.1.1"))
        #expect(!control.initiatorAllowed(target: Self.t1, initiatorName: "iqn.1991-05.com.microsoft:mscs1-3.example.com.evil", peerAddress: "10.1.1.1"))
        #expect(control.initiatorAllowed(target: Self.t4, initiatorName: "iqn.1998-01.com.vmware:esx1.example.com", peerAddress: "10.1.1.1"))
        #expect(!control.initiatorAllowed(target: Self.t4, initiatorName: "iqn.1998-01Xcom.vmware:esx1.example.com", peerAddress: "10.1.1.1"))
        // A NUL in a peer-supplied name never matches.
        #expect(!control.initiatorAllowed(target: Self.t4, initiatorName: "iqn.1998-01.com.vmware:a.example.com\u{0}x", peerAddress: "10.1.1.1"))
    }

    /// The first line naming ALL or the target decides; later lines are not consulted.
    @Test func firstMatchingLineDecides() {
        let text = """
            ALL 10.0.0.0/8
            \(Self.t1) 192.168.0.0/16

            """
        let (control, _) = Self.acl(allow: text)
        #expect(!control.initiatorAllowed(target: Self.t1, initiatorName: "n", peerAddress: "192.168.1.1"))
        #expect(control.initiatorAllowed(target: Self.t1, initiatorName: "n", peerAddress: "10.2.3.4"))
        // Target names compare case-insensitively; "ALL" only in capitals.
        let (control2, _) = Self.acl(allow: "\(Self.t1.uppercased()) 192.168.0.0/16\nall 10.0.0.0/8\n")
        #expect(control2.initiatorAllowed(target: Self.t1, initiatorName: "n", peerAddress: "192.168.1.1"))
        #expect(!control2.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "10.1.1.1"))
    }

    /// initiators.allow present but no line for the target → deny.
    @Test func noMatchingLineDenies() {
        let (control, _) = Self.acl(allow: "\(Self.t1) ALL\n")
        #expect(control.initiatorAllowed(target: Self.t1, initiatorName: "n", peerAddress: "10.0.0.1"))
        #expect(!control.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "10.0.0.1"))
    }

    /// Deprecated initiators.deny: denied iff deny matches and allow does not.
    @Test func denyFileMode() {
        let (control, diagnostics) = Self.acl(allow: "\(Self.t1) 10.0.0.5\n", deny: "ALL ALL\n")
        #expect(diagnostics.warnings.count == 1)  // deprecation
        #expect(control.initiatorAllowed(target: Self.t1, initiatorName: "n", peerAddress: "10.0.0.5"))
        #expect(!control.initiatorAllowed(target: Self.t1, initiatorName: "n", peerAddress: "10.0.0.6"))
        #expect(!control.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "10.0.0.5"))
        // Deny file that does not match → allowed even though allow has no line.
        let (control2, _) = Self.acl(allow: nil, deny: "\(Self.t1) 10.0.0.0/8\n")
        #expect(control2.initiatorAllowed(target: Self.t2, initiatorName: "n", peerAddress: "10.0.0.5"))
        #expect(!control2.initiatorAllowed(target: Self.t1, initiatorName: "n", peerAddress: "10.0.0.5"))
    }

    /// IET netmask quirks: /32 and host bits never matched in IET; we match and warn.
    @Test func netmaskQuirks() {
        let (control, diagnostics) = Self.acl(allow: "ALL 192.168.1.5/24, 10.1.1.1/32, [::1]/128\n")
        #expect(diagnostics.at(.warning, 1, 5).count == 1)
        #expect(diagnostics.at(.warning, 1, 21).count == 1)
        #expect(diagnostics.at(.warning, 1, 34).count == 1)
        #expect(control.initiatorAllowed(target: "t", initiatorName: "n", peerAddress: "192.168.1.77"))
        #expect(control.initiatorAllowed(target: "t", initiatorName: "n", peerAddress: "10.1.1.1"))
        #expect(!control.initiatorAllowed(target: "t", initiatorName: "n", peerAddress: "10.1.1.2"))
        #expect(control.initiatorAllowed(target: "t", initiatorName: "n", peerAddress: "::1"))
    }

    @Test func badEntries() {
        let (control, diagnostics) = Self.acl(allow: "ALL 10.0.0.0/33, [zz::1], [::1, a[\n")
        #expect(diagnostics.errors.count == 4, "\(diagnostics)")
        // Bad entries never match.
        #expect(!control.initiatorAllowed(target: "t", initiatorName: "a[", peerAddress: "10.0.0.1"))
    }

    @Test func targetsAllow() {
        let (control, diagnostics) = Self.acl(targets: "\(Self.t2) [3ffe:302:11:1:211:43ff:fe31:5ae2], 192.168.22.24\n")
        #expect(diagnostics.isEmpty)
        #expect(control.targetAllowed(target: Self.t2, localAddress: "192.168.22.24"))
        #expect(!control.targetAllowed(target: Self.t2, localAddress: "192.168.22.25"))
        #expect(control.targetAllowed(target: Self.t2, localAddress: "3ffe:302:11:1:211:43ff:fe31:5ae2"))
        // No line for t1 → not allowed (file present).
        #expect(!control.targetAllowed(target: Self.t1, localAddress: "192.168.22.24"))
    }

    /// IET skipped an access-file line without a trailing newline; we read it and warn.
    @Test func lastLineWithoutNewline() {
        let (control, diagnostics) = Self.acl(allow: "ALL 10.0.0.1")
        #expect(diagnostics.warnings.count == 1)
        #expect(control.initiatorAllowed(target: "t", initiatorName: "n", peerAddress: "10.0.0.1"))
    }

    @Test func spaceSeparatedEntriesWarn() {
        let (control, diagnostics) = Self.acl(allow: "ALL 10.0.0.1 10.0.0.2\n")
        #expect(diagnostics.at(.warning, 1, 14).count == 1)
        #expect(control.initiatorAllowed(target: "t", initiatorName: "n", peerAddress: "10.0.0.2"))
    }

    @Test func addressParsing() {
        #expect(IPAddress("192.0.2.1") == .v4(0xC000_0201))
        #expect(IPAddress("[::1]") == IPAddress("::1"))
        #expect(IPAddress("fe80::1%eth0") == IPAddress("fe80::1"))
        #expect(IPAddress("::ffff:192.0.2.1") == .v4(0xC000_0201))
        #expect(IPAddress("999.1.1.1") == nil)
        #expect(IPAddress("") == nil)
        #expect(IPAddress("10.1") == nil)  // inet_aton short forms are not accepted
    }
}
