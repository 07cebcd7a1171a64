import Pipeline

/// The 3-bit counterpart of `Table2` (L4Q Table 3, LoTA-QAF Table 1's 3-bit rows): the same rows
/// and columns at 3 bits, where the methods separate most (3-bit g64 RTN moves SmolLM2's
/// WikiText-2 perplexity from 29 to 94). QLoRA's NF4 row has no 3-bit form and is left out.
public enum Table3 {
    public static func manifest(_ profile: Profile) -> Manifest { Table2.manifest(bits: 3, id: "table3", profile) }
}
