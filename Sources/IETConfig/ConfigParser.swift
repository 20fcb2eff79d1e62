// ietd.conf parser: Lexer → SyntaxTree → Validator → Configuration.
//
// Policy (docs/configuration.md): where IET silently did something surprising we load the file with
// its evident meaning and warn; what IET rejected is an error. A configuration with any error is
// not returned.

/// Parses ietd.conf text.
public enum ConfigParser {
    /// Parses and validates an ietd.conf.
    /// - Parameters:
    ///   - text: The file contents.
    ///   - path: The file name used in diagnostics.
    /// - Returns: The configuration (nil when any diagnostic is an error) and all diagnostics,
    ///   sorted by location.
    public static func parse(_ text: String, path: String) -> (Configuration?, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        let lines = Lexer.lines(text, file: path, continuation: true, diagnostics: &diagnostics)
        let tree = SyntaxTree(lines: lines)
        var validator = Validator(file: path)
        let configuration = validator.validate(tree)
        diagnostics.append(contentsOf: validator.diagnostics)
        let sorted = diagnostics.enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
        return (sorted.containsErrors ? nil : configuration, sorted)
    }
}

/// Interprets the syntax tree.
struct Validator {
    let file: String
    var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    mutating func error(_ token: Token, _ message: String) {
        diagnostics.append(.error(token.location, message))
    }

    mutating func warning(_ token: Token, _ message: String) {
        diagnostics.append(.warning(token.location, message))
    }

