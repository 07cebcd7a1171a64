/// The bit layout of packed codes, chosen for the decode GEMV (one output row per SIMD lane).
///
/// Rows are grouped in tiles of 16 (the last tile padded with zero rows) and columns in chunks of
/// 32 (the last chunk padded with zero codes). The codes of one (tile, chunk) block are `bits`
/// consecutive `SIMD16<UInt32>` vectors: lane i of those vectors holds row 16·tile + i's 32 codes as
/// one 32·bits-bit little-endian stream, code j at bits bits·j … bits·j + bits − 1. Blocks are
/// stored tile by tile, chunks in column order. Every width 2…8 is dense (32 codes in `bits` words).
///
/// Why this layout: a code that does not straddle two words is isolated by a single AND with a
/// shifted mask, which leaves code·2^o (o its bit offset); converted to float that is exact, and
/// the kernels fold 2^−o into x instead of shifting. So a 4-bit weight costs an AND, a conversion
/// and an FMA whose x operand is a memory broadcast, with no shuffles, for 16 rows at once.
public enum BitPacking {
    public static let tileRows = 16
    public static let chunkCodes = 32
    public static let supportedBits = 2...8

    public static func paddedRows(_ rows: Int) -> Int { (rows + tileRows - 1) / tileRows * tileRows }
    public static func paddedCols(_ cols: Int) -> Int { (cols + chunkCodes - 1) / chunkCodes * chunkCodes }

    /// UInt32 words of a whole (rows, cols) matrix.
    public static func wordCount(rows: Int, cols: Int, bits: Int) -> Int {
        paddedRows(rows) * paddedCols(cols) / chunkCodes * bits
    }

    /// Index of the first word of block (tile, chunk) for a matrix with `chunks` column chunks.
    @inline(__always)
    static func blockOffset(tile: Int, chunk: Int, chunks: Int, bits: Int) -> Int {
        (tile * chunks + chunk) * bits * tileRows
    }

    /// Word index (within a block's lane) and bit offset of code j, and whether it runs into the next word.
    @inline(__always)
    static func position(_ j: Int, bits: Int) -> (word: Int, offset: Int, straddles: Bool) {
        let bit = bits * j
        return (bit >> 5, bit & 31, (bit & 31) + bits > 32)
    }

    /// The power of two a decoded field carries: 2^offset when the code sits inside one word (it is
    /// masked in place), 1 when it straddles (it is shifted down), 2^(offset−1) for the word's top
    /// field (shifted down one bit, so every decoded field stays below 2³¹ and converts as a
    /// signed integer: AVX2 has no unsigned conversion and emulates it in five instructions).
    @inline(__always)
    static func fieldShift(_ j: Int, bits: Int) -> Int {
        let p = position(j, bits: bits)
        return p.straddles ? 0 : p.offset + bits == 32 ? p.offset - 1 : p.offset
    }

    /// Stores `code` (< 2^bits) at (row, col) in zero-initialised `words`.
    static func set(_ code: UInt32, row: Int, col: Int, cols: Int, bits: Int, in words: UnsafeMutablePointer<UInt32>) {
        let base = blockOffset(tile: row / tileRows, chunk: col / chunkCodes, chunks: paddedCols(cols) / chunkCodes, bits: bits)
            + row % tileRows
        let p = position(col % chunkCodes, bits: bits)
        words[base + tileRows * p.word] |= code << UInt32(p.offset)
        if p.straddles { words[base + tileRows * (p.word + 1)] |= code >> UInt32(32 - p.offset) }
    }

    /// The code at (row, col), one at a time (the reference the SIMD decoders are tested against).
    static func get(row: Int, col: Int, cols: Int, bits: Int, in words: UnsafePointer<UInt32>) -> UInt32 {
        let base = blockOffset(tile: row / tileRows, chunk: col / chunkCodes, chunks: paddedCols(cols) / chunkCodes, bits: bits)
            + row % tileRows
        let p = position(col % chunkCodes, bits: bits)
        var v = words[base + tileRows * p.word] >> UInt32(p.offset)
        if p.straddles { v |= words[base + tileRows * (p.word + 1)] << UInt32(32 - p.offset) }
        return v & ((1 << UInt32(bits)) - 1)
    }

    /// The first padding code (rows past `rows` in the last tile, columns past `cols` in the last
    /// chunk) that is not zero, with the index of its word; nil when all are zero. A nonzero one
    /// means the shape fields of a file do not match its codes.
    static func nonzeroPadding(in words: [UInt32], rows: Int, cols: Int, bits: Int) -> (row: Int, col: Int, word: Int)? {
        let pr = paddedRows(rows), pc = paddedCols(cols)
        return words.withUnsafeBufferPointer { w in
            for r in 0..<pr {
                for c in (r < rows ? cols : 0)..<pc where get(row: r, col: c, cols: cols, bits: bits, in: w.baseAddress!) != 0 {
                    let block = blockOffset(tile: r / tileRows, chunk: c / chunkCodes, chunks: pc / chunkCodes, bits: bits)
                    return (r, c, block + r % tileRows + tileRows * position(c % chunkCodes, bits: bits).word)
                }
            }
            return nil
        }
    }
}

/// A code width known at compile time, so the 32 fields of a block decode with constant masks
/// and shifts once the kernels are specialised.
protocol CodeWidth {
    static var bits: Int { get }
}

enum Width2: CodeWidth { static var bits: Int { 2 } }
enum Width3: CodeWidth { static var bits: Int { 3 } }
enum Width4: CodeWidth { static var bits: Int { 4 } }
enum Width5: CodeWidth { static var bits: Int { 5 } }
enum Width6: CodeWidth { static var bits: Int { 6 } }
enum Width7: CodeWidth { static var bits: Int { 7 } }
enum Width8: CodeWidth { static var bits: Int { 8 } }

extension CodeWidth {
    /// Field j (0…31) of a block for 16 rows as floats: code·2^`fieldShift(j)` (< 2³¹), exact.
    @inline(__always)
    static func field(_ block: UnsafeRawPointer, _ j: Int) -> SIMD16<Float> {
        let p = BitPacking.position(j, bits: bits)
        let mask = UInt32((1 << bits) - 1)
        let lo = block.loadUnaligned(fromByteOffset: 64 * p.word, as: SIMD16<UInt32>.self)
        let v: SIMD16<UInt32>
        if p.straddles {
            let hi = block.loadUnaligned(fromByteOffset: 64 * (p.word + 1), as: SIMD16<UInt32>.self)
            v = ((lo &>> UInt32(p.offset)) | (hi &<< UInt32(32 - p.offset))) & mask
        } else if p.offset + bits == 32 {
            v = (lo &>> 1) & (mask << UInt32(p.offset - 1))
        } else {
            v = lo & (mask << UInt32(p.offset))
        }
        return VectorOps.convert(v)
    }
}
