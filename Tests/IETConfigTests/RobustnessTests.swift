import IETConfig
import Testing

/// Random input never traps (config input is untrusted like peer input).
@Suite struct RobustnessTests {
    static let vocabulary = [
        "Target", "Lun", "IncomingUser", "OutgoingUser", "Alias", "MaxSessions", "MaxConnections",
        "InitialR2T", "HeaderDigest", "NOPInterval", "NOPTimeout", "QueuedCommands", "Wthreads", "iSNSServer",
        "iSNSAccessControl", "Yes", "No", "CRC32C,None", "0", "1", "-1", "0x", "0x1f", "077", "08",
        "99999999999999999999999", "Path=/a", "Type=nullio", "Type=fileio,Path=/b", "BlockSize=4096",
        "Blocks=18446744073709551616", "ScsiId=", "ScsiSN=\u{7}", ",,,", "=", "#", "\\", "\\\n", "\n", "\n",
        " ", "\t", "\r\n", "iqn.2001-04.com.example:a", "[::1]/64", "ALL", "10.0.0.0/8", "[", "]", "/",
        "a[", "(", "*", "é", "\u{0}",
    ]

    @Test func randomConfigurations() {
        var generator = SplitMix64(state: 0x1E7D_C0F1)
        for _ in 0..<3000 {
            var text = ""
            let words = Int.random(in: 0..<60, using: &generator)
            for _ in 0..<words {
                text += Self.vocabulary.randomElement(using: &generator) ?? ""
                text += Bool.random(using: &generator) ? " " : ""
            }
            let (config, diagnostics) = ConfigParser.parse(text, path: "r.conf")
            if diagnostics.containsErrors { #expect(config == nil) }
            _ = AccessControl.parse(initiatorsAllow: text, initiatorsDeny: text, targetsAllow: text, directory: "/r")
        }
    }

    @Test func randomBytes() {
        var generator = SplitMix64(state: 42)
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<300, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = String(decoding: bytes, as: UTF8.self)
            _ = ConfigParser.parse(text, path: "r.conf")
            let (control, _) = AccessControl.parse(initiatorsAllow: text, initiatorsDeny: nil, targetsAllow: text, directory: "/r")
            _ = control.initiatorAllowed(target: text, initiatorName: text, peerAddress: text)
            _ = control.targetAllowed(target: text, localAddress: text)
        }
    }

    /// Very long lines and deep continuation chains are handled (no IET 4095-byte split).
    @Test func longLines() {
        let longName = "iqn.2001-04.com.example:" + String(repeating: "x", count: 5000)
        let (_, diagnostics) = parse("Target \(longName)\n Lun 0 Path=/a\n")
        #expect(diagnostics.errors.count == 1)  // name longer than 255
        #expect(diagnostics.at(.warning, 1, 4096).count == 1)
        let chain = String(repeating: "\\\n", count: 10000)
        _ = parse("Target iqn.2001-04.com.example:a \(chain) \n")
    }
}