    mutating func validate(_ tree: SyntaxTree) -> Configuration {
        var configuration = Configuration()
        var isnsServerSeen = false

        for directive in tree.globals {
            switch directive.key {
            case "incominguser":
                if let account = account(directive) {
                    addIncoming(account, to: &configuration.discoveryIncomingUsers, at: directive.keyword)
                }
            case "outgoinguser":
                if let account = account(directive) {
                    setOutgoing(account, on: &configuration.discoveryOutgoingUser, at: directive.keyword, scope: "discovery")
                }
            case "isnsserver", "isnsaccesscontrol":
                isns(directive, into: &configuration, serverSeen: &isnsServerSeen, inTarget: false)
            case "lun", "alias", "maxsessions":
                ignoredBeforeTarget(directive)
            default:
                if IETParameters.lookup(directive.keyword.text) != nil {
                    ignoredBeforeTarget(directive)
                } else {
                    // Quirk 7: IET ignored unknown keywords silently.
                    warning(directive.keyword, "unknown directive '\(directive.keyword.text)' ignored")
                }
            }
        }

        var indexByName: [String: Int] = [:]
        for stanza in tree.targets {
            guard let nameToken = stanza.name else {
                error(stanza.keyword, "Target requires a name")
                continue
            }
            if let extra = stanza.extraWords.first {
                warning(extra, "extra words after the target name ignored")
            }
            let lowered = nameToken.text.lowercased()
            if let firstIndex = indexByName[lowered] {
                // Quirk 11: IET refused the duplicate ("duplicated target"), ignored its parameters
                // and LUNs, but its account pass attached the stanza's accounts to the first target.
                warning(nameToken, "duplicate target '\(nameToken.text)' (first defined at "
                        + "\(configuration.targets[firstIndex].location)); its LUNs and parameters are ignored, "
                        + "its IncomingUser/OutgoingUser lines are added to the first target as IET did")
                var target = configuration.targets[firstIndex]
                for directive in stanza.directives {
                    switch directive.key {
                    case "incominguser":
                        if let account = account(directive) {
                            addIncoming(account, to: &target.incomingUsers, at: directive.keyword)
                        }
                    case "outgoinguser":
                        if let account = account(directive) {
                            setOutgoing(account, on: &target.outgoingUser, at: directive.keyword, scope: "target")
                        }
                    default:
                        continue
                    }
                }
                configuration.targets[firstIndex] = target
                continue
            }
            checkTargetName(nameToken)
            var target = TargetConfig(tid: configuration.targets.count + 1, name: nameToken.text,
                                      location: stanza.keyword.location)
            var seenKeys: Set<String> = []
            var nopTimeoutToken: Token?
            var lunLineFailed = false
            for directive in stanza.directives {
                switch directive.key {
                case "incominguser":
                    if let account = account(directive) {
                        addIncoming(account, to: &target.incomingUsers, at: directive.keyword)
                    }
                case "outgoinguser":
                    if let account = account(directive) {
                        setOutgoing(account, on: &target.outgoingUser, at: directive.keyword, scope: "target")
                    }
                case "alias":
                    if directive.arguments.isEmpty {
                        warning(directive.keyword, "Alias without a value ignored")
                    } else {
                        target.alias = directive.arguments.map(\.text).joined(separator: " ")
                    }
                case "maxsessions":
                    if let value = number(directive, range: 0...Int.max, name: "MaxSessions", ietUses: nil) {
                        target.maxSessions = value
                    }
                case "lun":
                    guard let lun = lun(directive, targetName: target.name) else {
                        lunLineFailed = true
                        continue
                    }
                    if target.luns.contains(where: { $0.lun == lun.lun }) {
                        // IET kernel volume_add: -EEXIST.
                        error(directive.keyword, "LUN \(lun.lun) is defined twice in target '\(target.name)'")
                    } else {
                        target.luns.append(lun)
                    }
                case "isnsserver", "isnsaccesscontrol":
                    var serverSeen = isnsServerSeen
                    isns(directive, into: &configuration, serverSeen: &serverSeen, inTarget: true)
                    isnsServerSeen = serverSeen
                default:
                    guard let entry = IETParameters.lookup(directive.keyword.text) else {
                        // Quirk 7: unknown keywords were silently ignored by IET.
                        warning(directive.keyword, "unknown directive '\(directive.keyword.text)' ignored")
                        continue
                    }
                    if seenKeys.contains(entry.name) {
                        warning(directive.keyword, "\(entry.name) is set more than once; the last value is used")
                    }
                    seenKeys.insert(entry.name)
                    guard let value = parameter(directive, entry) else { continue }
                    if entry.isSessionKey {
                        target.iscsiParameters[entry.name] = value
                    } else {
                        let numeric = Int(value) ?? 0
                        switch entry.name {
                        case "Wthreads": target.wthreads = numeric
                        case "QueuedCommands":
                            target.queuedCommands = numeric
                            target.queuedCommandsExplicit = true
                        case "NOPInterval": target.nopInterval = numeric
                        case "NOPTimeout":
                            target.nopTimeout = numeric
                            nopTimeoutToken = directive.keyword
                        default: break  // Type: only 0 (disk) exists.
                        }
                    }
                }
            }
            // ietd.conf(5) NOPTimeout: "If value is set to zero or if it exceeds NOPInterval, it will be
            // set to NOPInterval."
            if target.nopInterval > 0, target.nopTimeout == 0 || target.nopTimeout > target.nopInterval {
                if let token = nopTimeoutToken, target.nopTimeout > target.nopInterval {
                    warning(token, "NOPTimeout \(target.nopTimeout) exceeds NOPInterval \(target.nopInterval); using \(target.nopInterval)")
                }
                target.nopTimeout = target.nopInterval
            }
            // ietd.conf(5): "The first <lun> defined MUST be 0"; not enforced by IET.
            if lunLineFailed {
                // Already reported; a "no LUN 0" warning would only add noise.
            } else if target.luns.isEmpty {
                warning(nameToken, "target '\(target.name)' has no LUNs")
            } else if !target.luns.contains(where: { $0.lun == 0 }) {
                warning(nameToken, "target '\(target.name)' has no LUN 0; initiators (and Xen block-iscsi) expect LUN 0")
            }
            checkSecretReuse(target.incomingUsers, target.outgoingUser, at: nameToken)
            indexByName[lowered] = configuration.targets.count
            configuration.targets.append(target)
        }
        if configuration.targets.isEmpty {
            diagnostics.append(.warning(SourceLocation(file: file, line: 1, column: 1), "no targets defined"))
        }
        return configuration
    }

