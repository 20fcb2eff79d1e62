import Glibc
import LinuxIO
import Synchronization

// Test-only fault injection for backing devices (docs/hardening.md).
//
// A `FaultInjector` attached to a `BackingDevice` makes `IOEngine.submit` fail chosen requests with an
// errno (EIO, ENOSPC, …), fail them as a short transfer (what the engine reports when pread/pwrite stop
// early: EIO), or hold their completions until the test releases them (commands "in flight" for as long
// as the test wants). Requests that no rule matches run normally; while an injector is attached every
// completion on that device is counted, so a test can see that nothing stays in flight.
//
// Cost when off: `IOEngine.submit` reads one relaxed atomic (`FaultInjection.isArmed`), false unless an
// injector is attached somewhere in the process.

/// One fault rule: which requests it matches and what happens to them.
public struct FaultRule: Sendable, Hashable, CustomStringConvertible {
    /// What a matching request gets.
    public enum Effect: Sendable, Hashable {
        /// Completes with this errno, without touching the device.
        case error(Int32)
        /// Completes as a transfer that stopped short: EIO with call `pread(short)` / `pwrite(short)`,
        /// exactly what the engine reports when the kernel returns fewer bytes at end of file.
        case shortTransfer
        /// Runs the request, but keeps its completion until `FaultInjector.releaseHeld()`.
        case hold
    }

    /// Operations matched; empty matches all.
    public var operations: Set<IOOperation>
    /// Byte range matched: a request overlapping it matches (flushes, which have no range, match only
    /// when this is nil). Nil matches everywhere.
    public var byteRange: Range<UInt64>?
    /// Matching requests let through before the rule fires ("fail after N requests").
    public var skip: Int
    /// Times the rule fires; nil = every matching request from then on.
    public var count: Int?
    /// What happens.
    public var effect: Effect

    /// Creates a rule.
    public init(operations: Set<IOOperation> = [], byteRange: Range<UInt64>? = nil, skip: Int = 0, count: Int? = nil,
                effect: Effect) {
        self.operations = operations
        self.byteRange = byteRange
        self.skip = max(0, skip)
        self.count = count.map { max(0, $0) }
        self.effect = effect
    }

    /// EIO on reads (optionally only in `range`).
    public static func readError(_ range: Range<UInt64>? = nil, errno: Int32 = EIO) -> FaultRule {
        FaultRule(operations: [.read], byteRange: range, effect: .error(errno))
    }

    /// EIO on writes (optionally only in `range`).
    public static func writeError(_ range: Range<UInt64>? = nil, errno: Int32 = EIO) -> FaultRule {
        FaultRule(operations: [.write], byteRange: range, effect: .error(errno))
    }

    func matches(_ request: IORequest) -> Bool {
        if !operations.isEmpty && !operations.contains(request.op) { return false }
        guard let byteRange else { return true }
        if request.op == .flush { return false }
        // offset + length was validated by IOEngine before the hook runs; saturate anyway.
        let (end, overflow) = request.offset.addingReportingOverflow(UInt64(max(0, request.length)))
        let requestEnd = overflow ? UInt64.max : end
        return request.offset < byteRange.upperBound && requestEnd > byteRange.lowerBound
    }

    public var description: String {
        let ops = operations.isEmpty ? "any" : operations.map { "\($0)" }.sorted().joined(separator: ",")
        let range = byteRange.map { "\($0.lowerBound)-\($0.upperBound)" } ?? "*"
        let what: String
        switch effect {
        case .error(let e): what = FaultRule.errnoNames.first { $0.value == e }?.key ?? "errno\(e)"
        case .shortTransfer: what = "short"
        case .hold: what = "hold"
        }
        return "\(ops):\(range):\(what):after=\(skip)" + (count.map { ":count=\($0)" } ?? "")
    }

    static let errnoNames: [String: Int32] = [
        "EIO": EIO, "ENOSPC": ENOSPC, "EDQUOT": EDQUOT, "EROFS": EROFS, "ENXIO": ENXIO, "ENODEV": ENODEV,
        "ETIMEDOUT": ETIMEDOUT, "EAGAIN": EAGAIN, "EINVAL": EINVAL, "ENOMEM": ENOMEM, "EBADF": EBADF,
    ]

