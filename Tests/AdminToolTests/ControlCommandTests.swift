import IETConfig
import ISCSINegotiation
import ISCSITarget
import Testing

/// The daemon side: control request lines → `ControlCommand`, and the IET text formats.
@Suite struct ControlCommandTests {
    @Test func parsesEveryCommand() throws {
        #expect(try ControlCommand.parse("ping") == .ping)
        #expect(try ControlCommand.parse("show") == .show(.targets, json: false))
        #expect(try ControlCommand.parse("show sessions --json") == .show(.sessions, json: true))
        #expect(try ControlCommand.parse("show volumes") == .show(.luns, json: false))
        #expect(try ControlCommand.parse("show target 3") == .show(.target(3), json: false))
        #expect(try ControlCommand.parse("reload --force") == .reload(force: true))
        #expect(try ControlCommand.parse("target new 0 iqn.x") == .targetNew(tid: 0, name: "iqn.x"))
        #expect(try ControlCommand.parse("target delete 2") == .targetDelete(tid: 2))
        #expect(try ControlCommand.parse("target show 2") == .show(.target(2), json: false))
        #expect(try ControlCommand.parse("target update 1 NOPInterval=5,MaxSessions=2")
                == .targetUpdate(tid: 1, parameters: [.init(key: "NOPInterval", value: "5"), .init(key: "MaxSessions", value: "2")]))
        #expect(try ControlCommand.parse("lun new 1 4 Path=/dev/vg/lv,Type=blockio")
                == .lunNew(tid: 1, lun: 4, parameters: "Path=/dev/vg/lv,Type=blockio"))
        #expect(try ControlCommand.parse("lun delete 1 4") == .lunDelete(tid: 1, lun: 4))
        #expect(try ControlCommand.parse("session show 1 562958543486976") == .sessionShow(tid: 1, sid: 562_958_543_486_976))
        #expect(try ControlCommand.parse("conn delete 1 5 0") == .connectionDelete(tid: 1, sid: 5, cid: 0))
        #expect(try ControlCommand.parse("user show 0") == .userShow(tid: 0, kind: nil, name: nil))
        #expect(try ControlCommand.parse("user show 1 incominguser joe") == .userShow(tid: 1, kind: .incoming, name: "joe"))
        #expect(try ControlCommand.parse("user new 1 OutgoingUser jack s%20s") == .userNew(tid: 1, kind: .outgoing, name: "jack", secret: "s s"))
        #expect(try ControlCommand.parse("user delete 0 IncomingUser joe") == .userDelete(tid: 0, kind: .incoming, name: "joe"))
        #expect(try ControlCommand.parse("redirect 1") == .redirect(tid: 1, address: ""))
        #expect(try ControlCommand.parse("delete-all") == .deleteAll)
    }

    @Test func rejectsBadRequestsWithoutTrapping() {
        let bad = [
            "", "   ", "frob", "show nothing", "show target", "show target x", "target", "target new 1",
            "target new -1 iqn.x", "target new 99999999999999999999 iqn.x", "lun new 1 16384 Path=/x",
            "lun new 1 0", "target update 1 =5", "target update 1 novalue", "session show 1 -5",
            "conn delete 1 2 70000", "user new 1 Other joe s", "user new 1 IncomingUser joe", "reload now",
            "ping extra", "delete-all please", "show %", "lun delete 1 x",
        ]
        for line in bad {
            #expect(throws: ControlCommand.ParseError.self, "\(line)") { try ControlCommand.parse(line) }
        }
    }

    @Test func secretsNeverReachTheLogDescription() throws {
        let c = try ControlCommand.parse("user new 1 IncomingUser joe very-secret-123")
        #expect(!c.logDescription.contains("very-secret-123"))
        #expect(c.logDescription.contains("joe"))
    }

    @Test func sessionParametersInIETOrder() {
        var p = SessionParameters(sessionType: .normal, initiatorName: "iqn.i", targetName: "iqn.t", isid: 1)
        p.headerDigest = true
        let text = ControlFormat.sessionParameters(p)
        let keys = text.split(separator: "\n").map { String($0.split(separator: "=")[0]) }
        #expect(keys.first == "InitialR2T")
        #expect(keys.contains("MaxRecvDataSegmentLength"))
        #expect(text.contains("HeaderDigest=CRC32C\n"))
        #expect(text.contains("DataDigest=None\n"))
        #expect(text.split(separator: "\n").allSatisfy { $0.contains("=") })
    }

    @Test func accountsListUsersOnly() {
        let text = ControlFormat.accounts(incoming: [CHAPAccount(user: "jim", secret: "othersecret")],
                                          outgoing: CHAPAccount(user: "james", secret: "yetanothersecret"))
        #expect(text == "IncomingUser jim\nOutgoingUser james\n")
        #expect(ControlFormat.accounts(incoming: [], outgoing: CHAPAccount(user: "a", secret: "b"), kind: .incoming) == "")
    }
}