    // MARK: - Global section

    mutating func ignoredBeforeTarget(_ directive: Directive) {
        // Quirk 8: every target branch of plain.c requires a tid, so these lines had no effect.
        warning(directive.keyword, "'\(directive.keyword.text)' before the first Target is ignored (as IET did)")
    }

    mutating func isns(_ directive: Directive, into configuration: inout Configuration, serverSeen: inout Bool,
                       inTarget: Bool) {
        if inTarget {
            // IET read iSNS keys in a separate pass over the whole file, wherever they were.
            warning(directive.keyword, "'\(directive.keyword.text)' is a global setting; move it before the first Target")
        }
        guard let value = directive.arguments.first else {
            // IET: strdup(NULL) / strcasecmp(NULL) crashed ietd.
            error(directive.keyword, "\(directive.keyword.text) requires a value")
            return
        }
        if directive.key == "isnsserver" {
            if serverSeen {
                warning(directive.keyword, "iSNSServer is set more than once; the last value is used")
            }
            serverSeen = true
            configuration.isnsServer = value.text
        } else {
            // IET plain.c: strcasecmp(str, "Yes"); anything else means No.
            let lowered = value.text.lowercased()
            if lowered != "yes" && lowered != "no" {
                warning(value, "iSNSAccessControl expects Yes or No; '\(value.text)' means No")
            }
            configuration.isnsAccessControl = lowered == "yes"
        }
    }

    // MARK: - Accounts

    mutating func account(_ directive: Directive) -> CHAPAccount? {
        let keyword = directive.key == "incominguser" ? "IncomingUser" : "OutgoingUser"
        guard let user = directive.arguments.first else {
            error(directive.keyword, "\(keyword) requires a user name and a secret")
            return nil
        }
        let secret: String
        if directive.arguments.count >= 2 {
            secret = directive.arguments[1].text
            if directive.arguments.count > 2 {
                warning(directive.arguments[2], "extra words after the \(keyword) secret ignored")
            }
        } else if let hashWord = directive.commentTokens.first {
            // IET only treats a line's FIRST word starting with '#' as a comment; a secret that starts
            // with '#' was read as the secret.
            secret = hashWord.text
            warning(hashWord, "the \(keyword) secret for '\(user.text)' starts with '#'; read as the secret, as IET did")
        } else {
            // ietd.conf(5): "A <password> has to be provided"; IET account_add returned -EINVAL.
            error(user, "\(keyword) '\(user.text)' has no secret")
            return nil
        }
        if secret.utf8.count < 12 {
            // ietd.conf(5): "RFC 3720 requires <password> to be 12 characters long. This is enforced
            // e.g. by MS Initiator."
            warning(user, "CHAP secret for '\(user.text)' is shorter than 12 characters; some initiators reject it")
        }
        return CHAPAccount(user: user.text, secret: secret)
    }

    mutating func addIncoming(_ account: CHAPAccount, to list: inout [CHAPAccount], at token: Token) {
        if let index = list.firstIndex(where: { $0.user == account.user }) {
            // IET inserted new accounts at the head of the list and looked users up from the head, so
            // the later line won.
            warning(token, "IncomingUser '\(account.user)' is defined more than once; the later secret is used")
            list.remove(at: index)
        }
        list.append(account)
    }

    mutating func setOutgoing(_ account: CHAPAccount, on slot: inout CHAPAccount?, at token: Token, scope: String) {
        if slot != nil {
            // IET plain.c: "Only one outgoing %s account is supported. Replacing the old one."
            warning(token, "only one \(scope) OutgoingUser is supported; this one replaces the earlier one")
        }
        slot = account
    }

