import Crypto
import Evaluation
import Foundation

/// The identity of a stage result: sha256 of its key components. Two stages with equal keys
/// compute the same thing, so one result serves both (across manifests, runs and machines).
public struct StageKey: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let hex: String

    public init(hex: String) { self.hex = hex }
    public var description: String { hex }
    /// The first 12 hex digits, for people.
    public var short: String { String(hex.prefix(12)) }
    public static func < (a: StageKey, b: StageKey) -> Bool { a.hex < b.hex }
}

/// Everything a stage's result depends on, flattened to named canonical strings:
/// `kind`, `version`, `seed`, `parameter.<name>` (a settings field's canonical JSON),
/// `input.<name>` (an upstream key) and
/// `file.<name>` (a content sha256). Never a name or a path: renaming a file or a manifest
/// leaves keys alone, editing a byte of data changes them. Stored per stage so `qaft why` can
/// name the component that changed.
public struct KeyComponents: Codable, Equatable, Sendable {
    public private(set) var entries: [String: String]

    public init(kind: String, version: String, seed: UInt64, settings: CanonicalSettings,
                inputs: [String: StageKey], files: [String: String]) {
        var e = ["kind": kind, "version": version, "seed": String(seed)]
        for (k, v) in settings.fields { e["parameter." + k] = v }
        for (k, v) in inputs { e["input." + k] = v.hex }
        for (k, v) in files { e["file." + k] = v }
        entries = e
    }

    /// sha256 over the sorted `name=value` lines (values are canonical: settings fields as canonical JSON).
    public var key: StageKey {
        var h = SHA256()
        for name in entries.keys.sorted() {
            h.update(data: Data((name + "=" + entries[name]! + "\n").utf8))
        }
        return StageKey(hex: Checksum.hex(h.finalize()))
    }

    /// One component that differs between two versions of a stage's key.
    public struct Change: Equatable, Sendable, CustomStringConvertible {
        public let component: String
        public let old: String?
        public let new: String?
        public var description: String {
            switch (old, new) {
            case (nil, let n?): return "\(component) added (\(n))"
            case (let o?, nil): return "\(component) removed (was \(o))"
            default: return "\(component): \(old!) → \(new!)"
            }
        }
    }

    /// The components that differ from `previous`, sorted by name.
    public func changes(since previous: KeyComponents) -> [Change] {
        Set(entries.keys).union(previous.entries.keys).sorted().compactMap { name in
            let o = previous.entries[name], n = entries[name]
            return o == n ? nil : Change(component: name, old: o, new: n)
        }
    }
}
