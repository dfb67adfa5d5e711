"""Positions as lmp computes them (runtime/attention/positions.ts, native rope kernels): RoPE
inverse frequencies with every scaling lmp has (linear, NTK, dynamic NTK, YaRN, llama3, truncated), ALiBi slopes,
position ids. Rotate-half convention (pairs d, d + D/2), cos/sin from float64 angles."""
import math

import numpy as np
import torch


def rope_frequencies(head_dim, base=10000.0, scaling=None, length=None):
    """(inv_freq float32 [D/2], mscale): lmp's ropeFrequencies.
    plain theta_i = base^(-2i/d); ntk: base * s^(d/(d-2)); linear: theta / s;
    dynamic: base * max(1, s n / L - (s - 1))^(d/(d-2)), n = `length` (default L);
    yarn: gamma_i in [0, 1], theta' = (1 - gamma) theta / s + gamma theta, ramp 'ratio' (the paper:
          r = L / (2 pi / theta), gamma = clamp((r - alpha)/(beta - alpha), 0, 1)) or 'index' (the
          reference code / Hugging Face: linear in the index between where r = beta and r = alpha,
          floored/ceiled unless truncate is false); mscale = attentionFactor or 0.1 ln s + 1;
    llama3: w = 2 pi / theta; theta if w < L / hi; theta / s if w > L / lo; else the interpolation;
    truncated (Giraffe): theta if theta >= b, rho if a < theta < b, else 0."""
    d = head_dim
    half = d // 2
    sc = scaling or {"kind": "none"}
    kind = sc["kind"]
    if kind == "ntk":
        base = base * math.pow(sc["factor"], d / (d - 2))
    elif kind == "dynamic":
        L = sc["originalLength"]
        n = max(length if length is not None else L, L)
        base = base * math.pow((sc["factor"] * n) / L - (sc["factor"] - 1), d / (d - 2))
    lo = hi = 0.0
    if kind == "yarn" and sc.get("ramp") == "index":
        def c(r):
            return (d * math.log(sc["originalLength"] / (2 * math.pi * r))) / (2 * math.log(base))
        lo, hi = c(sc.get("beta", 32)), c(sc.get("alpha", 1))
        if sc.get("truncate", True):
            lo, hi = math.floor(lo), math.ceil(hi)
        lo, hi = max(lo, 0), min(hi, d - 1)
        if lo == hi:
            hi += 0.001
    inv = []
    for i in range(half):
        theta = math.pow(base, (-2 * i) / d)
        t = theta
        if kind == "linear":
            t = theta / sc["factor"]
        elif kind == "yarn":
            if sc.get("ramp") == "index":
                gamma = 1 - min(1.0, max(0.0, (i - lo) / (hi - lo)))
            else:
                alpha, beta = sc.get("alpha", 1), sc.get("beta", 32)
                r = sc["originalLength"] / ((2 * math.pi) / theta)
                gamma = min(1.0, max(0.0, (r - alpha) / (beta - alpha)))
            t = (1 - gamma) * (theta / sc["factor"]) + gamma * theta
        elif kind == "llama3":
            w = (2 * math.pi) / theta
            L = sc["originalLength"]
            if w > L / sc["lowFreqFactor"]:
                t = theta / sc["factor"]
            elif not (w < L / sc["highFreqFactor"]):
                m = (L / w - sc["lowFreqFactor"]) / (sc["highFreqFactor"] - sc["lowFreqFactor"])
                t = (1 - m) * (theta / sc["factor"]) + m * theta
        elif kind == "truncated":
            t = theta if theta >= sc["b"] else (sc["rho"] if theta > sc["a"] else 0.0)
        inv.append(t)
    mscale = 1.0
    if kind == "yarn":
        af = sc.get("attentionFactor")
        mscale = af if af is not None else 0.1 * math.log(sc["factor"]) + 1
    return np.asarray(inv, dtype=np.float32), mscale


def rope_cos_sin(positions, head_dim, base, scaling=None):
    """cos, sin float32 [..., D/2] for integer positions [...]. Unscaled RoPE (and dynamic NTK up to
    its original length) uses float64 inverse frequencies (lmp's model kernel), scaled RoPE the
    float32 ones of rope_frequencies (YaRN's multiplier folded into both), as lmp's rotate does.
    Dynamic NTK scales for the largest position + 1 of the call, as Hugging Face's `dynamic`."""
    half = head_dim // 2
    length = int(positions.max()) + 1 if positions.numel() else 0
    plain = not scaling or scaling["kind"] == "none" or (scaling["kind"] == "dynamic" and length <= scaling["originalLength"])
    if plain:
        inv = torch.tensor([math.pow(base, -2.0 * i / head_dim) for i in range(half)], dtype=torch.float64)
        ms = 1.0
    else:
        inv_f32, ms = rope_frequencies(head_dim, base, scaling, length if scaling["kind"] == "dynamic" else None)
        inv = torch.from_numpy(inv_f32).to(torch.float64)
    ang = positions.to(torch.float64).unsqueeze(-1) * inv.to(positions.device)
    cos, sin = torch.cos(ang).to(torch.float32), torch.sin(ang).to(torch.float32)
    if ms != 1.0:
        ms32 = torch.tensor(ms, dtype=torch.float32)
        cos, sin = cos * ms32, sin * ms32
    return cos, sin


def apply_rope(x, cos, sin):
    """x [B, H, T, D] rotated by cos/sin [B, T, D/2] (rotate-half)."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:2 * half]
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    return torch.cat([a * c - b * s, b * c + a * s], dim=-1)


def alibi_slopes(heads):
    """2^(-8h/H), h = 1..H for power-of-two H, else the standard interpolation (lmp's alibiSlopes)."""
    def pow2(n):
        return [math.pow(2, (-8 * (i + 1)) / n) for i in range(n)]
    if heads & (heads - 1) == 0:
        s = pow2(heads)
    else:
        n = 2 ** int(math.floor(math.log2(heads)))
        s = pow2(n) + [x for i, x in enumerate(pow2(2 * n)) if i % 2 == 0][: heads - n]
    return torch.tensor(np.asarray(s, dtype=np.float32))


def sequence_positions(docs, restart_per_document):
    """Index within the sequence [B, T], or within the document (docs change) when restarting."""
    B, T = docs.shape
    idx = torch.arange(T, device=docs.device).expand(B, T)
    if not restart_per_document:
        return idx.clone()
    change = torch.ones_like(docs, dtype=torch.bool)
    change[:, 1:] = docs[:, 1:] != docs[:, :-1]
    start = torch.where(change, idx, torch.zeros_like(idx))
    start = torch.cummax(start, dim=1).values
    return idx - start