    mutating func checkSecretReuse(_ incoming: [CHAPAccount], _ outgoing: CHAPAccount?, at token: Token) {
        guard let outgoing, incoming.contains(where: { $0.secret == outgoing.secret }) else { return }
        // RFC 3720 §8.2.1: a CHAP secret used to authenticate initiators must not be used to
        // authenticate the target (reflection attacks).
        warning(token, "OutgoingUser '\(outgoing.user)' uses the same secret as an IncomingUser; use different secrets")
    }

    // MARK: - Target names

    mutating func checkTargetName(_ token: Token) {
        let name = token.text
        let length = name.utf8.count
        if length > 255 {
            // IET ISCSI_NAME_LEN 256 including the terminator.
            error(token, "target name is \(length) bytes long; the limit is 223 (RFC 7143 §4.2.7.1)")
            return
        }
        if length > 223 {
            // RFC 7143 §4.2.7.1: iSCSI names are at most 223 bytes.
            warning(token, "target name is \(length) bytes long; RFC 7143 §4.2.7.1 allows at most 223")
        }
        if !name.lowercased().hasPrefix("iqn.") {
            // ietd.conf(5): names must start with "iqn."; "The EUI-64 form is not supported". IET did not check.
            warning(token, "target name '\(name)' does not start with 'iqn.'")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.:".utf8)
        if name.utf8.contains(where: { !allowed.contains($0) }) {
            // RFC 3722: names are normalised to lower case; only a-z 0-9 - . : survive everywhere.
            warning(token, "target name '\(name)' contains characters other than lower-case a-z, 0-9, '-', '.', ':'; "
                    + "initiators compare names case-insensitively (RFC 3722)")
        }
    }

    // MARK: - Parameters

    /// Parses `Key value` for a table key; returns the canonical value string.
    mutating func parameter(_ directive: Directive, _ entry: IETParameter) -> String? {
        guard let valueToken = directive.arguments.first else {
            error(directive.keyword, "\(entry.name) requires a value")
            return nil
        }
        if let extra = directive.arguments.dropFirst().first {
            warning(extra, "extra words after the \(entry.name) value ignored")
        }
        var value: String
        switch entry.kind {
        case .boolean:
            // IET bool_str_to_val: strcmp with "Yes"/"No" (case-sensitive); other values rejected.
            guard valueToken.text == "Yes" || valueToken.text == "No" else {
                let hint = ["yes", "no"].contains(valueToken.text.lowercased()) ? " (case-sensitive)" : ""
                error(valueToken, "\(entry.name) must be Yes or No\(hint), not '\(valueToken.text)'")
                return nil
            }
            value = valueToken.text
        case .digest:
            // IET digest_str_to_val: comma-separated "None"/"CRC32C" (strcmp). RFC 7143 §13.1.
            var items: [String] = []
            for item in valueToken.text.split(separator: ",", omittingEmptySubsequences: true) {
                guard item == "None" || item == "CRC32C" else {
                    let hint = ["none", "crc32c"].contains(item.lowercased()) ? " (case-sensitive)" : ""
                    error(valueToken, "\(entry.name) accepts None and CRC32C\(hint), not '\(item)'")
                    return nil
                }
                if !items.contains(String(item)) {
                    items.append(String(item))
                }
            }
            guard !items.isEmpty else {
                error(valueToken, "\(entry.name) requires None, CRC32C or a list of both")
                return nil
            }
            value = items.joined(separator: ",")
        case .number(let range):
            let ietValue = entry.ietOutOfRangeUsesMaximum ? range.upperBound : range.lowerBound
            guard let parsedNumber = number(valueToken, range: range, name: entry.name, ietUses: String(ietValue)) else {
                return nil
            }
            value = String(parsedNumber)
            if entry.name == "MaxRecvDataSegmentLength" || entry.name == "MaxXmitDataSegmentLength",
                parsedNumber > IETParameters.ietKernelMaxDataSegmentLength {
                // IET kernel CHECK_PARAM: above (ISCSI_CONN_IOV_MAX-1)*PAGE_SIZE the value was forced
                // to the minimum, 512.
                warning(valueToken, "\(entry.name) \(parsedNumber) is above IET's kernel limit "
                        + "\(IETParameters.ietKernelMaxDataSegmentLength); IET silently used 512, iscsi-target uses \(parsedNumber)")
            }
        }
        if let forced = entry.forcedValue, value != forced {
            // IET kernel/param.c forced this key; we do not implement other values either.
            warning(valueToken, "\(entry.name) \(value) is not supported; using \(forced) (IET forced it too)")
            value = forced
        }
        return value
    }

    mutating func number(_ directive: Directive, range: ClosedRange<Int>, name: String, ietUses: String?) -> Int? {
        guard let token = directive.arguments.first else {
            error(directive.keyword, "\(name) requires a value")
            return nil
        }
        if let extra = directive.arguments.dropFirst().first {
            warning(extra, "extra words after the \(name) value ignored")
        }
        return number(token, range: range, name: name, ietUses: ietUses)
    }

    /// A number in C `strtol(…, 0)` syntax, clamped into `range` with a warning.
    mutating func number(_ token: Token, range: ClosedRange<Int>, name: String, ietUses: String?) -> Int? {
        guard let parsed = CInteger.parse(token.text) else {
            error(token, "\(name) expects a number, not '\(token.text)'")
            return nil
        }
        if parsed.isOctal {
            warning(token, "'\(token.text)' has a leading 0 and is read as octal (\(parsed.value)), as IET did")
        }
        if parsed.value < range.lowerBound || parsed.value > range.upperBound {
            let clamped = min(max(parsed.value, range.lowerBound), range.upperBound)
            let shown = parsed.overflowed ? token.text : String(parsed.value)
            let upper = range.upperBound == Int.max ? "" : String(range.upperBound)
            let ietNote = ietUses.map { " (IET silently used \($0))" } ?? ""
            warning(token, "\(name) \(shown) is out of range \(range.lowerBound)...\(upper); using \(clamped)\(ietNote)")
            return clamped
        }
        return parsed.value
    }

    // MARK: - LUNs

    mutating func lun(_ directive: Directive, targetName: String) -> LUNConfig? {
        guard let numberToken = directive.arguments.first else {
            error(directive.keyword, "Lun requires a LUN number and parameters")
            return nil
        }
        // IET: strtol(q, &q, 10); kernel volume_add rejects lun > 0x3fff.
        guard !numberToken.text.isEmpty, numberToken.text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            error(numberToken, "expected a LUN number (0...16383), not '\(numberToken.text)'")
            return nil
        }
        guard let number = Int(numberToken.text), number <= 16383 else {
            error(numberToken, "LUN \(numberToken.text) is out of range 0...16383")
            return nil
        }
        // ietd.conf(5): "Parameters after <lun> should not contain any blank space characters".
        // A backslash continuation inside the list joins without a blank (our extension).
        var paramBytes: [UInt8] = []
        var pieces: [(offset: Int, token: Token)] = []
        for (index, token) in directive.arguments.dropFirst().enumerated() {
            if index > 0, let previous = pieces.last, token.location.line == previous.token.location.line {
                error(token, "blank in the Lun parameter list; parameters are separated by ',' only")
                return nil
            }
            pieces.append((paramBytes.count, token))
            paramBytes.append(contentsOf: token.text.utf8)
        }
        // Maps a byte offset in the joined list back to a file location.
        func locationOf(_ offset: Int) -> SourceLocation {
            guard let piece = pieces.last(where: { $0.offset <= offset }) else { return numberToken.location }
            var location = piece.token.location
            location.column += offset - piece.offset
            return location
        }
        let paramsToken = pieces.first?.token ?? numberToken

        var type: LUNType?
        var path: String?
        var ioMode: IOMode?
        var scsiIDText: String?
        var scsiSNText: String?
        var blockSize: UInt32?
        var blocks: UInt64?
        var seenKeys: [String: Token] = [:]
        var failed = false
        var itemStart = 0
        var items: [Token] = []
        for offset in 0...paramBytes.count where offset == paramBytes.count || paramBytes[offset] == UInt8(ascii: ",") {
            if offset > itemStart {
                items.append(Token(text: String(decoding: paramBytes[itemStart..<offset], as: UTF8.self),
                                   location: locationOf(itemStart)))
            }
            itemStart = offset + 1
        }
        for itemToken in items {
            let item = Substring(itemToken.text)
            guard let equals = item.firstIndex(of: "=") else {
                error(itemToken, "Lun parameter '\(item)' has no '=' value")
                failed = true
                continue
            }
            // IET 1.4.20 iet_strtolower: keys are case-insensitive, values are not.
            let key = item[..<equals].lowercased()
            let value = String(item[item.index(after: equals)...])
            if seenKeys[key] != nil, key == "path" {
                // IET file-io.c: duplicate "Path" param.
                error(itemToken, "duplicate Path parameter")
                failed = true
                continue
            }
            if seenKeys[key] != nil {
                warning(itemToken, "Lun parameter '\(item[..<equals])' is given twice; the last value is used")
            }
            seenKeys[key] = itemToken
            switch key {
            case "type":
                guard let parsed = LUNType(rawValue: value) else {
                    let hint = LUNType(rawValue: value.lowercased()) != nil ? " (case-sensitive)" : ""
                    error(itemToken, "Type must be fileio, blockio or nullio\(hint), not '\(value)'")
                    failed = true
                    continue
                }
                type = parsed
            case "path":
                guard !value.isEmpty else {
                    error(itemToken, "Path is empty")
                    failed = true
                    continue
                }
                path = value
            case "iomode":
                guard let parsed = IOMode(rawValue: value) else {
                    let hint = IOMode(rawValue: value.lowercased()) != nil ? " (case-sensitive)" : ""
                    error(itemToken, "IOMode must be wb, wt or ro\(hint), not '\(value)'")
                    failed = true
                    continue
                }
                ioMode = parsed
            case "scsiid":
                // IET kernel set_scsiid: at most SCSI_ID_LEN (16) bytes.
                guard value.utf8.count <= IETIdentity.scsiIDLength else {
                    error(itemToken, "ScsiId is \(value.utf8.count) bytes long; at most 16 are allowed")
                    failed = true
                    continue
                }
                scsiIDText = value
            case "scsisn":
                // IET kernel set_scsisn: at most SCSI_SN_LEN (32) printable ASCII characters.
                guard value.utf8.count <= IETIdentity.scsiSNMaxLength else {
                    error(itemToken, "ScsiSN is \(value.utf8.count) bytes long; at most 32 are allowed")
                    failed = true
                    continue
                }
                guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
                    error(itemToken, "ScsiSN must be printable ASCII")
                    failed = true
                    continue
                }
                scsiSNText = value
            case "blocksize":
                // IET kernel: power of two, 512 <= size <= IET_MAX_BLOCK_SIZE (4096).
                guard let size = UInt32(value), size >= 512, size <= 4096, size & (size - 1) == 0 else {
                    error(itemToken, "BlockSize must be 512, 1024, 2048 or 4096, not '\(value)'")
                    failed = true
                    continue
                }
                blockSize = size
            case "blocks", "sectors":
                guard let count = UInt64(value) else {
                    error(itemToken, "\(item[..<equals]) expects a block count, not '\(value)'")
                    failed = true
                    continue
                }
                blocks = count
            default:
                // IET *-io.c: "unknown param" → LUN creation failed.
                error(itemToken, "unknown Lun parameter '\(item[..<equals])'")
                failed = true
            }
        }
        if failed { return nil }

