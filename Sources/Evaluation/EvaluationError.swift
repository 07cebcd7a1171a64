/// Every way evaluation data, a task request or a run can be unusable. Each case names the file and,
/// where it applies, the line and field, so the message alone says what to fix.
public enum EvaluationError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(file: String)
    case notInChecksumList(file: String, list: String)
    case checksumMismatch(file: String, expected: String, found: String)
    case malformedChecksumList(file: String, line: Int)
    case decompressionFailed(file: String, reason: String)
    case notUTF8(file: String, offset: Int)
    case malformedRecord(file: String, line: Int, field: String, reason: String)
    case unknownTask(name: String, known: [String])
    case fewShotUnavailable(task: String, requested: Int, available: Int)
    case subsetTooLarge(task: String, stratum: String, requested: Int, available: Int)
    case limitTooLarge(task: String, stratum: String, requested: Int, available: Int)
    case selectionNotApplicable(task: String, selection: String)
    case noPrefixToken(task: String)
    case corpusTooShort(task: String, tokens: Int, seqlen: Int)
    case scorerResultCount(expected: Int, found: Int)
    case missingTaskResult(task: String)
    case mismatchedRuns(reason: String)
    case journalMismatch(file: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let f):
            return "\(f): file not found"
        case .notInChecksumList(let f, let list):
            return "\(f): not listed in \(list), so it cannot be verified"
        case .checksumMismatch(let f, let e, let found):
            return "\(f): sha256 mismatch: expected \(e), found \(found) (file corrupted or replaced)"
        case .malformedChecksumList(let f, let line):
            return "\(f):\(line): expected '<64 hex digits>  <path>'"
        case .decompressionFailed(let f, let why):
            return "\(f): gzip decompression failed: \(why)"
        case .notUTF8(let f, let off):
            return "\(f): invalid UTF-8 at byte offset \(off)"
        case .malformedRecord(let f, let line, let field, let why):
            return "\(f):\(line): field '\(field)': \(why)"
        case .unknownTask(let name, let known):
            return "unknown task '\(name)'; known tasks: \(known.joined(separator: ", "))"
        case .fewShotUnavailable(let t, let req, let avail):
            return "\(t): \(req)-shot requested but only \(avail) exemplars are available"
        case .subsetTooLarge(let t, let s, let req, let avail):
            return "\(t): subset asks for \(req) items from '\(s)', which has only \(avail)"
        case .limitTooLarge(let t, let s, let req, let avail):
            return "\(t): --limit \(req) exceeds '\(s)', which has only \(avail) items"
        case .selectionNotApplicable(let t, let sel):
            return "\(t): \(sel) does not apply to this task"
        case .noPrefixToken(let t):
            return "\(t): the tokenizer has neither BOS nor EOS, so the first rolling window has no prefix token"
        case .corpusTooShort(let t, let n, let len):
            return "\(t): \(n) tokens do not fill one window of \(len)"
        case .scorerResultCount(let e, let f):
            return "scorer returned \(f) results for \(e) requests"
        case .missingTaskResult(let t):
            return "no result for task '\(t)', which this aggregate needs"
        case .mismatchedRuns(let why):
            return "runs cannot be paired: \(why)"
        case .journalMismatch(let f, let why):
            return "\(f): \(why)"
        }
    }
}