    /// Parses `OPS:RANGE:EFFECT[:after=N][:count=N]`, e.g. `read:0-4096:EIO`, `write:*:ENOSPC:after=10`,
    /// `any:*:short:count=1`, `read:*:hold`. OPS is `any` or a comma list of read/write/flush/discard;
    /// RANGE is `*` or `START-END` in bytes (END exclusive); EFFECT is an errno name, `short` or `hold`.
    /// - Returns: nil for anything malformed (never traps on input).
    public static func parse(_ spec: String) -> FaultRule? {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map { String($0) }
        guard parts.count >= 3, parts.count <= 5 else { return nil }
        var ops: Set<IOOperation> = []
        if parts[0] != "any" {
            for name in parts[0].split(separator: ",") {
                switch name {
                case "read": ops.insert(.read)
                case "write": ops.insert(.write)
                case "flush": ops.insert(.flush)
                case "discard": ops.insert(.discard)
                default: return nil
                }
            }
        }
        var range: Range<UInt64>?
        if parts[1] != "*" {
            let bounds = parts[1].split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 2, let lo = UInt64(bounds[0]), let hi = UInt64(bounds[1]), lo < hi else { return nil }
            range = lo..<hi
        }
        let effect: Effect
        switch parts[2] {
        case "short": effect = .shortTransfer
        case "hold": effect = .hold
        default:
            guard let e = errnoNames[parts[2]] else { return nil }
            effect = .error(e)
        }
        var skip = 0
        var count: Int?
        for option in parts.dropFirst(3) {
            if option.hasPrefix("after="), let n = Int(option.dropFirst(6)), n >= 0 { skip = n; continue }
            if option.hasPrefix("count="), let n = Int(option.dropFirst(6)), n >= 0 { count = n; continue }
            return nil
        }
        return FaultRule(operations: ops, byteRange: range, skip: skip, count: count, effect: effect)
    }
}

/// Decides the fate of the requests of the devices it is attached to. Thread-safe.
public final class FaultInjector: Sendable {
    /// Counters, for assertions.
    public struct Statistics: Sendable, Hashable {
        /// Requests submitted to an attached device while attached.
        public var submitted = 0
        /// Requests a rule failed (errno or short transfer).
        public var injected = 0
        /// Requests whose completion is held right now.
        public var held = 0
        /// Completions delivered to the caller (failed, passed through or released).
        public var completed = 0
        /// Submitted but not yet completed (including held ones).
        public var inFlight: Int { submitted - completed }
    }

    private struct RuleState {
        var rule: FaultRule
        var skipped = 0
        var fired = 0
    }

    private struct State {
        var rules: [RuleState] = []
        var statistics = Statistics()
        var holding = true
        var held: [HeldCompletion] = []
    }

    private let state = Mutex(State())

    /// Creates an injector with these rules (first matching rule wins).
    public init(rules: [FaultRule] = []) {
        state.withLock { $0.rules = rules.map { RuleState(rule: $0) } }
    }

    /// Adds a rule after the existing ones.
    public func add(_ rule: FaultRule) {
        state.withLock { $0.rules.append(RuleState(rule: rule)) }
    }

    /// Removes every rule (held completions stay held until `releaseHeld`).
    public func removeAllRules() {
        state.withLock { $0.rules.removeAll() }
    }

    /// The counters now.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Completes every held request (on its loop) and stops holding new ones until `holdAgain()`.
    /// - Returns: how many were released.
    @discardableResult
    public func releaseHeld() -> Int {
        let held = state.withLock { s -> [HeldCompletion] in
            s.holding = false
            let out = s.held
            s.held.removeAll()
            return out
        }
        for h in held { h.deliver() }
        return held.count
    }

    /// Makes `.hold` rules hold again after `releaseHeld()`.
    public func holdAgain() {
        state.withLock { $0.holding = true }
    }

    /// What happens to one request.
    enum Decision {
        case pass
        case fail(SystemError)
        case hold
    }

    func decide(_ request: IORequest) -> Decision {
        state.withLock { s -> Decision in
            s.statistics.submitted += 1
            for index in s.rules.indices where s.rules[index].rule.matches(request) {
                if s.rules[index].skipped < s.rules[index].rule.skip {
                    s.rules[index].skipped += 1
                    continue
                }
                if let limit = s.rules[index].rule.count, s.rules[index].fired >= limit { continue }
                s.rules[index].fired += 1
                switch s.rules[index].rule.effect {
                case .error(let e):
                    s.statistics.injected += 1
                    return .fail(SystemError(errno: e, call: "fault(\(request.op))"))
                case .shortTransfer:
                    s.statistics.injected += 1
                    return .fail(SystemError(errno: EIO, call: request.op == .read ? "pread(short)" : "pwrite(short)"))
                case .hold:
                    return s.holding ? .hold : .pass
                }
            }
            return .pass
        }
    }

    func completed() {
        state.withLock { $0.statistics.completed += 1 }
    }

    /// Parks a completion, or returns false when no longer holding (the caller delivers it).
    func park(_ held: HeldCompletion) -> Bool {
        state.withLock { s -> Bool in
            guard s.holding else { return false }
            s.held.append(held)
            s.statistics.held = s.held.count
            return true
        }
    }

    func unparkedCount() {
        state.withLock { $0.statistics.held = $0.held.count }
    }
}

