// Line lexer shared by ietd.conf and the access files.
//
// IET reads these files with fgets(4096) and splits words on isspace (usr/plain.c
// `target_sep_string`). We lex the whole text once, keep a location for every word, and report
// (as warnings) the places where IET's reader silently did something other than what the text says.
// Quirk decisions are documented in docs/configuration.md.

/// One whitespace-separated word with its location.
struct Token: Hashable, Sendable {
    var text: String
    var location: SourceLocation
}

/// One logical line: the words of one physical line, or of several joined by backslash continuation.
struct LogicalLine: Sendable {
    /// The words before any trailing comment.
    var tokens: [Token]
    /// Words of a trailing `#` comment (kept because IET read them as values, e.g. a password
    /// starting with `#`).
    var commentTokens: [Token]
}

enum Lexer {
    /// IET's fgets buffer: longer lines were split into several lines (usr/plain.c `BUFSIZE 4096`).
    static let ietLineLimit = 4095

    /// Splits `text` into logical lines.
    /// - Parameters:
    ///   - continuation: Join a line ending in `\` with the next (ietd.conf(5); IET never implemented it).
    ///   - diagnostics: Receives warnings for IET reader quirks.
    ///   - noNewlineMessage: Warning text for a final line without a newline.
    static func lines(_ text: String, file: String, continuation: Bool,
                      noNewlineMessage: String = "no newline at end of file; IET ignored the last word of this line, iscsi-target reads it",
                      diagnostics: inout [Diagnostic]) -> [LogicalLine] {
        let bytes = Array(text.utf8)
        var physical: [ArraySlice<UInt8>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            physical.append(bytes[start..<index])
            start = index + 1
        }
        let missingFinalNewline = start < bytes.count
        if missingFinalNewline {
            physical.append(bytes[start..<bytes.count])
        }

        var result: [LogicalLine] = []
        var current: LogicalLine?
        var reportedNUL = false
        for (lineIndex, rawLine) in physical.enumerated() {
            let lineNumber = lineIndex + 1
            var line = rawLine
            if line.count > ietLineLimit {
                diagnostics.append(.warning(
                    SourceLocation(file: file, line: lineNumber, column: ietLineLimit + 1),
                    "line is longer than \(ietLineLimit) bytes; IET split it into several lines, iscsi-target reads it whole"))
            }
            // A trailing CR (CRLF files) is whitespace for IET's isspace tokenizer; drop it before
            // looking for a continuation backslash.
            if line.last == UInt8(ascii: "\r") {
                line = line.dropLast()
            }
            if !reportedNUL, line.contains(0) {
                reportedNUL = true
                diagnostics.append(.error(SourceLocation(file: file, line: lineNumber, column: 1),
                                          "NUL byte in line; IET's reader stopped at it"))
            }
            var words = tokenize(line, file: file, line: lineNumber)
            let isContinuationLine = current != nil
            // Quirk 3 (ietd.conf(5) + plain.c): a line is a comment iff its first word starts with '#'.
            if !isContinuationLine, let first = words.first, first.text.hasPrefix("#") {
                continue
            }
            // Trailing comment: a word starting with '#' after other words.
            var comment: [Token] = []
            if let hashIndex = words.firstIndex(where: { $0.text.hasPrefix("#") }) {
                comment = Array(words[hashIndex...])
                words.removeSubrange(hashIndex...)
                diagnostics.append(.warning(
                    comment[0].location,
                    "trailing comment; ietd.conf(5) disallows '#' after a value (IET ignored it here by accident)"))
            }
            var continues = false
            if continuation, comment.isEmpty, line.last == UInt8(ascii: "\\"), var last = words.popLast() {
                continues = true
                last.text.removeLast()
                if !last.text.isEmpty {
                    words.append(last)
                }
            }
            if current == nil {
                current = LogicalLine(tokens: [], commentTokens: [])
            }
            current?.tokens.append(contentsOf: words)
            current?.commentTokens.append(contentsOf: comment)
            if continues, lineIndex + 1 < physical.count {
                continue
            }
            if continues {
                diagnostics.append(.warning(SourceLocation(file: file, line: lineNumber, column: max(1, line.count)),
                                            "backslash continuation at end of file"))
            }
            if let done = current, !done.tokens.isEmpty {
                result.append(done)
            }
            current = nil
            // Quirk 4 (plain.c target_sep_string): the last word of a final line without a newline was
            // dropped by IET. We read it and warn.
            if missingFinalNewline, lineIndex == physical.count - 1, let lastWord = words.last {
                diagnostics.append(.warning(lastWord.location, noNewlineMessage))
            }
        }
        return result
    }

    /// C `isspace` in the "C" locale, plus NUL (treated as a separator after being reported).
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0d) || byte == 0
    }

    private static func tokenize(_ line: ArraySlice<UInt8>, file: String, line lineNumber: Int) -> [Token] {
        var tokens: [Token] = []
        var index = line.startIndex
        while index < line.endIndex {
            if isSpace(line[index]) {
                index += 1
                continue
            }
            let begin = index
            while index < line.endIndex, !isSpace(line[index]) {
                index += 1
            }
            let text = String(decoding: line[begin..<index], as: UTF8.self)
            let column = begin - line.startIndex + 1
            tokens.append(Token(text: text, location: SourceLocation(file: file, line: lineNumber, column: column)))
        }
        return tokens
    }
}
