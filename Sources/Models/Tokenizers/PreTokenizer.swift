/// Hugging Face's pre-tokenizers: the steps that cut (and for Metaspace and ByteLevel's prefix
/// space, rewrite) the normalized text into the words BPE merges within. Each step applies to
/// every piece the previous steps produced, as a `Sequence` does; empty pieces are dropped.
///
/// ByteLevel's mapping of bytes to printable scalars is not performed: pieces stay raw bytes and
/// the model looks tokens up by the bytes they stand for (`BPEModel`), which is equivalent as long
/// as ByteLevel is the last step (tokenizer.json readers reject anything after it).
struct PreTokenizer: Sendable {
    enum PrependScheme: String, Sendable { case always, first, never }

    enum Step: Sendable {
        /// Split and Digits.
        case split(SplitPattern, SplitBehavior, inverted: Bool)
        /// Spaces become `replacement`, which is also put in front of a piece (always, never, or
        /// only of the text's first piece) that does not start with it; then optionally each
        /// `replacement` starts a new piece.
        case metaspace(replacement: [UInt8], prepend: PrependScheme, split: Bool)
        /// A space in front of every piece that lacks one (`addPrefixSpace`), then GPT-2's split
        /// (`useRegex`).
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    }

    let steps: [Step]

    /// Whether the words are byte-level (the last step is ByteLevel): the model then maps each
    /// byte to its own symbol instead of each character.
    var isByteLevel: Bool {
        if case .byteLevel? = steps.last { return true }
        return false
    }

    /// The pieces of one stretch of text: byte ranges into `arena`, which holds the text and any
    /// rewritten pieces, and whether each piece starts the whole text (Metaspace's "first").
    struct Pieces {
        var arena: [UInt8] = []
        var starts: [Int32] = []
        var ends: [Int32] = []
        var first: [Bool] = []
        var count: Int { starts.count }

        fileprivate var next = (starts: [Int32](), ends: [Int32](), first: [Bool]())
        fileprivate var stretches: [SplitPattern.Match] = []
        fileprivate var rewritten: [UInt8] = []
        fileprivate var scratch = SplitPattern.Scratch()

        fileprivate mutating func add(_ start: Int32, _ end: Int32, first: Bool) {
            guard start < end else { return }
            next.starts.append(start)
            next.ends.append(end)
            next.first.append(first)
        }

        /// Appends `rewritten` to the arena as a new piece.
        fileprivate mutating func addRewritten(first: Bool) {
            let start = Int32(arena.count)
            arena.append(contentsOf: rewritten)
            add(start, Int32(arena.count), first: first)
        }
    }

    /// Fills `pieces` with the words of `text`; `startsText` tells whether `text` starts the
    /// whole input (no added token before it).
    func split(_ text: UnsafeBufferPointer<UInt8>, startsText: Bool, into pieces: inout Pieces) {
        pieces.arena.removeAll(keepingCapacity: true)
        pieces.arena.append(contentsOf: text)
        pieces.starts.removeAll(keepingCapacity: true)
        pieces.ends.removeAll(keepingCapacity: true)
        pieces.first.removeAll(keepingCapacity: true)
        if !text.isEmpty {
            pieces.starts.append(0)
            pieces.ends.append(Int32(text.count))
            pieces.first.append(startsText)
        }
        for step in steps {
            pieces.next.starts.removeAll(keepingCapacity: true)
            pieces.next.ends.removeAll(keepingCapacity: true)
            pieces.next.first.removeAll(keepingCapacity: true)
            for i in 0..<pieces.count {
                apply(step, start: pieces.starts[i], end: pieces.ends[i], first: pieces.first[i], &pieces)
            }
            swap(&pieces.starts, &pieces.next.starts)
            swap(&pieces.ends, &pieces.next.ends)
            swap(&pieces.first, &pieces.next.first)
        }
    }

    private func apply(_ step: Step, start: Int32, end: Int32, first: Bool, _ p: inout Pieces) {
        switch step {
        case .split(let pattern, let behavior, let inverted):
            cut(start, end, first, pattern, behavior, inverted, &p)
        case .metaspace(let replacement, let prepend, let split):
            p.rewritten.removeAll(keepingCapacity: true)
            // A piece starting with a space starts with the replacement once spaces are replaced.
            let startsWithReplacement = p.arena[Int(start)] == 0x20 || p.arena[Int(start)..<Int(end)].starts(with: replacement)
            if !startsWithReplacement && (prepend == .always || (prepend == .first && first)) {
                p.rewritten.append(contentsOf: replacement)
            }
            for i in Int(start)..<Int(end) {
                if p.arena[i] == 0x20 { p.rewritten.append(contentsOf: replacement) } else { p.rewritten.append(p.arena[i]) }
            }
            guard split else { return p.addRewritten(first: first) }
            let rewrittenStart = Int32(p.arena.count)
            p.arena.append(contentsOf: p.rewritten)
            cut(rewrittenStart, Int32(p.arena.count), first, .literal(replacement), .mergedWithNext, false, &p)
        case .byteLevel(let addPrefixSpace, let useRegex):
            var (s, e) = (start, end)
            if addPrefixSpace && p.arena[Int(start)] != 0x20 {
                p.rewritten.removeAll(keepingCapacity: true)
                p.rewritten.append(0x20)
                p.rewritten.append(contentsOf: p.arena[Int(start)..<Int(end)])
                s = Int32(p.arena.count)
                p.arena.append(contentsOf: p.rewritten)
                e = Int32(p.arena.count)
            }
            if useRegex {
                cut(s, e, first, .known(.gpt2), .isolated, false, &p)
            } else {
                p.add(s, e, first: first)
            }
        }
    }

    /// Adds the pieces of arena bytes `start..<end` as cut by `pattern` and `behavior`.
    private func cut(_ start: Int32, _ end: Int32, _ first: Bool, _ pattern: SplitPattern, _ behavior: SplitBehavior,
                     _ inverted: Bool, _ p: inout Pieces) {
        p.stretches.removeAll(keepingCapacity: true)
        p.arena.withUnsafeBufferPointer { arena in
            pattern.stretches(UnsafeBufferPointer(rebasing: arena[Int(start)..<Int(end)]), scratch: &p.scratch, into: &p.stretches)
        }
        let stretches = p.stretches
        behavior.pieces(stretches, inverted: inverted) { s, e in
            p.add(start + s, start + e, first: first && s == 0)
        }
    }
}
