/// The exact-match rule LoTA-QAF's task-specific evaluator takes from HALO for GSM8K
/// (`evalGSV.py`, `is_correct`; spec/lota-qaf.md §3):
/// `pred.strip().split('####')[-1].strip() == label.strip().split('####')[-1].strip()`.
///
/// Nothing else is normalised, as in the reference: "1,000" ≠ "1000", "$18" ≠ "18", "18.0" ≠ "18".
/// A prediction without the marker is compared whole, so a bare "18" matches "… #### 18".
public enum FinalAnswer {
    /// What separates the worked solution from the final answer in GSM8K's references.
    public static let marker = "####"

    /// The text after the last marker (the whole text when there is none), stripped of surrounding
    /// whitespace as Python's `str.strip()` defines it.
    public static func extract(_ text: String) -> String {
        // `split` cuts at non-overlapping occurrences found left to right, so "#####7" leaves "#7":
        // a search from the right would find a later, overlapping occurrence and leave "7".
        let bytes = Array(text.utf8), needle = Array(marker.utf8)
        var start = 0, i = 0
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) {
                i += needle.count
                start = i
            } else {
                i += 1
            }
        }
        // The marker is ASCII, so `start` falls between two code points.
        return PythonText.strip(String(decoding: bytes[start...], as: UTF8.self))
    }

    /// Whether the two final answers are equal code point by code point (Python's `==` on `str`,
    /// not Swift's canonical equivalence).
    public static func matches(prediction: String, reference: String) -> Bool {
        extract(prediction).unicodeScalars.elementsEqual(extract(reference).unicodeScalars)
    }
}
