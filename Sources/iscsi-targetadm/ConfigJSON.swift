import IETConfig

/// A JSON rendering of a `Configuration` for `check-config --json`. CHAP secrets are never
/// included: accounts are listed by user name only.
enum ConfigJSON {
    static func render(_ configuration: Configuration?, path: String, errors: Int, warnings: Int) -> String {
        var object: [(String, JSON)] = [
            ("path", .string(path)),
            ("valid", .bool(configuration != nil)),
            ("errors", .number(errors)),
            ("warnings", .number(warnings)),
        ]
        if let configuration {
            object.append(("discovery", .object([
                ("incomingUsers", .array(configuration.discoveryIncomingUsers.map(account))),
                ("outgoingUser", configuration.discoveryOutgoingUser.map(account) ?? .null),
            ])))
            object.append(("isnsServer", configuration.isnsServer.map(JSON.string) ?? .null))
            object.append(("isnsAccessControl", .bool(configuration.isnsAccessControl)))
            object.append(("targets", .array(configuration.targets.map(target))))
        }
        var out = ""
        JSON.object(object).write(to: &out, indent: 0)
        return out
    }

    static func account(_ account: CHAPAccount) -> JSON {
        .object([("user", .string(account.user)), ("secret", .string("<redacted>"))])
    }

    static func target(_ target: TargetConfig) -> JSON {
        .object([
            ("tid", .number(target.tid)),
            ("name", .string(target.name)),
            ("alias", target.alias.map(JSON.string) ?? .null),
            ("location", .string(target.location.description)),
            ("incomingUsers", .array(target.incomingUsers.map(account))),
            ("outgoingUser", target.outgoingUser.map(account) ?? .null),
            ("maxSessions", .number(target.maxSessions)),
            ("nopInterval", .number(target.nopInterval)),
            ("nopTimeout", .number(target.nopTimeout)),
            ("queuedCommands", .number(target.queuedCommands)),
            ("wthreads", .number(target.wthreads)),
            ("iscsiParameters", .object(target.iscsiParameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("luns", .array(target.luns.map(lun))),
        ])
    }

    static func lun(_ lun: LUNConfig) -> JSON {
        .object([
            ("lun", .number(Int(lun.lun))),
            ("type", .string(lun.type.rawValue)),
            ("path", lun.path.map(JSON.string) ?? .null),
            ("ioMode", .string(lun.ioMode.rawValue)),
            ("blockSize", lun.blockSize.map { .number(Int($0)) } ?? .null),
            ("blocks", lun.blocks.map { .string(String($0)) } ?? .null),
            ("scsiID", .string(lun.scsiID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())),
            ("scsiSN", .string(lun.scsiSN)),
            ("location", .string(lun.location.description)),
        ])
    }
}

/// Minimal JSON value with ordered objects (no Foundation).
indirect enum JSON {
    case string(String)
    case number(Int)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    func write(to out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch self {
        case .string(let value): Self.writeString(value, to: &out)
        case .number(let value): out += String(value)
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += pad
                item.write(to: &out, indent: indent + 1)
                out += index + 1 < items.count ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{\n"
            for (index, member) in members.enumerated() {
                out += pad
                Self.writeString(member.0, to: &out)
                out += ": "
                member.1.write(to: &out, indent: indent + 1)
                out += index + 1 < members.count ? ",\n" : "\n"
            }
            out += closePad + "}"
        }
    }

    /// RFC 8259 §7 string escaping.
    static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hexDigits = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hexDigits.count) + hexDigits
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
