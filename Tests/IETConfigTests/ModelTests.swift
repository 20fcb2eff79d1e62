import IETConfig
import Testing

@Suite struct ModelTests {
    /// anchors §1.14: the ietd.conf(5) example loads without errors.
    static let manPageExample = """
        IncomingUser joe secret
        OutgoingUser jack secret2
        Target iqn.2001-04.com.example:storage.disk2.sys1.xyz
            IncomingUser jim othersecret
            OutgoingUser james yetanothersecret
            Lun 0 Path=/dev/sdc,Type=fileio
            Lun 1 Blocks=10000,BlockSize=4096,Type=nullio
            Alias Test
            HeaderDigest None
            DataDigest None
            MaxConnections 1
            MaxSessions 0
            InitialR2T Yes
            ImmediateData No
            MaxRecvDataSegmentLength 8192
            MaxXmitDataSegmentLength 8192
            MaxBurstLength 262144
            FirstBurstLength 65536
            DefaultTime2Wait 2
            DefaultTime2Retain 0
            MaxOutstandingR2T 8
            NOPInterval 0
            NOPTimeout 0

        """

    @Test func manPageExampleLoads() throws {
        let (config, diagnostics) = parse(Self.manPageExample)
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        let configuration = try #require(config)
        #expect(configuration.discoveryIncomingUsers == [CHAPAccount(user: "joe", secret: "secret")])
        #expect(configuration.discoveryOutgoingUser == CHAPAccount(user: "jack", secret: "secret2"))
        let target = try #require(configuration.targets.first)
        #expect(target.tid == 1)
        #expect(target.alias == "Test")
        #expect(target.incomingUsers.map(\.user) == ["jim"])
        #expect(target.outgoingUser?.user == "james")
        #expect(target.luns.map(\.lun) == [0, 1])
        #expect(target.luns.first?.ioMode == .wt)
        #expect(target.luns.last?.blockSize == 4096)
        #expect(target.luns.last?.blocks == 10000)
        #expect(target.iscsiParameters["ImmediateData"] == "No")
        #expect(target.iscsiParameters["MaxOutstandingR2T"] == "8")
        #expect(target.parameter("InitialR2T") == "Yes")
        #expect(target.parameter("ErrorRecoveryLevel") == "0")
        #expect(target.queuedCommands == 32 && target.wthreads == 8 && target.maxSessions == 0)
        // Only the short-secret advisories remain.
        #expect(diagnostics.warnings.allSatisfy { $0.message.contains("shorter than 12") })
    }

    /// IET 1.4.20 kernel/volume.c gen_scsiid: MD5(target name ‖ u32 LUN little-endian); the default
    /// serial is the 32 hex digits of that ID. Expected values computed independently (Python hashlib).
    @Test func defaultSCSIIdentity() throws {
        let (config, _) = parse(Self.manPageExample)
        let luns = try #require(config?.targets.first?.luns)
        #expect(hex(luns[0].scsiID) == "ec9c13110abbc543ab448c602bef9852")
        #expect(luns[0].scsiSN == "ec9c13110abbc543ab448c602bef9852")
        #expect(hex(luns[1].scsiID) == "9771fb5e93610e7e0f7adce6d8462429")
        #expect(hex(IETIdentity.defaultSCSIID(targetName: "iqn.2026-11.org.example:demo", lun: 300))
                == "3be7b52f228b3e8518027e425a6903e0")
    }

    /// Explicit ScsiId: bytes zero-padded to 16; the default serial derives from it.
    @Test func explicitSCSIIdentity() throws {
        let (config, diagnostics) = parse("Target iqn.2001-04.com.example:a\n Lun 0 Path=/a,ScsiId=vol0001,ScsiSN=SER1\n Lun 1 Path=/b,ScsiId=AB\n")
        #expect(diagnostics.errors.isEmpty)
        let luns = try #require(config?.targets.first?.luns)
        #expect(luns[0].scsiID == Array("vol0001".utf8) + [UInt8](repeating: 0, count: 9))
        #expect(luns[0].scsiSN == "SER1")
        #expect(luns[1].scsiSN == "4142" + String(repeating: "0", count: 28))
    }

    /// CHAP secrets never appear in descriptions, dumps or diagnostics.
    @Test func secretsNeverPrinted() throws {
        let secrets = ["s3cr3tDiscovery", "s3cr3tOutgoing", "s3cr3tTarget", "sh0rt", "#hashSecret"]
        let text = """
            IncomingUser joe s3cr3tDiscovery
            OutgoingUser jack s3cr3tOutgoing
            IncomingUser joe s3cr3tDiscovery
            OutgoingUser jack s3cr3tOutgoing
            Target iqn.2001-04.com.example:a
                IncomingUser jim s3cr3tTarget
                IncomingUser jim sh0rt
                IncomingUser kim #hashSecret
                OutgoingUser jim s3cr3tTarget
                IncomingUser bad
                Lun 0 Path=/a
            Target iqn.2001-04.com.example:a
                IncomingUser jim s3cr3tTarget extra
            """
        let (_, diagnostics) = parse(text)
        let rendered = diagnostics.map(\.description).joined(separator: "\n")
        for secret in secrets {
            #expect(!rendered.contains(secret), "\(secret) leaked")
        }
        // Without the erroring line the configuration loads; its printed forms are clean too.
        let withoutError = text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("IncomingUser bad") }.joined(separator: "\n")
        let (config, _) = parse(withoutError)
        let configuration = try #require(config)
        var dumped = ""
        dump(configuration, to: &dumped)
        for printed in [String(describing: configuration), String(reflecting: configuration), dumped,
                        "\(configuration.targets[0].incomingUsers)"] {
            for secret in secrets {
                #expect(!printed.contains(secret), "\(secret) leaked in \(printed)")
            }
        }
        #expect(configuration.targets[0].incomingUsers.map(\.description) == ["kim (secret redacted)", "jim (secret redacted)"])
    }
}