        // IET volume.c: Type omitted → fileio.
        let resolvedType = type ?? .fileio
        switch resolvedType {
        case .fileio, .blockio:
            if let token = seenKeys["blocks"] ?? seenKeys["sectors"] {
                error(token, "Blocks/Sectors are only valid for Type=nullio")
                return nil
            }
            guard path != nil else {
                // IET file-io.c/block-io.c: missing "Path" param.
                error(numberToken, "Lun \(number) (\(resolvedType.rawValue)) requires Path=")
                return nil
            }
            if let path, !path.hasPrefix("/") {
                warning(seenKeys["path"] ?? paramsToken, "Path '\(path)' is not absolute; IET opened it relative to /")
            }
        case .nullio:
            if path != nil {
                // IET null-io.c: Path is an unknown parameter for nullio.
                error(seenKeys["path"] ?? paramsToken, "Path is not valid for Type=nullio")
                return nil
            }
            if ioMode != nil {
                // IET null-io.c does not accept IOMode.
                error(seenKeys["iomode"] ?? paramsToken, "IOMode is not valid for Type=nullio")
                return nil
            }
        }
        var mode = ioMode ?? .wt
        if resolvedType == .blockio, mode == .wb {
            // ietd.conf(5): "IOMode "wb" is ignored when employing blockio".
            warning(seenKeys["iomode"] ?? paramsToken, "IOMode=wb is ignored for blockio (as in IET); writes are write-through")
            mode = .wt
        }
        if resolvedType == .nullio {
            // IET null-io.c: 0 or absent → 64 GiB worth of blocks.
            let shift = UInt64((blockSize ?? 512).trailingZeroBitCount)
            if blocks == nil || blocks == 0 {
                blocks = UInt64(1) << (36 - shift)
            }
        } else {
            blocks = nil
        }
        let lun = UInt16(number)
        var scsiID: [UInt8]
        if let scsiIDText, !scsiIDText.isEmpty {
            scsiID = IETIdentity.explicitSCSIID(scsiIDText)
        } else {
            // IET volume.c: no ScsiId (or an empty one) → gen_scsiid.
            scsiID = IETIdentity.defaultSCSIID(targetName: targetName, lun: lun)
        }
        let scsiSN = (scsiSNText?.isEmpty == false ? scsiSNText : nil) ?? IETIdentity.defaultSCSISN(scsiID: scsiID)
        return LUNConfig(lun: lun, type: resolvedType, path: path, scsiID: scsiID, scsiSN: scsiSN, ioMode: mode,
                         blockSize: blockSize, blocks: blocks, location: directive.keyword.location)
    }
}

