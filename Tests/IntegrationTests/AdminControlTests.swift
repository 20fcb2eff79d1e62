import Glibc
import IETConfig
import ISCSITarget
import ISCSIWire
import Logging
import Testing

/// `ControlServer.handle` against a live in-process server: ietadm-style run-time changes, session
/// listing in /proc/net/iet/session format, and the IET refusals (busy target/LUN).
@Suite(.serialized) struct AdminControlTests {
    final class Fixture {
        let f: LoopbackFixture
        let control: ControlServer
        init() throws {
            f = try LoopbackFixture()
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            control = try ControlServer(path: f.dir + "/control.sock", registry: f.server.registry, logger: logger,
                                        server: f.server) { _ in (false, "no configuration file in this test") }
        }
        deinit { control.stop() }
        func run(_ line: String) -> String { control.handle(line) }
    }

    static let initiator = "iqn.2026-11.org.example:admin-test"

    @Test func showSessionsWhileLoggedInAndDropTheConnection() throws {
        let x = try Fixture()
        let i = try TestInitiator(port: x.f.port)
        let (resp, _) = try i.login(initiatorName: Self.initiator, targetName: LoopbackFixture.targetName)
        #expect(resp.statusClass == 0)

        let sessions = x.run("show sessions")
        let lines = sessions.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "OK")
        #expect(lines.contains("tid:1 name:\(LoopbackFixture.targetName)"))
        let sessionLine = lines.first { $0.hasPrefix("\tsid:") && $0.hasSuffix(" initiator:\(Self.initiator)") }
        #expect(sessionLine != nil)
        #expect(lines.contains("\t\tcid:0 ip:127.0.0.1 state:active hd:none dd:none"))
        let sid = sessionLine.flatMap { line in line.dropFirst(5).split(separator: " ").first.map(String.init) } ?? "0"

        let params = x.run("session show 1 \(sid)")
        #expect(params.hasPrefix("OK\nInitialR2T="))
        #expect(params.contains("\nMaxRecvDataSegmentLength="))
        #expect(params.contains("\nHeaderDigest=None\n"))

        // IET: targets and LUNs with sessions are not deleted.
        #expect(x.run("target delete 1").hasPrefix("ERR "))
        #expect(x.run("lun delete 1 0").hasPrefix("ERR "))
        #expect(x.run("conn delete 1 \(sid) 1").hasPrefix("ERR "))

        #expect(x.run("conn delete 1 \(sid) 0") == "OK\n")
        #expect(!x.run("show sessions").contains(Self.initiator))
        #expect(x.run("session show 1 \(sid)").hasPrefix("ERR "))
        #expect(x.run("lun delete 1 3") == "OK\n")
        #expect(!x.run("show luns").contains("lun:3 "))
    }

    @Test func runtimeTargetAndLUNServeIO() throws {
        let x = try Fixture()
        let name = "iqn.2026-11.org.example:runtime"
        let added = x.run("target new 0 \(name)")
        #expect(added == "OK\ntid:2 name:\(name)\n")
        #expect(x.run("target new 0 \(name)").hasPrefix("ERR "))           // same name
        #expect(x.run("target new 1 iqn.2026-11.org.example:other").hasPrefix("ERR "))  // tid in use

        let image = x.f.dir + "/runtime.img"
        let fd = open(image, O_RDWR | O_CREAT, 0o600)
        _ = ftruncate(fd, 8 << 20)
        Glibc.close(fd)
        defer { _ = unlink(image) }
        #expect(x.run("lun new 2 0 Path=\(image),Type=fileio") == "OK\n")
        #expect(x.run("lun new 2 0 Path=\(image),Type=fileio").hasPrefix("ERR "))       // exists
        #expect(x.run("lun new 2 1 Path=\(image),Type=bogus").hasPrefix("ERR "))        // parser rule
        #expect(x.run("lun new 2 1 Path=\(x.f.dir)/missing.img").hasPrefix("ERR "))      // cannot open
        #expect(x.run("show luns").contains("\tlun:0 state:0 iotype:fileio iomode:wt blocks:16384 blocksize:512 path:\(image)\n"))

        let i = try TestInitiator(port: x.f.port)
        let (resp, _) = try i.login(initiatorName: Self.initiator, targetName: name)
        #expect(resp.statusClass == 0)
        // READ CAPACITY(10): last LBA 16383, 512-byte blocks.
        let r = try i.scsi(cdb: [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], readLength: 8)
        #expect(r.status == 0)
        #expect(r.data == [0, 0, 0x3f, 0xff, 0, 0, 2, 0])
        _ = try i.logout()
    }

    @Test func updateChangesParametersForNewSessions() throws {
        let x = try Fixture()
        #expect(x.run("target update 1 NOPInterval=7,MaxSessions=3") == "OK\n")
        let shown = x.run("show target 1")
        #expect(shown.contains("\nNOPInterval=7\n"))
        #expect(shown.contains("\nNOPTimeout=7\n"))                 // ietd.conf(5): 0 → NOPInterval
        #expect(shown.contains("\nMaxSessions=3\n"))
        #expect(x.run("target update 1 NoSuchKey=1").hasPrefix("ERR unknown parameter"))
        #expect(x.run("target update 1 InitialR2T=maybe").hasPrefix("ERR "))
        #expect(x.run("target update 9 NOPInterval=1").hasPrefix("ERR no target"))
        // The LUNs are untouched.
        #expect(x.run("show luns").contains("\tlun:0 "))
    }

    @Test func accountsNeverShowSecrets() throws {
        let x = try Fixture()
        let reply = x.run("user new 1 IncomingUser joe joe-secret-0123")
        #expect(reply == "OK\n")
        #expect(x.run("user new 0 OutgoingUser disc short").contains("warning: CHAP secret"))
        #expect(x.run("user show 1") == "OK\nIncomingUser joe\n")
        #expect(x.run("user show 0") == "OK\nOutgoingUser disc\n")
        #expect(x.run("user show 1 IncomingUser nobody").hasPrefix("ERR "))
        #expect(x.run("user delete 1 IncomingUser joe") == "OK\n")
        #expect(x.run("user show 1") == "OK\n")
        #expect(x.run("user new 1 IncomingUser bad%20name secret-secret").hasPrefix("ERR "))
    }

    @Test func deleteAllAndUnsupported() throws {
        let x = try Fixture()
        #expect(x.run("redirect 1 192.0.2.1").hasPrefix("ERR login redirection"))
        #expect(x.run("delete-all") == "OK\n")
        #expect(x.run("show targets") == "OK\n")
        #expect(x.run("bogus").hasPrefix("ERR unknown command"))
    }
}
