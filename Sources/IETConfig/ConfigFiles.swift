// File access for the configuration: the only I/O in IETConfig. The parsers themselves are pure.

#if canImport(Glibc)
import Glibc
#endif

/// A file could not be read.
public struct ConfigFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path.
    public var path: String
    /// The errno value (0 for content problems such as invalid UTF-8 or an oversized file).
    public var errno: Int32
    /// What went wrong.
    public var message: String

    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}

/// Locations and loading of ietd.conf and the access files.
public enum ConfigFiles {
    /// IET 1.4.x default: `/etc/iet/ietd.conf`.
    public static let defaultConfigPath = "/etc/iet/ietd.conf"
    /// Pre-1.4.18 location; IET still read it with a "location is depreciated" warning.
    public static let legacyConfigPath = "/etc/ietd.conf"
    /// Where IET looked for initiators.allow/deny and targets.allow, in order.
    public static let defaultDirectories = ["/etc/iet", "/etc"]
    /// Largest configuration file we read (config input is bounded like peer input).
    public static let maximumFileSize = 16 << 20

    /// Reads a whole text file.
    /// - Returns: The contents, or an error (`errno == ENOENT` when the file does not exist).
    public static func read(path: String) -> Result<String, ConfigFileError> {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
        if fd < 0 {
            let code = errno
            return .failure(ConfigFileError(path: path, errno: code, message: String(cString: strerror(code))))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                return .failure(ConfigFileError(path: path, errno: code, message: String(cString: strerror(code))))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > maximumFileSize {
                return .failure(ConfigFileError(path: path, errno: 0,
                                                message: "file is larger than \(maximumFileSize) bytes"))
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(ConfigFileError(path: path, errno: 0, message: "file is not valid UTF-8"))
        }
        return .success(text)
    }

    /// True when `path` exists.
    public static func exists(path: String) -> Bool {
        path.withCString { access($0, F_OK) } == 0
    }

    /// Finds the configuration file as IET did: `/etc/iet/ietd.conf`, then `/etc/ietd.conf` (with a
    /// deprecation warning).
    /// - Parameter candidates: Search order.
    /// - Returns: The path found (nil if none; IET then started with no targets) and diagnostics.
    public static func locateConfiguration(candidates: [String] = [defaultConfigPath, legacyConfigPath])
        -> (path: String?, diagnostics: [Diagnostic])
    {
        for (index, candidate) in candidates.enumerated() where exists(path: candidate) {
            if index > 0, let preferred = candidates.first {
                return (candidate, [.warning(SourceLocation(file: candidate, line: 1, column: 1),
                                             "this location is deprecated; move the file to \(preferred)")])
            }
            return (candidate, [])
        }
        let first = candidates.first ?? defaultConfigPath
        return (nil, [.warning(SourceLocation(file: first, line: 1, column: 1),
                               "ietd.conf not found (searched \(candidates.joined(separator: ", ")))")])
    }

    /// Reads and parses an ietd.conf.
    /// - Returns: The configuration (nil on any error) and diagnostics; an unreadable file is an
    ///   error at line 1, column 1.
    public static func load(path: String) -> (Configuration?, [Diagnostic]) {
        switch read(path: path) {
        case .success(let text):
            return ConfigParser.parse(text, path: path)
        case .failure(let failure):
            return (nil, [.error(SourceLocation(file: path, line: 1, column: 1), failure.message)])
        }
    }
}
