"""Reference values for QuantizationTests, computed independently with NumPy.

gptq_*.json: a NumPy transcription of GPTQ_OWQ.fasterquant_reorder + Quantizer.find_params
(xvyaward/qeft @4315e2f, qeft/recon.py and qeft/quant.py), float32 weights, float64 Hessian, with
qaft's one addition: every scale made deployable (GridParameters.deployable, `deployable_scale` below)
after its zero point is chosen.
global_index.json: QEFT's global weak index (extract_outidx.py: S += h/mean(h); sorted(topk(S, k))).
Run once: python3 make_fixtures.py (writes the JSON files next to it).
"""
import json
import numpy as np

f32 = np.float32


def deployable_scale(scale, bits):
    """Scales with integer zeros rounded up to 11 - bits significant bits (fp16's quantum below 2^-14),
    so every scale * (code - zero) is an fp16 number."""
    p = 11 - bits if bits <= 4 else 11
    _, e = np.frexp(scale)  # scale = m * 2^e, m in [0.5, 1): Swift's exponent is e - 1
    quantum = np.ldexp(np.ones_like(scale), np.maximum(e - 1, -14) - (p - 1))
    return (np.ceil(scale / quantum) * quantum).astype(f32)


def find_params(x, bits, sym, mse, num):
    scale, zero = searched_params(x, bits, sym, mse, num)
    return deployable_scale(scale, bits), zero


def searched_params(x, bits, sym, mse, num):
    """Quantizer.find_params(weight=True, perchannel=True) on rows of x; returns (scale, zero) per row."""
    maxq = f32(2 ** bits - 1)
    minq_s, maxq_s = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    xmin = np.minimum(x.min(1), f32(0)).astype(f32)
    xmax = np.maximum(x.max(1), f32(0)).astype(f32)
    eps = f32(1e-8)
    if mse and not sym:
        xrange = (xmax - xmin).astype(f32)
        best = np.full(x.shape[0], f32(1e10), dtype=f32)
        bmin, bmax = xmin.copy(), xmax.copy()
        for i in range(1, num + 1):
            tmax = (xrange / f32(num) * f32(i)).astype(f32)
            scale = np.maximum(tmax / maxq, eps).astype(f32)
            xr = np.round(x / scale[:, None]).astype(f32)
            for zp in range(int(maxq) + 1):
                nmin = (-(f32(zp) * scale)).astype(f32)
                nmax = (tmax - f32(zp) * scale).astype(f32)
                zero = np.clip(-np.round(nmin / scale), 0, maxq).astype(f32)
                q = np.clip(xr + zero[:, None], 0, maxq)
                xq = scale[:, None] * (q - zero[:, None])
                score = (np.abs(x - xq) ** 2.4).mean(1)
                better = score < best
                bmin = np.where(better, nmin, bmin)
                bmax = np.where(better, nmax, bmax)
                best = np.minimum(best, score)
        lo, hi = np.minimum(bmin, 0).astype(f32), np.maximum(bmax, 0).astype(f32)
        scale = np.maximum((hi - lo) / maxq, eps).astype(f32)
        zero = np.clip(-np.round(lo / scale), 0, maxq).astype(f32)
        return scale, zero
    assert not sym and not mse
    both0 = (xmin == 0) & (xmax == 0)
    xmin[both0], xmax[both0] = -1, 1
    scale = ((xmax - xmin) / maxq).astype(f32)
    return scale, np.round(-xmin / scale).astype(f32)


def quant(w, scale, zero, maxq):
    q = np.clip(np.round(w / scale) + zero, 0, maxq)
    return q, (scale * (q - zero)).astype(f32)


def gptq(W, H, bits, group, blocksize, weak, mse):
    rows, cols = W.shape
    n_out = len(weak)
    nq = cols - n_out
    mask = np.ones(cols, bool)
    mask[weak] = False
    ids = np.concatenate([np.arange(cols)[mask], np.array(weak, dtype=int)])
    W = W[:, ids].astype(f32).copy()
    H = H[ids][:, ids].copy()
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H[np.diag_indices(cols)] += 0.01 * np.mean(np.diag(H))
    L = np.linalg.cholesky(H)
    Hinv = np.linalg.inv(L).T @ np.linalg.inv(L)
    U = np.linalg.cholesky(Hinv).T.astype(f32)
    maxq = f32(2 ** bits - 1)
    codes = np.zeros((rows, nq), dtype=int)
    scales, zeros = [], []
    for i1 in range(0, nq, blocksize):
        i2 = min(i1 + blocksize, nq)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        for i in range(i2 - i1):
            c = i1 + i
            if c % group == 0:
                s, z = find_params(W[:, c:min(c + group, nq)], bits, False, mse, 40)
                scales.append(s); zeros.append(z)
            w = W1[:, i]
            q, deq = quant(w, s, z, maxq)
            codes[:, c] = q
            err = ((w - deq) / U[c, c]).astype(f32)
            W1[:, i:] -= np.outer(err, U[c, c:i2]).astype(f32)
            Err1[:, i] = err
        W[:, i2:] -= (Err1 @ U[i1:i2, i2:]).astype(f32)
    return codes, np.stack(scales, 1), np.stack(zeros, 1), W[:, nq:]


def main():
    rng = np.random.default_rng(1234)
    rows, cols, tokens = 32, 64, 256
    W = rng.standard_normal((rows, cols)).astype(f32) * f32(0.05)
    mix = rng.standard_normal((cols, cols)) * 0.3 + np.eye(cols)
    X = (rng.standard_normal((tokens, cols)) @ mix).astype(f32)
    X[:, 5] *= 8  # an outlier channel, as in LLM activations
    X[:, 40] = 0  # a dead input
    Xd = X.astype(np.float64)
    H = 2 / 4 * Xd.T @ Xd  # four batches of 64 rows, one sample each (GPTQ's counting)
    cases = [
        ("gptq_w4g16_minmax", dict(bits=4, group=16, blocksize=128, weak=[], mse=False)),
        ("gptq_w3g16_owq_weak", dict(bits=3, group=16, blocksize=32, weak=[3, 5, 17, 40, 50, 63], mse=True)),
    ]
    for name, c in cases:
        codes, s, z, weak = gptq(W, H, c["bits"], c["group"], c["blocksize"], c["weak"], c["mse"])
        json.dump(dict(rows=rows, cols=cols, tokens=tokens, W=W.ravel().tolist(), X=X.ravel().tolist(),
                       bits=c["bits"], group=c["group"], blocksize=c["blocksize"], weak=c["weak"], lp=c["mse"],
                       codes=codes.ravel().tolist(), scales=s.ravel().tolist(), zeros=z.ravel().tolist(),
                       weakBlock=weak.ravel().tolist()), open(f"{name}.json", "w"))
    layers, dim, k = 12, 96, 8
    diags = [rng.gamma(2.0, 1.0 + l, dim) * np.where(np.arange(dim) % 17 == 3, 20.0, 1.0) for l in range(layers)]
    S = sum(d / d.mean() for d in diags)
    idx = sorted(np.argsort(-S, kind="stable")[:k].tolist())
    json.dump(dict(k=k, diagonals=[d.tolist() for d in diags], index=idx), open("global_index.json", "w"))


if __name__ == "__main__":
    main()
