"""Positions as lmp computes them (runtime/attention/positions.ts, native rope kernels): RoPE
inverse frequencies with every scaling lmp has (linear, NTK, YaRN, truncated), ALiBi slopes,
position ids. Rotate-half convention (pairs d, d + D/2), cos/sin from float64 angles."""
import math

import numpy as np
import torch


def rope_frequencies(head_dim, base=10000.0, scaling=None):
    """(inv_freq float32 [D/2], mscale): ropeFrequencies of lmp.
    plain theta_i = base^(-2i/d); ntk: base * s^(d/(d-2)); linear: theta / s;
    yarn: r = L / (2 pi / theta), gamma = clamp((r - alpha)/(beta - alpha), 0, 1),
          theta' = (1 - gamma) theta / s + gamma theta, mscale = 0.1 ln s + 1;
    truncated (Giraffe): theta if theta >= b, rho if a < theta < b, else 0."""
    d = head_dim
    half = d // 2
    sc = scaling or {"kind": "none"}
    kind = sc["kind"]
    if kind == "ntk":
        base = base * math.pow(sc["factor"], d / (d - 2))
    inv = []
    for i in range(half):
        theta = math.pow(base, (-2 * i) / d)
        t = theta
        if kind == "linear":
            t = theta / sc["factor"]
        elif kind == "yarn":
            alpha, beta = sc.get("alpha", 1), sc.get("beta", 32)
            r = sc["originalLength"] / ((2 * math.pi) / theta)
            gamma = min(1.0, max(0.0, (r - alpha) / (beta - alpha)))
            t = (1 - gamma) * (theta / sc["factor"]) + gamma * theta
        elif kind == "truncated":
            t = theta if theta >= sc["b"] else (sc["rho"] if theta > sc["a"] else 0.0)
        inv.append(t)
    mscale = 0.1 * math.log(sc["factor"]) + 1 if kind == "yarn" else 1.0
    return np.asarray(inv, dtype=np.float32), mscale


def rope_cos_sin(positions, head_dim, base, scaling=None):
    """cos, sin float32 [..., D/2] for integer positions [...]. Unscaled RoPE uses float64 inverse
    frequencies (lmp's model kernel), scaled RoPE the float32 ones of rope_frequencies (and YaRN's
    multiplier folded into both), as lmp does."""
    half = head_dim // 2
    if not scaling or scaling["kind"] == "none":
        inv = torch.tensor([math.pow(base, -2.0 * i / head_dim) for i in range(half)], dtype=torch.float64)
        ms = 1.0
    else:
        inv_f32, ms = rope_frequencies(head_dim, base, scaling)
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
    out = torch.cat([a * c - b * s, b * c + a * s], dim=-1)
    return out


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
    start = torch.zeros_like(docs)
    change = torch.ones_like(docs, dtype=torch.bool)
    change[:, 1:] = docs[:, 1:] != docs[:, :-1]
    start = torch.where(change, idx, torch.zeros_like(idx))
    start = torch.cummax(start, dim=1).values
    return idx - start