/// A completion whose delivery waits for `releaseHeld()`. `@unchecked Sendable`: the closure is only
/// called on its loop's thread (through `EventLoop.execute`).
final class HeldCompletion: @unchecked Sendable {
    let loop: EventLoop
    let completion: (Result<Int, SystemError>) -> Void
    let result: Result<Int, SystemError>
    let injector: FaultInjector

    init(loop: EventLoop, completion: @escaping (Result<Int, SystemError>) -> Void, result: Result<Int, SystemError>,
         injector: FaultInjector) {
        self.loop = loop; self.completion = completion; self.result = result; self.injector = injector
    }

    func deliver() {
        loop.execute { [self] in
            injector.unparkedCount()
            injector.completed()
            completion(result)
        }
    }
}

/// The process-wide table of attached injectors, and the hook `IOEngine.submit` calls.
public enum FaultInjection {
    private struct Entry {
        weak var device: BackingDevice?
        let injector: FaultInjector
    }

    private static let armed = Atomic<Bool>(false)
    private static let table = Mutex<[ObjectIdentifier: Entry]>([:])

    /// Environment variable read by `attachFromEnvironment`: `;`-separated `FaultRule.parse` specs.
    public static let environmentVariable = "ISCSI_TARGET_FAULTS"

    /// True while any injector is attached: the only cost on the I/O path when off.
    @inline(__always)
    static var isArmed: Bool { armed.load(ordering: .relaxed) }

    /// Attaches `injector` to `device` (replacing any previous one).
    public static func attach(_ injector: FaultInjector, to device: BackingDevice) {
        table.withLock { t in
            t = t.filter { $0.value.device != nil }
            t[ObjectIdentifier(device)] = Entry(device: device, injector: injector)
            armed.store(true, ordering: .relaxed)
        }
    }

    /// Detaches whatever injector `device` has (held completions are released first).
    public static func detach(from device: BackingDevice) {
        let removed = table.withLock { t -> FaultInjector? in
            let entry = t.removeValue(forKey: ObjectIdentifier(device))
            armed.store(!t.isEmpty, ordering: .relaxed)
            return entry?.injector
        }
        removed?.releaseHeld()
    }

    /// The injector attached to `device`, if any.
    public static func injector(for device: BackingDevice) -> FaultInjector? {
        table.withLock { t in
            guard let e = t[ObjectIdentifier(device)], e.device === device else { return nil }
            return e.injector
        }
    }

    /// For the daemon (test deployments only): attaches an injector built from `$ISCSI_TARGET_FAULTS` when it
    /// is set, e.g. `ISCSI_TARGET_FAULTS='read:0-4096:EIO;write:*:ENOSPC:after=100'`. Rules may be prefixed
    /// with `PATH=` to apply to one backing path only.
    /// - Returns: the rules attached (empty when the variable is unset) and the specs that did not parse.
    @discardableResult
    public static func attachFromEnvironment(to device: BackingDevice) -> (rules: [FaultRule], invalid: [String]) {
        guard let raw = getenv(environmentVariable) else { return ([], []) }
        var rules: [FaultRule] = []
        var invalid: [String] = []
        for spec in String(cString: raw).split(separator: ";").map(String.init) where !spec.isEmpty {
            var body = spec
            if let eq = spec.firstIndex(of: "=") , !spec[..<eq].contains(":") {
                guard String(spec[..<eq]) == (device.path ?? "null") else { continue }
                body = String(spec[spec.index(after: eq)...])
            }
            if let rule = FaultRule.parse(body) { rules.append(rule) } else { invalid.append(spec) }
        }
        if !rules.isEmpty { attach(FaultInjector(rules: rules), to: device) }
        return (rules, invalid)
    }

    /// The hook in `IOEngine.submit`, called only when `isArmed`, after validation.
    /// - Returns: nil when the request was consumed (failed; its completion is queued), else the
    ///   completion to continue with (counting, or holding, the result).
    static func intercept(_ request: IORequest, on device: BackingDevice, engine: IOEngine,
                          completion: @escaping (Result<Int, SystemError>) -> Void)
        -> ((Result<Int, SystemError>) -> Void)? {
        guard let injector = injector(for: device) else { return completion }
        switch injector.decide(request) {
        case .fail(let error):
            engine.loop.deferToEndOfIteration { [weak engine] in
                injector.completed()
                if let engine { engine.finish(completion, .failure(error)) } else { completion(.failure(error)) }
            }
            return nil
        case .pass:
            return { result in
                injector.completed()
                completion(result)
            }
        case .hold:
            let loop = engine.loop
            return { result in
                let held = HeldCompletion(loop: loop, completion: completion, result: result, injector: injector)
                if !injector.park(held) {
                    injector.completed()
                    completion(result)
                }
            }
        }
    }
}
