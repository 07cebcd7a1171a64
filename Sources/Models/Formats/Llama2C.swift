import Foundation
import Tensor

/// karpathy's llama2.c checkpoint, legacy (v0) format: seven int32 header fields (dim, hidden,
/// layers, heads, kv heads, vocab, seq_len; a negative vocab means the classifier is not tied),
/// then float32 arrays stacked over layers, the RoPE tables (unused: qaft computes RoPE itself),
/// and the classifier when untied. llama2.c permutes Q/K rows like llama.cpp, so RoPE is
/// interleaved; base 10000 and RMSNorm eps 1e-5 are fixed by llama2.c's run.c.
public enum Llama2C {
    /// First word of the versioned llama2.c formats (v1, v2), which are not supported.
    static let versionedMagic: UInt32 = 0x616b_3432

    /// The model shape from the 28-byte header alone.
    public static func config(contentsOf url: URL) throws -> LlamaConfig {
        var r = ByteReader(try MappedFile(url))
        return try readHeader(&r)
    }

    /// All weights; the file size must match the header exactly.
    public static func weights(contentsOf url: URL) throws -> LlamaWeights {
        let file = try MappedFile(url)
        let path = file.path
        var r = ByteReader(file)
        let c = try readHeader(&r)

        func byteCount(_ name: String, _ shape: [Int]) throws -> Int {
            guard let n = checkedProduct(shape), case let (bytes, overflow) = n.multipliedReportingOverflow(by: 4), !overflow else {
                throw ModelFormatError.corrupt(file: path, what: "header", offset: 0, reason: "\(name) of shape \(shape) is absurdly large")
            }
            return bytes
        }
        /// The next `shape` floats; each stacked array is read whole so a truncation names it.
        func take(_ name: String, _ shape: Int...) throws -> [Float] {
            let src = try r.bytes(try byteCount(name, shape), name)
            let n = src.count / 4
            return [Float](unsafeUninitializedCapacity: n) { buf, count in
                if let s = src.baseAddress, let d = buf.baseAddress { Dequantize.f32(s, d, count: n) }
                count = n
            }
        }
        /// The next stacked [layers × rows × cols] array, split into one (rows, cols) matrix per layer.
        func perLayer(_ name: String, _ rows: Int, _ cols: Int) throws -> [Matrix] {
            let a = try take(name, c.layerCount, rows, cols)
            let n = rows * cols
            return (0..<c.layerCount).map { Matrix(rows: rows, cols: cols, storage: Array(a[($0 * n)..<(($0 + 1) * n)])) }
        }

        let embedding = try take("token_embedding_table", c.vocabSize, c.dim)
        let rmsAtt = try perLayer("rms_att_weight", 1, c.dim)
        let wq = try perLayer("wq", c.dim, c.dim)
        let wk = try perLayer("wk", c.kvDim, c.dim)
        let wv = try perLayer("wv", c.kvDim, c.dim)
        let wo = try perLayer("wo", c.dim, c.dim)
        let rmsFfn = try perLayer("rms_ffn_weight", 1, c.dim)
        let w1 = try perLayer("w1", c.hiddenDim, c.dim)
        let w2 = try perLayer("w2", c.dim, c.hiddenDim)
        let w3 = try perLayer("w3", c.hiddenDim, c.dim)
        let finalNorm = try take("rms_final_weight", c.dim)
        _ = try r.bytes(try byteCount("RoPE tables", [2, c.contextLength, c.headDim / 2]), "RoPE tables freq_cis_real/imag")
        let classifier = c.tiedEmbeddings ? nil : Matrix(rows: c.vocabSize, cols: c.dim, storage: try take("wcls", c.vocabSize, c.dim))
        if r.remaining != 0 {
            throw ModelFormatError.corrupt(file: path, what: "end of file", offset: r.offset,
                                           reason: "\(r.remaining) unexpected trailing bytes (header does not describe this file)")
        }

        let layers = (0..<c.layerCount).map { i in
            LlamaLayerWeights(attnNorm: rmsAtt[i].storage, wq: wq[i], wk: wk[i], wv: wv[i], wo: wo[i],
                              ffnNorm: rmsFfn[i].storage, gate: w1[i], up: w3[i], down: w2[i])
        }
        let weights = LlamaWeights(config: c, tokenEmbedding: Matrix(rows: c.vocabSize, cols: c.dim, storage: embedding),
                                   layers: layers, finalNorm: finalNorm, output: classifier)
        try weights.validateShapes(source: path)
        return weights
    }

    private static func readHeader(_ r: inout ByteReader) throws -> LlamaConfig {
        let path = r.file.path
        if let first = try? r.file.slice(0, 8, ""), first.loadUnaligned(as: UInt32.self) == versionedMagic {
            throw ModelFormatError.unsupportedVersion(file: path, version: Int(first.loadUnaligned(fromByteOffset: 4, as: Int32.self)))
        }
        var header: [Int] = []
        for field in ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"] {
            header.append(Int(try r.integer(Int32.self, "header field \(field)")))
        }
        let vocab = header[5]
        let config = LlamaConfig(
            dim: header[0], hiddenDim: header[1], layerCount: header[2], headCount: header[3], kvHeadCount: header[4],
            vocabSize: abs(vocab), contextLength: header[6], ropeTheta: 10000, normEps: 1e-5,
            ropeStyle: .interleaved, tiedEmbeddings: vocab > 0)
        try config.validate(source: path)
        return config
    }
}
