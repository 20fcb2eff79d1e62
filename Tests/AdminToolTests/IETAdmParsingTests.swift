import ISCSITarget
import Testing

@testable import iscsi_targetadm

/// ietadm's command line → control request (IET usr/ietadm.c options, ietadm(8) operations).
@Suite struct IETAdmParsingTests {
    func words(_ arguments: [String]) throws -> [String] {
        let command = try IETAdmCommand.parse(arguments)
        guard case .request(let words) = try command.action() else {
            Issue.record("no request for \(arguments)")
            return []
        }
        return words
    }

    func usageError(_ arguments: [String]) -> Bool {
        do {
            _ = try IETAdmCommand.parse(arguments).action()
            return false
        } catch {
            return true
        }
    }

    @Test func recognisesIETAdmInvocations() {
        #expect(IETAdmCommand.isCompatInvocation(["--op", "show", "--tid=1"]))
        #expect(IETAdmCommand.isCompatInvocation(["--op=show", "--tid=1"]))
        #expect(IETAdmCommand.isCompatInvocation(["-o", "show", "-t", "1"]))
        #expect(!IETAdmCommand.isCompatInvocation(["show", "sessions"]))
        #expect(!IETAdmCommand.isCompatInvocation(["check-config", "--no-warnings", "/etc/iet/ietd.conf"]))
    }

    @Test func showTargetParameters() throws {
        #expect(try words(["--op", "show", "--tid=1"]) == ["target", "show", "1"])
        #expect(try words(["--op=show", "--tid", "7"]) == ["target", "show", "7"])
        #expect(try words(["-o", "show", "-t", "2"]) == ["target", "show", "2"])
        #expect(try words(["-oshow", "-t3"]) == ["target", "show", "3"])
    }

    @Test func showSessionParameters() throws {
        #expect(try words(["--op", "show", "--tid=1", "--sid=562958543486976"]) == ["session", "show", "1", "562958543486976"])
        #expect(try words(["--op", "show", "--tid=1", "--sid=0x2000000000004"]) == ["session", "show", "1", "562949953421316"])
    }

