// Step 2 of parsing: group logical lines into the global section and `Target` stanzas.
// Keywords are not interpreted here beyond recognising `Target` (strcasecmp, as IET).

/// `Keyword argument...` with locations.
struct Directive: Sendable {
    var keyword: Token
    var arguments: [Token]
    /// Words of a trailing comment on the same line (see `LogicalLine.commentTokens`).
    var commentTokens: [Token]
    /// Lower-cased keyword for matching.
    var key: String { keyword.text.lowercased() }
}

/// `Target <name>` and the directives up to the next `Target`.
struct TargetStanza: Sendable {
    var keyword: Token
    var name: Token?
    var extraWords: [Token]
    var directives: [Directive]
}

/// The whole file, uninterpreted.
struct SyntaxTree: Sendable {
    var globals: [Directive] = []
    var targets: [TargetStanza] = []

    init(lines: [LogicalLine]) {
        for line in lines {
            guard let keyword = line.tokens.first else { continue }
            let arguments = Array(line.tokens.dropFirst())
            if keyword.text.lowercased() == "target" {
                targets.append(TargetStanza(keyword: keyword, name: arguments.first,
                                            extraWords: Array(arguments.dropFirst()), directives: []))
                continue
            }
            let directive = Directive(keyword: keyword, arguments: arguments, commentTokens: line.commentTokens)
            if targets.isEmpty {
                globals.append(directive)
            } else {
                targets[targets.count - 1].directives.append(directive)
            }
        }
    }
}
