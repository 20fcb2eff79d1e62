/// A position in a configuration file.
///
/// Lines and columns are 1-based. Columns count bytes of the UTF-8 encoded line, as compilers do.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The file path as given to the parser.
    public var file: String
    /// The 1-based line number.
    public var line: Int
    /// The 1-based column (UTF-8 byte offset + 1).
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }

    /// Orders by file, then line, then column.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// A configuration problem, rendered compiler-style: `path:line:col: error: message`.
///
/// Messages never contain CHAP secrets.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    /// How serious a diagnostic is.
    public enum Severity: String, Hashable, Sendable {
        /// The configuration is rejected.
        case error
        /// The configuration loads, but something differs from what the text suggests or from IET.
        case warning
    }

    /// Error or warning.
    public var severity: Severity
    /// Where the problem is.
    public var location: SourceLocation
    /// One line of text, without the location or severity prefix.
    public var message: String

    /// Creates a diagnostic.
    public init(severity: Severity, location: SourceLocation, message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// Shorthand for an error.
    public static func error(_ location: SourceLocation, _ message: String) -> Diagnostic {
        Diagnostic(severity: .error, location: location, message: message)
    }

    /// Shorthand for a warning.
    public static func warning(_ location: SourceLocation, _ message: String) -> Diagnostic {
        Diagnostic(severity: .warning, location: location, message: message)
    }

    /// `path:line:col: error: message`.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

extension Array where Element == Diagnostic {
    /// True when at least one diagnostic is an error.
    public var containsErrors: Bool { contains { $0.severity == .error } }
}
