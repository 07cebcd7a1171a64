/// One measured cell of a table, with the paper's number for the same cell beside it.
public struct ResultRow: Sendable, Equatable {
    public var table: String
    public var profile: String
    /// Method row, e.g. "L4Q w3".
    public var row: String
    /// Evaluation column, e.g. "WikiText-2 ppl".
    public var column: String
    public var metric: String
    /// How the number was measured (windows, shots, subset).
    public var protocolName: String
    public var value: Double?
    public var stderr: Double?
    /// The paper's model for `paperValue` (ours is smaller; the numbers are for the pattern, not equality).
    public var paperModel: String?
    public var paperValue: Double?
    /// Table or figure id in the paper.
    public var paperSource: String?

    public init(table: String, profile: String, row: String, column: String, metric: String, protocolName: String,
                value: Double?, stderr: Double?, paperModel: String? = nil, paperValue: Double? = nil, paperSource: String? = nil) {
        self.table = table
        self.profile = profile
        self.row = row
        self.column = column
        self.metric = metric
        self.protocolName = protocolName
        self.value = value
        self.stderr = stderr
        self.paperModel = paperModel
        self.paperValue = paperValue
        self.paperSource = paperSource
    }
}
