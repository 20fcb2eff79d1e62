import Testing
@testable import ISCSINegotiation

/// Golden negotiation transcripts: target configuration, each initiator PDU and the exact expected
/// target response, then the negotiated values. Format: see `Transcript`.
@Suite struct TranscriptTests {
    /// open-iscsi (usr/login.c, iscsid.conf defaults): security stage with AuthMethod=None, then the
    /// operational stage with every key it always sends.
    @Test func openISCSIPlainLogin() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1 alias=Disk1
        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          InitiatorAlias=xen-dom0
          TargetName=iqn.2001-04.com.example:storage.disk1
          SessionType=Normal
          AuthMethod=None
        < 0x0000 CSG=0 NSG=1 T=1 respond
          AuthMethod=None
          TargetAlias=Disk1
          TargetPortalGroupTag=1
        > login CSG=1 NSG=3 T=1
          HeaderDigest=None,CRC32C
          DataDigest=None,CRC32C
          DefaultTime2Wait=2
          DefaultTime2Retain=0
          IFMarker=No
          OFMarker=No
          ErrorRecoveryLevel=0
          InitialR2T=No
          ImmediateData=Yes
          MaxBurstLength=16776192
          FirstBurstLength=262144
          MaxOutstandingR2T=1
          MaxConnections=1
          DataPDUInOrder=Yes
          DataSequenceInOrder=Yes
          MaxRecvDataSegmentLength=262144
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=None
          DataDigest=None
          DefaultTime2Wait=2
          DefaultTime2Retain=0
          IFMarker=No
          OFMarker=No
          ErrorRecoveryLevel=0
          InitialR2T=No
          ImmediateData=Yes
          MaxBurstLength=1048576
          FirstBurstLength=262144
          MaxOutstandingR2T=1
          MaxConnections=1
          DataPDUInOrder=Yes
          DataSequenceInOrder=Yes
          MaxRecvDataSegmentLength=262144
        = sessionType Normal
        = initiatorName iqn.2004-10.com.ubuntu:01:abcdef
        = initiatorAlias xen-dom0
        = targetName iqn.2001-04.com.example:storage.disk1
        = targetPortalGroupTag 1
        = maxRecvDataSegmentLength 262144
        = maxXmitDataSegmentLength 262144
        = maxBurstLength 1048576
        = firstBurstLength 262144
        = initialR2T false
        = immediateData true
        = maxOutstandingR2T 1
        = maxConnections 1
        = defaultTime2Wait 2
        = defaultTime2Retain 0
        = errorRecoveryLevel 0
        = dataPDUInOrder true
        = dataSequenceInOrder true
        = headerDigest false
        = dataDigest false
        """)
    }

    /// open-iscsi with digests preferred ("CRC32C,None") against a target that allows both.
    @Test func openISCSIDigestsWhenTargetAllowsThem() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy HeaderDigest=None,CRC32C
        policy DataDigest=None,CRC32C
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
        = maxXmitDataSegmentLength 8192
        = maxBurstLength 262144
        = firstBurstLength 65536
        = initialR2T true
        = defaultTime2Retain 20
        """)
    }

    /// libiscsi `iscsi-ls` (lib/login.c): no CHAP → starts in the operational stage with T=1,
    /// SessionType=Discovery and every operational key; session-only keys are Irrelevant.
    /// Then SendTargets=All.
    @Test func libiscsiDiscoveryAndSendTargets() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        target iqn.2001-04.com.example:storage.disk2
        address iqn.2001-04.com.example:storage.disk1 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.disk2 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.disk2 [2001:db8::10]:3260,1
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-ls
          SessionType=Discovery
          HeaderDigest=None,CRC32C
          DataDigest=None
          InitialR2T=Yes
          ImmediateData=Yes
          MaxBurstLength=262144
          FirstBurstLength=262144
          DefaultTime2Wait=2
          DefaultTime2Retain=0
          MaxOutstandingR2T=1
          ErrorRecoveryLevel=0
          IFMarker=No
          OFMarker=No
          MaxConnections=1
          MaxRecvDataSegmentLength=262144
          DataPDUInOrder=Yes
          DataSequenceInOrder=Yes
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=None
          DataDigest=None
          InitialR2T=Irrelevant
          ImmediateData=Irrelevant
          MaxBurstLength=Irrelevant
          FirstBurstLength=Irrelevant
          DefaultTime2Wait=2
          DefaultTime2Retain=0
          MaxOutstandingR2T=Irrelevant
          ErrorRecoveryLevel=0
          IFMarker=No
          OFMarker=No
          MaxConnections=Irrelevant
          DataPDUInOrder=Irrelevant
          DataSequenceInOrder=Irrelevant
          MaxRecvDataSegmentLength=262144
        = sessionType Discovery
        = targetName nil
        = maxXmitDataSegmentLength 262144
        > text F=1 ITT=2 TTT=ffffffff
          SendTargets=All
        < text F=1 C=0 TTT=ffffffff
          TargetName=iqn.2001-04.com.example:storage.disk1
          TargetAddress=192.0.2.10:3260,1
          TargetName=iqn.2001-04.com.example:storage.disk2
          TargetAddress=192.0.2.10:3260,1
          TargetAddress=[2001:db8::10]:3260,1
        > text F=1 ITT=3 TTT=ffffffff
          SendTargets=iqn.2001-04.com.example:storage.disk2
        < text F=1 C=0 TTT=ffffffff
          TargetName=iqn.2001-04.com.example:storage.disk2
          TargetAddress=192.0.2.10:3260,1
          TargetAddress=[2001:db8::10]:3260,1
        > text F=1 ITT=4 TTT=ffffffff
          SendTargets=iqn.2001-04.com.example:nope
        < text F=1 C=0 TTT=ffffffff
        """)
    }

    /// open-iscsi discovery (security stage straight to full feature phase), an initiator that
    /// can receive only 512 bytes, and a SendTargets answer split over three Text Responses
    /// (RFC 7143 §11.11: F=0/C=1 with a TTT; the initiator fetches the rest with empty requests).
    @Test func discoverySendTargetsContinuation() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.volume-0001
        target iqn.2001-04.com.example:storage.volume-0002
        target iqn.2001-04.com.example:storage.volume-0003
        target iqn.2001-04.com.example:storage.volume-0004
        target iqn.2001-04.com.example:storage.volume-0005
        target iqn.2001-04.com.example:storage.volume-0006
        target iqn.2001-04.com.example:storage.volume-0007
        target iqn.2001-04.com.example:storage.volume-0008
        target iqn.2001-04.com.example:storage.volume-0009
        address iqn.2001-04.com.example:storage.volume-0001 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0001 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0002 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0002 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0003 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0003 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0004 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0004 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0005 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0005 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0006 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0006 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0007 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0007 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0008 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0008 198.51.100.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0009 192.0.2.10:3260,1
        address iqn.2001-04.com.example:storage.volume-0009 198.51.100.10:3260,1
        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          SessionType=Discovery
          AuthMethod=None
        < 0x0000 CSG=0 NSG=1 T=1 respond
          AuthMethod=None
        > login CSG=1 NSG=3 T=1
          HeaderDigest=None
          DataDigest=None
          DefaultTime2Wait=2
          DefaultTime2Retain=0
          IFMarker=No
          OFMarker=No
          ErrorRecoveryLevel=0
          MaxRecvDataSegmentLength=512
        < 0x0000 CSG=1 NSG=3 T=1 complete
          HeaderDigest=None
          DataDigest=None
          DefaultTime2Wait=2
          DefaultTime2Retain=0
          IFMarker=No
          OFMarker=No
          ErrorRecoveryLevel=0
          MaxRecvDataSegmentLength=262144
        = maxXmitDataSegmentLength 512
        > text F=1 ITT=7 TTT=ffffffff
          SendTargets=All
        < text F=0 C=1 TTT=1 bytes=512
        > text F=1 ITT=7 TTT=1
        < text F=0 C=1 TTT=1 bytes=512
        > text F=1 ITT=7 TTT=1
        < text F=1 C=0 TTT=ffffffff bytes=74
        == TargetName=iqn.2001-04.com.example:storage.volume-0001 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0002 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0003 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0004 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0005 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0006 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0007 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0008 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1 TargetName=iqn.2001-04.com.example:storage.volume-0009 TargetAddress=192.0.2.10:3260,1 TargetAddress=198.51.100.10:3260,1
        """)
    }

    /// Every result function: Minimum, Maximum, AND, OR, list, declarative.
    @Test func everyKeyType() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy MaxBurstLength=131072
        policy FirstBurstLength=65536
        policy DefaultTime2Wait=5
        policy InitialR2T=Yes
        policy ImmediateData=Yes
        policy MaxOutstandingR2T=4
        policy MaxRecvDataSegmentLength=65536
        policy MaxXmitDataSegmentLength=131072
        policy HeaderDigest=CRC32C,None
        > login CSG=1 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          MaxBurstLength=16776192
          FirstBurstLength=262144
          DefaultTime2Wait=0
          DefaultTime2Retain=10
          InitialR2T=No
          ImmediateData=No
          MaxOutstandingR2T=8
          MaxConnections=4
          ErrorRecoveryLevel=2
          HeaderDigest=None,CRC32C
          TaskReporting=FastAbort,RFC3720
          iSCSIProtocolLevel=2
          MaxRecvDataSegmentLength=1048576
        < 0x0000 CSG=1 NSG=3 T=1 complete
          MaxBurstLength=131072
          FirstBurstLength=65536
          DefaultTime2Wait=5
          DefaultTime2Retain=0
          InitialR2T=Yes
          ImmediateData=No
          MaxOutstandingR2T=4
          MaxConnections=1
          ErrorRecoveryLevel=0
          HeaderDigest=None
          TaskReporting=RFC3720
          iSCSIProtocolLevel=1
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=65536
        = maxBurstLength 131072
        = firstBurstLength 65536
        = defaultTime2Wait 5
        = defaultTime2Retain 0
        = initialR2T true
        = immediateData false
        = maxOutstandingR2T 4
        = maxConnections 1
        = errorRecoveryLevel 0
        = headerDigest false
        = maxRecvDataSegmentLength 65536
        = maxXmitDataSegmentLength 131072
        """)
    }

    /// NotUnderstood for unknown and vendor keys, Reject for invalid values, obsolete marker
    /// intervals, FFP-only and target-only keys, Irrelevant for CHAP keys without CHAP.
    @Test func notUnderstoodIrrelevantReject() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy HeaderDigest=None
        > login CSG=0 NSG=1 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=KRB5,None
          CHAP_A=5
          X-com.example.Vendor=1
        < 0x0000 CSG=0 NSG=0 T=0 respond
          AuthMethod=None
          CHAP_A=Irrelevant
          X-com.example.Vendor=NotUnderstood
          TargetPortalGroupTag=1
        > login CSG=0 NSG=1 T=1
          X#org.example.Public=1
          UnknownKey=1
          MaxBurstLength=100
          InitialR2T=Maybe
          OFMarkInt=2048~8192
          IFMarkInt=2048
          IFMarker=Yes
          SendTargets=All
          TargetAlias=mine
          HeaderDigest=CRC32C,MD5
          FirstBurstLength=0x10000
          MaxOutstandingR2T=65536
        < 0x0000 CSG=0 NSG=1 T=1 respond
          X#org.example.Public=NotUnderstood
          UnknownKey=NotUnderstood
          MaxBurstLength=Reject
          InitialR2T=Reject
          OFMarkInt=Reject
          IFMarkInt=Reject
          IFMarker=No
          SendTargets=Reject
          TargetAlias=Reject
          HeaderDigest=Reject
          FirstBurstLength=65536
          MaxOutstandingR2T=Reject
        > login CSG=1 NSG=3 T=1
        < 0x0000 CSG=1 NSG=3 T=1 complete
          MaxRecvDataSegmentLength=262144
        = firstBurstLength 65536
        = maxBurstLength 262144
        = headerDigest false
        """)
    }

    /// The target proposes keys whose RFC default it cannot accept, stops an initiator that wants
    /// to jump from security to full feature phase in the operational stage (RFC 7143 §6.3: the
    /// target's NSG must not exceed the initiator's), and transits only once answered.
    @Test func targetProposesNonDefaultKeys() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        policy HeaderDigest=CRC32C
        policy ImmediateData=No
        policy DefaultTime2Wait=10
        > login CSG=0 NSG=3 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=None
        < 0x0000 CSG=0 NSG=1 T=1 respond
          AuthMethod=None
          TargetPortalGroupTag=1
        > login CSG=1 NSG=3 T=1
          MaxRecvDataSegmentLength=65536
        < 0x0000 CSG=1 NSG=0 T=0 respond
          MaxRecvDataSegmentLength=262144
          HeaderDigest=CRC32C
          ImmediateData=No
          DefaultTime2Wait=10
        > login CSG=1 NSG=3 T=1
          HeaderDigest=CRC32C
          ImmediateData=No
          DefaultTime2Wait=10
        < 0x0000 CSG=1 NSG=3 T=1 complete
        = headerDigest true
        = immediateData false
        = defaultTime2Wait 10
        = maxXmitDataSegmentLength 65536
        """)
    }

    /// RFC 7143 §6.2: renegotiating a key within the login is an initiator error.
    @Test func renegotiationError() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        > login CSG=1 NSG=3 T=0
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.disk1
          MaxBurstLength=65536
        < 0x0000 CSG=1 NSG=0 T=0 respond
          MaxBurstLength=65536
          TargetPortalGroupTag=1
          MaxRecvDataSegmentLength=262144
        > login CSG=1 NSG=3 T=1
          MaxBurstLength=131072
        < 0x0200 CSG=1 NSG=0 T=0 fail
        """)
    }

    /// RFC 7143 §11.12.2: T and C both set → initiator error.
    @Test func transitAndContinueError() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        > login CSG=0 NSG=1 T=1 C=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
        < 0x0200 CSG=0 NSG=0 T=0 fail
        """)
    }

    /// Missing InitiatorName → 0x0207; unknown target → 0x0203.
    @Test func missingInitiatorNameAndUnknownTarget() {
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        > login CSG=0 NSG=1 T=1
          TargetName=iqn.2001-04.com.example:storage.disk1
          AuthMethod=None
        < 0x0207 CSG=0 NSG=0 T=0 fail
        """)
        Transcript.run("""
        target iqn.2001-04.com.example:storage.disk1
        > login CSG=0 NSG=1 T=1
          InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef
          TargetName=iqn.2001-04.com.example:storage.other
          AuthMethod=None
        < 0x0203 CSG=0 NSG=0 T=0 fail
        """)
    }
}