/// C `strtol(s, &end, 0)` syntax, requiring the whole word to be consumed.
enum CInteger {
    struct Parsed {
        var value: Int
        var isOctal: Bool
        var overflowed: Bool
    }

    static func parse(_ text: String) -> Parsed? {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var radix = 10
        var isOctal = false
        if bytes.count > 2, bytes.first == UInt8(ascii: "0"),
            bytes[bytes.startIndex + 1] == UInt8(ascii: "x") || bytes[bytes.startIndex + 1] == UInt8(ascii: "X") {
            radix = 16
            bytes = bytes.dropFirst(2)
        } else if bytes.count > 1, bytes.first == UInt8(ascii: "0") {
            radix = 8
            isOctal = true
            bytes = bytes.dropFirst()
        }
        var value = 0
        var overflowed = false
        for byte in bytes {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte) - 0x30
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte) - 0x61 + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte) - 0x41 + 10
            default: return nil
            }
            guard digit < radix else { return nil }
            if overflowed { continue }
            let (times, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = times.addingReportingOverflow(digit)
            if o1 || o2 {
                overflowed = true
            } else {
                value = sum
            }
        }
        if overflowed {
            // strtol saturates to LONG_MAX / LONG_MIN.
            return Parsed(value: negative ? Int.min : Int.max, isOctal: isOctal, overflowed: true)
        }
        return Parsed(value: negative ? -value : value, isOctal: isOctal, overflowed: false)
    }
}
