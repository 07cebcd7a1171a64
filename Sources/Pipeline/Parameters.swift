/// A bad stage parameter: which one, what it was, what was expected.
public struct StageParameterError: Error, Equatable, CustomStringConvertible {
    public let field: String
    public let value: String
    public let reason: String
    public var description: String { "\(field) = \(value): \(reason)" }
}

/// Typed, checked access to a stage's parameters. The same reads serve `Stage.check` (before
/// anything runs) and `Stage.run`, so a stage cannot accept at plan time what it rejects later.
public struct Parameters: Sendable {
    public let values: [String: Value]

    public init(_ values: [String: Value]) { self.values = values }

    private func raw(_ name: String) throws -> Value {
        guard let v = values[name] else { throw StageParameterError(field: name, value: "(missing)", reason: "required") }
        return v
    }

    public func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        let v = try raw(name)
        guard let i = v.intValue else { throw StageParameterError(field: name, value: v.description, reason: "expected an integer") }
        guard range.contains(i) else {
            throw StageParameterError(field: name, value: v.description, reason: "expected \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    public func double(_ name: String) throws -> Double {
        let v = try raw(name)
        guard let d = v.doubleValue else { throw StageParameterError(field: name, value: v.description, reason: "expected a number") }
        return d
    }

    public func string(_ name: String, oneOf allowed: [String]? = nil) throws -> String {
        let v = try raw(name)
        guard let s = v.stringValue else { throw StageParameterError(field: name, value: v.description, reason: "expected a string") }
        if let allowed, !allowed.contains(s) {
            throw StageParameterError(field: name, value: v.description, reason: "expected one of \(allowed.joined(separator: ", "))")
        }
        return s
    }

    public func value(_ name: String) throws -> Value { try raw(name) }

    /// `int(name, in:)`, or nil when the parameter is absent.
    public func optionalInt(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        values[name] == nil ? nil : try int(name, in: range)
    }

    /// `double(name)`, or nil when the parameter is absent.
    public func optionalDouble(_ name: String) throws -> Double? {
        values[name] == nil ? nil : try double(name)
    }

    /// Rejects names the stage does not read, so a misspelt parameter cannot be silently ignored
    /// (it would still change the key, and nothing else).
    public func allowOnly(_ names: [String]) throws {
        for k in values.keys.sorted() where !names.contains(k) {
            throw StageParameterError(field: k, value: values[k]!.description,
                                      reason: "unknown parameter (known: \(names.sorted().joined(separator: ", ")))")
        }
    }
}
