import Pipeline

/// The pipeline's own end-to-end check (not a paper table): stories260K's perplexity on a
/// TinyStories excerpt at two context windows, one text, every stage the framework has today.
/// It runs in seconds under every profile (the profile only names the output files).
public enum TinyTable {
    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(.tiny)
        return Manifest(
            id: "tinytable", title: "stories260K perplexity on TinyStories by context window", profile: profile,
            seed: base.seed, model: base.model,
            rows: [RowSpec("stories260K fp32")],
            evaluations: [base.perplexity("ppl 32-token windows", window: 32), base.perplexity("ppl 128-token windows", window: 128)],
            claims: [ClaimSpec("context", "a longer context lowers a language model's perplexity", source: "textbook; sanity check",
                               better: .init("stories260K fp32", "ppl 128-token windows"),
                               worse: .init("stories260K fp32", "ppl 32-token windows"))],
            figureColumns: ["ppl 32-token windows", "ppl 128-token windows"],
            notes: ["A framework check, not a paper table: the text is a TinyStories excerpt (Experiments/Data/tinystories)."])
    }
}
