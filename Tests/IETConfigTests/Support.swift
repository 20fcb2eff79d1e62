import IETConfig

/// Parses a fixture as file "t.conf".
func parse(_ text: String) -> (Configuration?, [Diagnostic]) {
    ConfigParser.parse(text, path: "t.conf")
}

extension Array where Element == Diagnostic {
    var errors: [Diagnostic] { filter { $0.severity == .error } }
    var warnings: [Diagnostic] { filter { $0.severity == .warning } }

    /// Diagnostics of `severity` at line:column.
    func at(_ severity: Diagnostic.Severity, _ line: Int, _ column: Int) -> [Diagnostic] {
        filter { $0.severity == severity && $0.location.line == line && $0.location.column == column }
    }
}

/// A small deterministic generator (SplitMix64) so robustness tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// hex string of bytes.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