    @Test func newTargetAndLUN() throws {
        #expect(try words(["--op", "new", "--tid=0", "--params", "Name=iqn.2001-04.com.example:t"])
                == ["target", "new", "0", "iqn.2001-04.com.example:t"])
        #expect(try words(["--op", "new", "--tid=2", "--lun=0", "--params", "Path=/dev/vg/lv,Type=blockio"])
                == ["lun", "new", "2", "0", "Path=/dev/vg/lv,Type=blockio"])
        #expect(usageError(["--op", "new", "--tid=2"]))                       // no Name=
        #expect(usageError(["--op", "new", "--tid=2", "--lun=1"]))            // no Path=
        #expect(usageError(["--op", "new", "--params", "Name=iqn.x"]))        // no tid
    }

    @Test func deleteForms() throws {
        #expect(try words(["--op", "delete", "--tid=3"]) == ["target", "delete", "3"])
        #expect(try words(["--op", "delete", "--tid=3", "--lun=1"]) == ["lun", "delete", "3", "1"])
        #expect(try words(["--op", "delete", "--tid=3", "--sid=5", "--cid=0"]) == ["conn", "delete", "3", "5", "0"])
        #expect(try words(["--op", "delete"]) == ["delete-all"])
        #expect(usageError(["--op", "delete", "--tid=3", "--sid=5"]))         // sid without cid
        #expect(usageError(["--op", "delete", "--lun=1"]))                    // lun without tid
    }

    @Test func updateAndRedirect() throws {
        #expect(try words(["--op", "update", "--tid=1", "--params=NOPInterval=5,MaxSessions=2"])
                == ["target", "update", "1", "NOPInterval=5,MaxSessions=2"])
        #expect(try words(["--op", "update", "--tid=1", "--redirect=192.0.2.1:3260"]) == ["redirect", "1", "192.0.2.1:3260"])
        #expect(try words(["--op", "update", "--tid=1", "--redirect="]) == ["redirect", "1"])
        #expect(usageError(["--op", "update", "--tid=1"]))
    }

    @Test func accounts() throws {
        #expect(try words(["--op", "show", "--user"]) == ["user", "show", "0"])
        #expect(try words(["--op", "show", "--tid=1", "--user", "--params=IncomingUser=joe"]) == ["user", "show", "1", "IncomingUser", "joe"])
        #expect(try words(["--op", "new", "--tid=1", "--user", "--params=IncomingUser=joe,Password=secret with space"])
                == ["user", "new", "1", "IncomingUser", "joe", "secret with space"])
        #expect(try words(["--op", "delete", "--user", "--params=OutgoingUser=jack"]) == ["user", "delete", "0", "OutgoingUser", "jack"])
        #expect(usageError(["--op", "new", "--tid=1", "--user", "--params=IncomingUser=joe"]))  // no Password
        #expect(usageError(["--op", "update", "--tid=1", "--user", "--params=IncomingUser=joe"]))
    }

    @Test func invalidValuesAreUsageErrors() {
        #expect(usageError(["--op", "frobnicate", "--tid=1"]))
        #expect(usageError(["--op", "show", "--tid=-1"]))
        #expect(usageError(["--op", "show", "--tid=abc"]))
        #expect(usageError(["--op", "new", "--tid=1", "--lun=16384", "--params", "Path=/x"]))
        #expect(usageError(["--op", "show", "--tid=1", "--sid=18446744073709551616"]))
        #expect(usageError(["--op", "show", "--tid"]))                         // missing value
        #expect(usageError(["--op", "show", "--tid=1", "--bogus"]))
        #expect(usageError(["--tid=1"]))                                       // no --op
    }

    @Test func controlSocketOption() throws {
        let c = try IETAdmCommand.parse(["--op", "show", "--tid=1", "--control-socket", "/tmp/x.sock"])
        #expect(c.controlSocket == "/tmp/x.sock")
        let d = try IETAdmCommand.parse(["--control-socket=/tmp/y.sock", "--op", "show", "--tid=1"])
        #expect(d.controlSocket == "/tmp/y.sock")
        #expect(try IETAdmCommand.parse(["--op", "show", "--tid=1"]).controlSocket == "/run/iscsi-targetd/control.sock")
    }

    @Test func helpAndVersion() throws {
        #expect(try IETAdmCommand.parse(["--op", "show", "--help"]).action() == .help)
        #expect(try IETAdmCommand.parse(["--version"]).action() == .version)
    }
}

/// The request/reply wire form shared by the tool and the daemon.
@Suite struct ControlWireTests {
    @Test func replyParsing() {
        #expect(ControlReply.parse("OK\npong\n") == .ok("pong\n"))
        #expect(ControlReply.parse("OK\n") == .ok(""))
        #expect(ControlReply.parse("ERR no target with tid 9\n") == .error("no target with tid 9"))
        #expect(ControlReply.parse("ERR configuration has errors\nf:1:1: error: x\n") == .error("configuration has errors\nf:1:1: error: x\n"))
        #expect(ControlReply.parse("") == nil)
        #expect(ControlReply.parse("HELLO\n") == nil)
    }

    @Test func encodingRoundTripsThroughTheDaemonDecoder() throws {
        let samples: [[String]] = [
            ["ping"],
            ["lun", "new", "1", "0", "Path=/srv/my disk.img,Type=fileio"],
            ["user", "new", "1", "IncomingUser", "joe", "50% off\tand\nnewline"],
            ["redirect", "1", ""],
            ["target", "new", "0", "iqn.2026-11.org.example:ünïcode"],
        ]
        for words in samples {
            let line = RequestEncoding.encode(words)
            #expect(!line.contains("\n"))
            #expect(try ControlWords.decode(line) == words)
            #expect(ControlWords.encode(words) == line)
        }
    }

    @Test func malformedEscapesAreRejected() {
        #expect(throws: ControlWords.DecodeError.self) { try ControlWords.decode("show %4") }
        #expect(throws: ControlWords.DecodeError.self) { try ControlWords.decode("show %zz") }
    }
}
