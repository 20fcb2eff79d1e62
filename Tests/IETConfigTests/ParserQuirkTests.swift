import IETConfig
import Testing

/// One test per IET reader quirk (style-anchors §A6, anchors §1.3); see docs/configuration.md.
@Suite struct ParserQuirkTests {
    /// Quirk 1: ietd.conf(5) documents backslash continuation; IET never implemented it. We do.
    @Test func backslashContinuation() {
        let text = """
            Target iqn.2001-04.com.example:a
                Lun 0 Path=/dev/vg0/a,\\
                      Type=blockio
                IncomingUser joe \\
                    secretsecret12
                MaxBurstLength \\
            131072

            """
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        let target = config?.targets.first
        #expect(target?.luns.first?.path == "/dev/vg0/a")
        #expect(target?.luns.first?.type == .blockio)
        #expect(target?.incomingUsers == [CHAPAccount(user: "joe", secret: "secretsecret12")])
        #expect(target?.iscsiParameters["MaxBurstLength"] == "131072")
    }

    /// A comment line ending in a backslash does not swallow the next line (IET never joined lines).
    @Test func commentLineDoesNotContinue() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n#Lun 1 Path=/x,\\\n    Lun 0 Path=/dev/a\n")
        #expect(diagnostics.errors.isEmpty)
        #expect(config?.targets.first?.luns.map(\.lun) == [0])
    }

    /// A blank inside a Lun list (not at a continuation) is rejected, as IET's kernel did.
    @Test func blankInLunParametersIsAnError() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n  Lun 0 Path=/dev/a, Type=fileio\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 2, 22).count == 1)
    }

    /// Quirk 2: trailing '#' comments load (IET ignored the words by accident) with a warning.
    @Test func trailingComment() {
        let text = "Target iqn.2001-04.com.example:a\n    Lun 0 Path=/dev/a\n    MaxConnections 1 # per session\n"
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty)
        #expect(diagnostics.at(.warning, 3, 22).count == 1)
        #expect(config?.targets.first?.iscsiParameters["MaxConnections"] == "1")
    }

    /// A trailing comment on a Lun line is removed too (IET would have failed the LUN).
    @Test func trailingCommentOnLunLine() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n  Lun 0 Path=/dev/a,Type=fileio # root\n")
        #expect(diagnostics.errors.isEmpty)
        #expect(config?.targets.first?.luns.first?.path == "/dev/a")
    }

    /// A secret starting with '#' was read as the secret by IET (only a FIRST word '#' is a comment).
    @Test func secretStartingWithHash() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n  Lun 0 Path=/dev/a\n  IncomingUser joe #hashsecret12\n")
        #expect(diagnostics.errors.isEmpty)
        #expect(config?.targets.first?.incomingUsers.first?.secret == "#hashsecret12")
        #expect(!diagnostics.contains { $0.message.contains("hashsecret") })
    }

    /// Quirk 4: IET dropped the last word of a final line without newline. We read it and warn.
    @Test func noFinalNewline() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n    Lun 0 Path=/dev/a")
        #expect(diagnostics.errors.isEmpty)
        #expect(diagnostics.at(.warning, 2, 11).count == 1)
        #expect(config?.targets.first?.luns.first?.path == "/dev/a")
    }

    /// A final `Target` line without newline creates the target (IET created none).
    @Test func finalTargetLineWithoutNewline() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a")
        #expect(config?.targets.map(\.name) == ["iqn.2001-04.com.example:a"])
        #expect(diagnostics.at(.warning, 1, 8).filter { $0.message.contains("newline") }.count == 1)
    }

    /// Quirk 11: a duplicate Target is ignored except for its accounts, which join the first target.
    @Test func duplicateTarget() {
        let text = """
            Target iqn.2001-04.com.example:a
                Lun 0 Path=/dev/a
            Target IQN.2001-04.com.example:A
                Lun 1 Path=/dev/b
                MaxConnections 2
                IncomingUser dup secretsecret12

            """
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty)
        #expect(diagnostics.at(.warning, 3, 8).count == 1)
        #expect(config?.targets.count == 1)
        #expect(config?.targets.first?.luns.map(\.lun) == [0])
        #expect(config?.targets.first?.iscsiParameters["MaxConnections"] == nil)
        #expect(config?.targets.first?.incomingUsers.map(\.user) == ["dup"])
    }

    /// Quirk 8: target parameters before the first Target are ignored, with a warning.
    @Test func parametersBeforeFirstTarget() {
        let text = "MaxConnections 4\nLun 0 Path=/dev/x\nTarget iqn.2001-04.com.example:a\n  Lun 0 Path=/dev/a\n"
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty)
        #expect(diagnostics.at(.warning, 1, 1).count == 1)
        #expect(diagnostics.at(.warning, 2, 1).count == 1)
        #expect(config?.targets.first?.iscsiParameters["MaxConnections"] == nil)
        #expect(config?.targets.first?.luns.map(\.path) == ["/dev/a"])
    }

    /// Quirk 7: unknown directives are ignored with a warning.
    @Test func unknownDirective() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n  Lun 0 Path=/dev/a\n  Frobnicate 3\n")
        #expect(config != nil)
        #expect(diagnostics.at(.warning, 3, 3).count == 1)
    }

    /// An unknown key inside a Lun parameter list failed the LUN in IET: error, located at the key.
    @Test func unknownLunParameterIsAnError() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n  Lun 0 Path=/dev/a,Foo=1\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 2, 21).count == 1)
    }

    /// Quirk 9: out-of-range numbers are clamped to the nearest bound with a warning.
    @Test func outOfRangeClamp() {
        let text = """
            Target iqn.2001-04.com.example:a
                Lun 0 Path=/dev/a
                QueuedCommands 1000
                MaxBurstLength 100
                NOPInterval 100
                Wthreads 0

            """
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty)
        let target = config?.targets.first
        #expect(target?.queuedCommands == 256)
        #expect(target?.iscsiParameters["MaxBurstLength"] == "512")
        #expect(target?.nopInterval == 90)
        #expect(target?.wthreads == 1)
        #expect(diagnostics.at(.warning, 3, 20).count == 1)
        #expect(diagnostics.at(.warning, 4, 20).count == 1)
    }

    /// strtol base 0: hex accepted; a leading 0 means octal (warned).
    @Test func numberSyntax() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n MaxBurstLength 0x10000\n MaxConnections 010\n")
        #expect(config?.targets.first?.iscsiParameters["MaxBurstLength"] == "65536")
        #expect(config?.targets.first?.iscsiParameters["MaxConnections"] == "8")
        #expect(diagnostics.at(.warning, 4, 17).count == 1)
    }

    @Test func nonNumericValueIsAnError() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n MaxBurstLength 64k\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 3, 17).count == 1)
    }

    /// A huge number does not trap; it saturates and is clamped.
    @Test func hugeNumberSaturates() {
        let (config, _) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n MaxBurstLength 99999999999999999999999999\n")
        #expect(config?.targets.first?.iscsiParameters["MaxBurstLength"] == "16777215")
    }

    /// Yes/No are case-sensitive (IET strcmp): "yes" is an error located at the value.
    @Test func badYesNo() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n InitialR2T yes\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 3, 13).count == 1)
    }

    /// Only one OutgoingUser per scope; the later replaces the earlier with a warning.
    @Test func twoOutgoingUsers() {
        let text = """
            OutgoingUser first secretsecret01
            OutgoingUser second secretsecret02
            Target iqn.2001-04.com.example:a
                Lun 0 Path=/dev/a
                OutgoingUser t1 secretsecret03
                OutgoingUser t2 secretsecret04

            """
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty)
        #expect(config?.discoveryOutgoingUser?.user == "second")
        #expect(config?.targets.first?.outgoingUser?.user == "t2")
        #expect(diagnostics.at(.warning, 2, 1).count == 1)
        #expect(diagnostics.at(.warning, 6, 5).count == 1)
    }

    /// ietd.conf(5): "The first <lun> defined MUST be 0" — not enforced by IET: warning.
    @Test func missingLUN0() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n    Lun 1 Path=/dev/a\n")
        #expect(config?.targets.first?.luns.map(\.lun) == [1])
        #expect(diagnostics.at(.warning, 1, 8).count == 1)
    }

    /// Same meaning in 0.4.x (`Path=` first, case-sensitive keys) and 1.4.x (any order, any key case).
    @Test func lunSyntaxOldAndNew() {
        let text = """
            Target iqn.2001-04.com.example:a
                Lun 0 Path=/dev/sdc,Type=fileio,ScsiId=old,ScsiSN=SN0,IOMode=wb
                lun 1 type=blockio,PATH=/dev/sdd,iomode=ro,blocksize=4096
                Lun 2 Sectors=1000,Type=nullio

            """
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        let luns = config?.targets.first?.luns ?? []
        #expect(luns.count == 3)
        #expect(luns.first?.type == .fileio)
        #expect(luns.first?.ioMode == .wb)
        #expect(luns.first?.scsiSN == "SN0")
        #expect(luns.dropFirst().first?.type == .blockio)
        #expect(luns.dropFirst().first?.path == "/dev/sdd")
        #expect(luns.dropFirst().first?.ioMode == .ro)
        #expect(luns.dropFirst().first?.blockSize == 4096)
        #expect(luns.last?.blocks == 1000)
    }

    /// Values are case-sensitive (IET strcmp against registered iotypes).
    @Test func typeValueIsCaseSensitive() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n  Lun 0 Path=/a,Type=FileIO\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 2, 17).first?.message.contains("case-sensitive") == true)
    }

    /// nullio: Blocks=/Sectors=, default 64 GiB worth of blocks, no Path or IOMode.
    @Test func nullio() {
        let text = """
            Target iqn.2001-04.com.example:a
                Lun 0 Type=nullio
                Lun 1 Type=nullio,BlockSize=4096
                Lun 2 Blocks=10000,BlockSize=4096,Type=nullio

            """
        let (config, diagnostics) = parse(text)
        #expect(diagnostics.errors.isEmpty)
        let luns = config?.targets.first?.luns ?? []
        #expect(luns.map(\.blocks) == [1 << 27, 1 << 24, 10000])
        #expect(luns.allSatisfy { $0.path == nil && $0.type == .nullio })
        let (bad, badDiagnostics) = parse("Target iqn.2001-04.com.example:a\n  Lun 0 Type=nullio,Path=/x\n")
        #expect(bad == nil)
        #expect(badDiagnostics.at(.error, 2, 21).count == 1)
    }

    @Test func lunErrors() {
        let cases: [(String, Int)] = [
            ("Lun 0 Type=fileio", 5),  // missing Path: at the LUN number
            ("Lun 16384 Path=/a", 5),  // LUN > 0x3fff
            ("Lun 0 Path=/a,Type=tape", 15),
            ("Lun 0 Path=/a,BlockSize=1000", 15),
            ("Lun 0 Path=/a,BlockSize=8192", 15),
            ("Lun 0 Path=/a,ScsiId=12345678901234567", 15),
            ("Lun 0 Path=/a,IOMode=WB", 15),
            ("Lun 0 Path=/a,Path=/b", 15),
            ("Lun 0 Path=/a,Blocks=10", 15),
            ("Lun x Path=/a", 5),
            ("Lun 0 Type=nullio,IOMode=ro", 19),
            ("Lun 0 Path=/a,Noequals", 15),
        ]
        for (line, column) in cases {
            let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n\(line)\n")
            #expect(config == nil, "\(line)")
            #expect(diagnostics.at(.error, 2, column).count == 1, "\(line): \(diagnostics)")
        }
    }

    @Test func duplicateLUNIsAnError() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\nLun 0 Path=/a\nLun 0 Path=/b\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 3, 1).count == 1)
    }

    /// ietd.conf(5): "A <password> has to be provided".
    @Test func userWithoutPassword() {
        let (config, diagnostics) = parse("IncomingUser joe\nTarget iqn.2001-04.com.example:a\n Lun 0 Path=/a\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 1, 14).count == 1)
    }

    /// IET kernel forced ErrorRecoveryLevel/DefaultTime2Retain 0 and in-order data: we do the same, warned.
    @Test func forcedValues() {
        let (config, diagnostics) = parse("""
            Target iqn.2001-04.com.example:a
             Lun 0 Path=/a
             ErrorRecoveryLevel 2
             DefaultTime2Retain 20
             DataPDUInOrder No

            """)
        let parameters = config?.targets.first?.iscsiParameters ?? [:]
        #expect(parameters["ErrorRecoveryLevel"] == "0")
        #expect(parameters["DefaultTime2Retain"] == "0")
        #expect(parameters["DataPDUInOrder"] == "Yes")
        #expect(diagnostics.warnings.count == 3)
    }

    /// ietd.conf(5) NOPTimeout: 0 or > NOPInterval becomes NOPInterval.
    @Test func nopTimeoutFollowsInterval() {
        let (config, _) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n NOPInterval 10\n NOPTimeout 30\n")
        #expect(config?.targets.first?.nopTimeout == 10)
        let (config2, _) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n NOPInterval 10\n")
        #expect(config2?.targets.first?.nopTimeout == 10)
        let (config3, _) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n NOPInterval 10\n NOPTimeout 5\n")
        #expect(config3?.targets.first?.nopTimeout == 5)
    }

    @Test func digests() {
        let (config, _) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n HeaderDigest CRC32C,None\n DataDigest None\n")
        #expect(config?.targets.first?.iscsiParameters["HeaderDigest"] == "CRC32C,None")
        #expect(config?.targets.first?.iscsiParameters["DataDigest"] == "None")
        let (bad, diagnostics) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n HeaderDigest crc32c\n")
        #expect(bad == nil)
        #expect(diagnostics.at(.error, 3, 15).count == 1)
    }

    /// Keywords are case-insensitive; canonical spelling is stored.
    @Test func keywordsCaseInsensitive() {
        let (config, diagnostics) = parse("TARGET iqn.2001-04.com.example:a\n lun 0 path=/a\n maxrecvdatasegmentlength 65536\n maxsessions 2\n")
        #expect(diagnostics.errors.isEmpty)
        #expect(config?.targets.first?.iscsiParameters["MaxRecvDataSegmentLength"] == "65536")
        #expect(config?.targets.first?.maxSessions == 2)
    }

    /// IET's kernel forced MaxRecvDataSegmentLength above 256 KiB to 512; we keep the value and warn.
    @Test func largeDataSegmentLengthWarns() {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n MaxRecvDataSegmentLength 524288\n")
        #expect(config?.targets.first?.iscsiParameters["MaxRecvDataSegmentLength"] == "524288")
        #expect(diagnostics.at(.warning, 3, 27).count == 1)
    }

    @Test func targetWithoutNameIsAnError() {
        let (config, diagnostics) = parse("Target\n Lun 0 Path=/a\n")
        #expect(config == nil)
        #expect(diagnostics.at(.error, 1, 1).count == 1)
    }

    @Test func tidsFollowFileOrder() {
        let (config, _) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\nTarget iqn.2001-04.com.example:b\n Lun 0 Path=/b\n")
        #expect(config?.targets.map(\.tid) == [1, 2])
        #expect(config?.target(named: "IQN.2001-04.COM.EXAMPLE:B")?.tid == 2)
    }

    @Test func globalSection() {
        let (config, diagnostics) = parse("""
            IncomingUser joe secretsecret12
            IncomingUser ann secretsecret13
            iSNSServer 192.0.2.1
            iSNSAccessControl yes
            Target iqn.2001-04.com.example:a
             Lun 0 Path=/a

            """)
        #expect(diagnostics.errors.isEmpty)
        #expect(config?.discoveryIncomingUsers.map(\.user) == ["joe", "ann"])
        #expect(config?.isnsServer == "192.0.2.1")
        #expect(config?.isnsAccessControl == true)
    }

    /// Diagnostics render compiler-style.
    @Test func diagnosticRendering() {
        let (_, diagnostics) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a\n InitialR2T yes\n")
        #expect(diagnostics.errors.first?.description.hasPrefix("t.conf:3:13: error: InitialR2T must be Yes or No") == true)
    }
}
