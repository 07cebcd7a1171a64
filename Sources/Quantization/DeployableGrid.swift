extension QuantizedMatrix {
    /// The grid in a form deployed runtimes compute exactly, changed as little as that needs: the
    /// finishing step of every method's export (`ExportedModel.makeDeployable`), since training
    /// learns scales and zeros in float32.
    ///
    /// * Integer zeros (every group): each scale rounded as the quantizers round theirs
    ///   (`GridParameters.deployable(bits:)`), so GPTQ's fp16 product and llama.cpp's Q4_0/Q4_1/Q8_0
    ///   blocks give the same weights. (PEQA's and OmniQuant's learned scales.)
    /// * A fractional zero at ≤ 4 bits (L4Q's and the LSQ rows' learned offsets, QA-LoRA's and
    ///   LoTA-QAF's merged zeros): d = fp16(scale) and m = fp16(−scale·zero), the group's value at
    ///   code 0, stored as `offsets`, so w = d·code + m — llama.cpp's Q4_1 block, d·code being exact
    ///   in float32 — each weight moving by at most about 2⁻¹¹ of |d·code| + |m|. The zeros become
    ///   −m/d for the decode kernels.
    /// * A fractional zero above 4 bits has no exact llama.cpp or GPTQ form: the scale becomes fp16,
    ///   the zero stays, and export refuses it by name.
    ///
    /// Idempotent; non-finite scales or offsets (overflowing fp16) are left alone, for export to
    /// refuse by name.
    public func deployable() -> QuantizedMatrix {
        guard offsets == nil else { return self }
        var q = self
        let fractional = zeros.contains { $0 != $0.rounded() }
        if !fractional {
            for k in scales.indices { q.scales[k] = GridParameters(scale: scales[k], zero: zeros[k]).deployable(bits: bits).scale }
            return q
        }
        for k in scales.indices where Float16(scales[k]).isFinite { q.scales[k] = Float(Float16(scales[k])) }
        guard bits <= 4 else { return q }
        var offsets = [Float](repeating: 0, count: scales.count)
        for k in scales.indices {
            let d = q.scales[k], m = Float(Float16(scales[k] * (0 - zeros[k])))
            guard d.isFinite, d != 0, m.isFinite else { return self }
            offsets[k] = m
            q.zeros[k] = -m / d
        }
        q.offsets = offsets
        return q
    }
}
