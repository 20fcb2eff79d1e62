import Testing
@testable import ISCSINegotiation

/// CHAP (RFC 7143 §12.1.3, RFC 1994) transcripts. The random source is scripted: the first output
/// is CHAP_I, the second CHAP_C. Expected CHAP_R values were computed independently
/// (Python hashlib: md5(bytes([I]) + secret + challenge)).
@Suite struct CHAPTranscriptTests {
    /// The target, its accounts and the scripted identifier 7 and challenge 0x0011…eeff.
    static let setup = """
        target iqn.2001-04.com.example:storage.disk1
        incoming bob bob-secret-3456
        incoming alice alice-secret-12
        outgoing target-out target-secret-34
        random 07
        random 00112233445566778899aabbccddeeff
        """

    /// libiscsi (lib/login.c): AuthMethod=CHAP,None with T=1, CHAP_A=5 with T=0, then
    /// CHAP_N/CHAP_R (uppercase hex) with T=1. The target holds the security stage (T=0) until
    /// the response verified, then transits; the operational stage follows.
    @Test func oneWayCHAPLibiscsi() {
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq
          TargetName=iqn.2001-04.com.example:storage.disk1
          SessionType=Normal
          AuthMethod=CHAP,None
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=0
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019AE270CFF779D1DD3322E9705E1
        < 0x0000 CSG=0 NSG=1 T=1 respond
        user alice
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq
          TargetName=iqn.2001-04.com.example:storage.disk1
          SessionType=Normal
          HeaderDigest=None,CRC32C
          DataDigest=None
          MaxRecvDataSegmentLength=262144
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=None
          DataDigest=None
          MaxRecvDataSegmentLength=262144
        = headerDigest false
        = targetName iqn.2001-04.com.example:storage.disk1
        """)
    }

    /// open-iscsi style: AuthMethod=CHAP alone with T=0, an algorithm list with SHA variants
    /// (RFC 7143 §12.1.3: the target picks the one it supports, 5 = MD5), the second account of
    /// several, and a transit straight to full feature phase.
    @Test func oneWayCHAPAlgorithmListSecondAccount() {
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=0
          CHAP_A=7,6,5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
        > login CSG=0 NSG=3 T=1
          CHAP_N=bob
          CHAP_R=0x6da57a1b9f29b32a0b87264ec4c966ac
        < 0x0000 CSG=0 NSG=3 T=1 complete
        user bob
        """)
    }

    /// Mutual CHAP (libiscsi `target_user`/`target_password`): CHAP_I/CHAP_C next to CHAP_N/CHAP_R;
    /// the target answers with OutgoingUser's name and response in its transit response.
    @Test func mutualCHAP() {
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP,None
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
          CHAP_I=1
          CHAP_C=0xfedcba9876543210fedcba9876543210
        < 0x0000 CSG=0 NSG=1 T=1 respond
          CHAP_N=target-out
          CHAP_R=0xc57e00619554d7c27e91806e8237d577
        user alice
        """)
    }

    /// RFC 7143 §6.1 base64-constant (0b…) for the initiator's response and its mutual challenge.
    @Test func base64Encodings() {
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0bQzAZricM/3edHdMyLpcF4Q==
          CHAP_I=1
          CHAP_C=0b/ty6mHZUMhD+3LqYdlQyEA==
        < 0x0000 CSG=0 NSG=1 T=1 respond
          CHAP_N=target-out
          CHAP_R=0xc57e00619554d7c27e91806e8237d577
        """)
    }

    /// RFC 7143 §12.1.3: binary challenges up to 1024 bytes (libiscsi PR #196).
    @Test func mutualChallengeOf1024Bytes() {
        let challenge = (0..<1024).map { byte in
            let hex = String(byte % 256, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
          CHAP_I=200
          CHAP_C=0x\(challenge)
        < 0x0000 CSG=0 NSG=1 T=1 respond
          CHAP_N=target-out
          CHAP_R=0x6a9197a368bf42c695895b2322fe4288
        """)
    }

    /// The opening shared by the failure transcripts: CHAP agreed and challenged.
    static let challenged = setup + """

        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
          TargetPortalGroupTag=1
        """

    /// A response computed with the wrong secret: 0x0201, and the reason names the user only.
    @Test func wrongSecret() {
        Transcript.run(Self.challenged + """

        > login CSG=0 NSG=1 T=1
          CHAP_N=bob
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason CHAP response mismatch for user bob
        """)
    }

    /// A CHAP_N that is no IncomingUser: 0x0201.
    @Test func unknownUser() {
        Transcript.run(Self.challenged + """

        > login CSG=0 NSG=1 T=1
          CHAP_N=mallory
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason unknown CHAP user mallory
        """)
    }

    /// CHAP_N without CHAP_R: 0x0201.
    @Test func missingResponse() {
        Transcript.run(Self.challenged + """

        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason missing CHAP_R for user alice
        """)
    }

    /// A CHAP_R of the wrong length, and malformed hex: 0x0201.
    @Test func malformedResponse() {
        Transcript.run(Self.challenged + """

        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason malformed CHAP_R
        """)
        Transcript.run(Self.challenged + """

        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705zz
        < 0x0201 CSG=0 NSG=0 T=0 fail
        """)
    }

    /// RFC 7143 §12.1.3: the initiator's mutual challenge equal to ours (reflection) is refused,
    /// and so is one equal to another challenge this process issued.
    @Test func reflectedChallenge() {
        Transcript.run(Self.challenged + """

        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason reflected CHAP challenge
        """)
        Transcript.run("registry 0102030405060708090a0b0c0d0e0f10\n" + Self.challenged + """

        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
          CHAP_I=7
          CHAP_C=0x0102030405060708090a0b0c0d0e0f10
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason reflected CHAP challenge
        """)
    }

    /// RFC 7143 §12.1.3: challenges are never reused. The random source returns an already
    /// issued challenge first; the target draws again and sends the fresh one.
    @Test func reusedChallengeIsRedrawn() {
        Transcript.run("""
        registry 00112233445566778899aabbccddeeff
        target iqn.2001-04.com.example:storage.disk1
        incoming alice alice-secret-12
        random 07
        random 00112233445566778899aabbccddeeff
        random ffeeddccbbaa99887766554433221100
        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0xffeeddccbbaa99887766554433221100
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0xa75e3865f511551baa8c9d6e4ab0e8f7
        < 0x0000 CSG=0 NSG=1 T=1 respond
        user alice
        """)
    }

    /// Mutual CHAP requested but the target has no OutgoingUser: 0x0201.
    @Test func mutualWithoutOutgoingUser() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        incoming alice alice-secret-12
        random 07
        random 00112233445566778899aabbccddeeff
        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
          CHAP_I=1
          CHAP_C=0xfedcba9876543210fedcba9876543210
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason no OutgoingUser
        """)
    }

    /// RFC 7143 §12.1: a target that requires CHAP refuses AuthMethod=None (0x0201), a login that
    /// skips the security stage, and one that leaves it without offering AuthMethod.
    @Test func requiredCHAPRefusesNone() {
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=None
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason no acceptable AuthMethod
        """)
        Transcript.run(Self.setup + """

        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq
          TargetName=iqn.2001-04.com.example:storage.disk1
          HeaderDigest=None
        < 0x0201 CSG=1 NSG=0 T=0 fail
        reason security stage was skipped
        """)
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason no AuthMethod offered
        """)
    }

    /// CHAP keys in the wrong order: a response before the challenge, CHAP_A without MD5, and CHAP
    /// keys after authentication.
    @Test func orderingAndAlgorithm() {
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
          CHAP_N=alice
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason before CHAP_A
        """)
        Transcript.run(Self.setup + """

        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=CHAP
          CHAP_A=7,6
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason no supported CHAP_A
        """)
        Transcript.run(Self.challenged + """

        > login CSG=0 NSG=1 T=0
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
        < 0x0000 CSG=0 NSG=0 T=0 respond
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason after authentication
        """)
    }

    /// Discovery sessions authenticate against the global IncomingUser accounts.
    @Test func discoveryUsesGlobalAccounts() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        incoming alice alice-secret-12
        discovery-incoming carol carol-secret-99
        random 09
        random 00112233445566778899aabbccddeeff
        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          SessionType=Discovery
          AuthMethod=CHAP,None
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=9
          CHAP_C=0x00112233445566778899aabbccddeeff
        > login CSG=0 NSG=1 T=1
          CHAP_N=carol
          CHAP_R=0xaaec530dbcb6f988f9b66340522fd9db
        < 0x0000 CSG=0 NSG=1 T=1 respond
        user carol
        """)
        // The target's account is not a discovery account.
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        incoming alice alice-secret-12
        discovery-incoming carol carol-secret-99
        random 07
        random 00112233445566778899aabbccddeeff
        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          SessionType=Discovery
          AuthMethod=CHAP,None
          CHAP_A=5
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=CHAP
          CHAP_A=5
          CHAP_I=7
          CHAP_C=0x00112233445566778899aabbccddeeff
        > login CSG=0 NSG=1 T=1
          CHAP_N=alice
          CHAP_R=0x433019ae270cff779d1dd3322e9705e1
        < 0x0201 CSG=0 NSG=0 T=0 fail
        reason unknown CHAP user alice
        """)
    }
}

/// The pieces under the transcripts.
@Suite struct CHAPUnitTests {
    /// RFC 7143 §6.1 binary values: hex (either case, odd digit count), base64 (padded or not),
    /// and the 1024-byte bound.
    @Test func binaryDecoding() {
        #expect(CHAPBinary.decode("0x0aFF") == [0x0a, 0xff])
        #expect(CHAPBinary.decode("0XabC") == [0x0a, 0xbc])
        #expect(CHAPBinary.decode("0bAAEC") == [0x00, 0x01, 0x02])
        #expect(CHAPBinary.decode("0bAAE=") == [0x00, 0x01])
        #expect(CHAPBinary.decode("0bAA==") == [0x00])
        #expect(CHAPBinary.decode("0bAA") == [0x00])
        for bad in ["", "0x", "0b", "12", "0xg0", "0bA", "0bA===", "0bAA=A", "0y00", "0b*AAA"] {
            #expect(CHAPBinary.decode(bad) == nil, "\(bad)")
        }
        let max = [UInt8](repeating: 0xab, count: 1024)
        #expect(CHAPBinary.decode(CHAPBinary.encodeHex(max)) == max)
        #expect(CHAPBinary.decode(CHAPBinary.encodeBase64(max)) == max)
        #expect(CHAPBinary.decode(CHAPBinary.encodeHex(max + [1])) == nil)
        #expect(CHAPBinary.decode(CHAPBinary.encodeBase64(max + [1])) == nil)
        for length in 1...7 {
            let value = (0..<length).map { UInt8($0 * 37 & 0xff) }
            #expect(CHAPBinary.decode(CHAPBinary.encodeBase64(value)) == value)
        }
        #expect(CHAPBinary.encodeBase64([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                         0xcc, 0xdd, 0xee, 0xff]) == "0bABEiM0RVZneImaq7zN3u/w==")
    }

    /// RFC 1994 §4.1 response, against a value computed with Python's hashlib.
    @Test func md5Response() {
        let challenge = bytes(hex: "00112233445566778899aabbccddeeff")
        #expect(CHAPExchange.response(identifier: 7, secret: "alice-secret-12", challenge: challenge)
                == bytes(hex: "433019ae270cff779d1dd3322e9705e1"))
    }

    /// The registry refuses a challenge it holds and forgets the oldest beyond its capacity.
    @Test func registryIsBounded() {
        let registry = CHAPChallengeRegistry(capacity: 2)
        #expect(registry.register([1]) && registry.register([2]))
        #expect(!registry.register([1]))
        #expect(registry.register([3]))
        #expect(!registry.contains([1]) && registry.contains([2]) && registry.contains([3]))
        #expect(registry.register([1]))
    }

    /// The system source gives the requested count and different challenges each time.
    @Test func systemRandom() {
        #expect(LoginEnvironment.systemRandomBytes(0).isEmpty)
        #expect(LoginEnvironment.systemRandomBytes(13).count == 13)
        #expect(LoginEnvironment.systemRandomBytes(16) != LoginEnvironment.systemRandomBytes(16))
    }

    /// A random source that keeps returning the same challenge: the login fails (target error)
    /// instead of reusing it.
    @Test func stuckRandomSourceFails() {
        let stuck = [UInt8](repeating: 0x42, count: 16)
        let registry = CHAPChallengeRegistry()
        var targets = [TargetLoginInfo(name: Fixture.target, incomingAccounts: [CHAPCredential(user: "u", secret: "secret-secret")])]
        targets[0].policy = .init()
        let first = Fixture.text([("InitiatorName", Fixture.initiator), ("TargetName", Fixture.target),
                                  ("AuthMethod", "CHAP"), ("CHAP_A", "5")])
        var one = Fixture.machine(Fixture.environment(targets: targets, random: [[1], stuck], registry: registry))
        #expect(one.receive(Fixture.login(csg: 0, nsg: 1, t: false), data: first).status == .success)
        var two = Fixture.machine(Fixture.environment(targets: targets, random: [[1]] + Array(repeating: stuck, count: 8),
                                                      registry: registry))
        let action = two.receive(Fixture.login(csg: 0, nsg: 1, t: false), data: first)
        #expect(action.status == .targetError)
    }

    /// Secrets never appear in descriptions or failure reasons.
    @Test func secretsAreRedacted() {
        let credential = CHAPCredential(user: "alice", secret: "alice-secret-12")
        #expect(!"\(credential)".contains("alice-secret-12"))
        #expect(!String(reflecting: credential).contains("alice-secret-12"))
        var dumped = ""
        dump(credential, to: &dumped)
        #expect(!dumped.contains("alice-secret-12"))
        let info = TargetLoginInfo(name: Fixture.target, incomingAccounts: [credential], outgoingAccount: credential)
        #expect(!"\(info)".contains("alice-secret-12"))
        #expect(CHAPExchange.loggable("a\nb\u{7f}c") == "a?b?c")
    }
}

/// Digest list negotiation (RFC 7143 §13.1, §6.2 list rule).
@Suite struct DigestNegotiationTests {
    /// Default policy: the initiator's first supported value wins, both directions independent.
    @Test func defaultAcceptsEither() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          HeaderDigest=CRC32C,None
          DataDigest=None,CRC32C
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=CRC32C
          DataDigest=None
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=262144
        = headerDigest true
        = dataDigest false
        """)
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          HeaderDigest=CRC32C
          DataDigest=CRC32C
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=CRC32C
          DataDigest=CRC32C
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=262144
        = headerDigest true
        = dataDigest true
        """)
        // An initiator that does not mention digests gets the default None; we do not propose.
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
        < 0x0000 CSG=1 NSG=3 T=1 complete
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=262144
        = headerDigest false
        = dataDigest false
        """)
    }

    /// ietd.conf `HeaderDigest None`: digests off even when the initiator prefers CRC32C.
    @Test func configuredNone() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy HeaderDigest=None
        policy DataDigest=None
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          HeaderDigest=CRC32C,None
          DataDigest=CRC32C,None
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=None
          DataDigest=None
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=262144
        = headerDigest false
        = dataDigest false
        """)
    }

    /// ietd.conf `HeaderDigest CRC32C` (no None): required. An initiator offering only None fails
    /// the login; one that offers CRC32C anywhere in its list gets it; one that is silent gets a
    /// proposal.
    @Test func configuredRequired() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy HeaderDigest=CRC32C
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          HeaderDigest=None
        < 0x0200 CSG=1 NSG=0 T=0 fail
        reason HeaderDigest: CRC32C required
        """)
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy HeaderDigest=CRC32C
        policy DataDigest=CRC32C
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          HeaderDigest=None,CRC32C
          DataDigest=None,CRC32C
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=CRC32C
          DataDigest=CRC32C
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=262144
        = headerDigest true
        = dataDigest true
        """)
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy DataDigest=CRC32C
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
        < 0x0000 CSG=1 NSG=0 T=0 respond
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=262144
          DataDigest=CRC32C
        > login CSG=1 NSG=3 T=1
          DataDigest=CRC32C
        < 0x0000 CSG=1 NSG=3 T=1 complete
        = headerDigest false
        = dataDigest true
        """)
    }

    /// Discovery sessions use the same list rule (the runtime turns digests on for them too).
    @Test func discoveryDigests() {
        Transcript.run("""
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          SessionType=Discovery
          HeaderDigest=CRC32C,None
          DataDigest=CRC32C,None
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=CRC32C
          DataDigest=CRC32C
          MaxRecvDataSegmentLength=262144
        = headerDigest true
        = dataDigest true
        """)
    }
}
