"""Attention as lmp's fused kernels compute it (runtime/attention/README.md, exact forms):

  s = scale * q.k, scale = 1/sqrt(D) / temperature       (TempScale)
  softcap c:  s = c tanh(s / c)
  ALiBi:      s -= slope_h * min(|qpos - kvpos|, limit)   (sequence positions)
  softmax over visible keys; or Softplus attention: u = softplus(lambda_i s)^power, p = u / sum u,
              lambda_i = max(1, ln(qpos + 1) / ln(trainLength))
  RoPE with an LM-Infinite limit L (in the op): pairs with qpos - kvpos > L score (R(L) q) . k
  A row that sees no key outputs 0.

Three paths, chosen per run and printed at start:
  sdpa          torch's scaled_dot_product_attention with a dense boolean (or ALiBi float) mask;
                what cannot be written so (softcap, softplus, a RoPE limit) runs the same formulas
                as plain tensor math ("dense"). CPU training and the tests.
  flex          FlexAttention (eager): mask_mods + score_mods + a BlockMask.
  flex-compiled FlexAttention under torch.compile (GPU training; CPU inference).
"""
import math

import torch
import torch.nn.functional as F

from . import LmpxError
from . import masks as M
from .positions import alibi_slopes, apply_rope, rope_cos_sin

PATHS = ("sdpa", "flex", "flex-compiled")
_compiled = {}


class AttentionSettings:
    """What the model's attention block asks for (spec.json run.attention)."""

    def __init__(self, spec, heads, kv_heads, head_dim, rope_theta):
        self.mask = spec["mask"]  # AttentionMaskIR {default, groups}
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        score = spec.get("score") or {}
        self.temperature = float(score.get("temperature", 1.0))
        self.softcap = float(score.get("softcap", 0.0) or 0.0)
        sp = score.get("softplus")
        self.power = float(sp["power"]) if sp else 0.0
        tl = sp.get("trainLength") if sp else None
        self.log_len_base = math.log(tl) if (sp and tl is not None and tl != "Infinity" and tl != float("inf")) else math.inf
        pos = spec["position"]
        self.position = pos["kind"]
        self.scaling = pos.get("scaling") if pos["kind"] == "rope" else None
        self.limit = pos.get("limit")
        self.rope_theta = rope_theta
        # RoPE without a limit is applied by the model; with a limit and ALiBi inside the op
        self.rope_in_model = pos["kind"] == "rope" and not self.limit
        self.scale = (1.0 / math.sqrt(head_dim)) / self.temperature
        self.alibi = alibi_slopes(heads) if pos["kind"] == "alibi" else None
        self.alibi_limit = self.limit if pos["kind"] == "alibi" and self.limit else math.inf
        self.uses_documents = M.attention_uses_documents(self.mask, heads)

    def plain_scores(self):
        return not self.softcap and not self.power and not (self.position == "rope" and self.limit)

    def describe(self, path):
        if path == "sdpa":
            if self.plain_scores():
                return "sdpa (scaled_dot_product_attention, dense boolean mask)" if self.alibi is None else "sdpa (scaled_dot_product_attention, dense ALiBi bias mask)"
            return "sdpa (dense tensor math: softcap/softplus/RoPE limit are not SDPA scores)"
        return path


class AttentionContext:
    """Per batch: the mask in the form the path needs, query/key sequence positions, and in-op
    positions. q_offset: queries are the last positions (decoding after a cache)."""

    def __init__(self, settings, path, B, Q, KV, docs=None, positions=None, q_offset=0, tables=None, device=None):
        self.s, self.path, self.B, self.Q, self.KV, self.q_offset = settings, path, B, Q, KV, q_offset
        self.docs = docs if settings.uses_documents else None
        self.mask_mod = M.attention_mask_mod(settings.mask, settings.heads, self.docs, q_offset, device)
        self.device = device
        self.block_mask = None
        self.dense = None
        Bm = B if self.docs is not None else 1  # the mask is per sequence only when it reads documents
        if path == "sdpa":
            Hm = settings.heads if settings.mask["groups"] else 1
            self.dense = M.dense_mask(self.mask_mod, Bm, Hm, Q, KV, device)
        elif tables is not None and q_offset == 0 and Q == KV:
            self.block_mask = M.tables_block_mask(tables, settings.heads, KV, self.mask_mod, device)
        else:
            self.block_mask = M.computed_block_mask(self.mask_mod, Bm, settings.heads, Q, KV, device)
        # in-op RoPE (limit): key positions, query positions = the last Q of them
        if settings.position == "rope" and settings.limit:
            if positions is None:
                positions = torch.arange(KV, device=device).expand(B, KV)
            self.cos, self.sin = rope_cos_sin(positions, settings.head_dim, settings.rope_theta, settings.scaling)
            self.qcos, self.qsin = self.cos[:, KV - Q:], self.sin[:, KV - Q:]
            L = torch.full((B, 1), int(settings.limit), device=device)
            self.fcos, self.fsin = rope_cos_sin(L, settings.head_dim, settings.rope_theta, settings.scaling)
            z = torch.zeros((B, 1), dtype=torch.int64, device=device)
            self.zcos, self.zsin = rope_cos_sin(z, settings.head_dim, settings.rope_theta, settings.scaling)


def _expand_kv(x, heads):
    rep = heads // x.shape[1]
    return x if rep == 1 else x.repeat_interleave(rep, dim=1)


def _seq_index(ctx):
    qi = torch.arange(ctx.Q, device=ctx.device).view(1, 1, ctx.Q, 1) + (ctx.KV - ctx.Q)
    kj = torch.arange(ctx.KV, device=ctx.device).view(1, 1, 1, ctx.KV)
    return qi, kj


def _alibi_bias(ctx, H, device):
    """ALiBi's -slope_h * min(|qpos - kvpos|, limit), [1, H, Q, KV] (sequence positions)."""
    qi, kj = _seq_index(ctx)
    dist = (qi - kj).abs().to(torch.float32).clamp(max=ctx.s.alibi_limit)
    return -ctx.s.alibi.to(device).view(1, H, 1, 1) * dist


def dense_attention(q, k, v, ctx):
    """The exact forms above as tensor math (float32). q [B, H, Q, D], k/v [B, Hkv, KV, D]."""
    s = ctx.s
    H = q.shape[1]
    k, v = _expand_kv(k, H), _expand_kv(v, H)
    qi, kj = _seq_index(ctx)
    if s.position == "rope" and s.limit:
        qr, kr = apply_rope(q, ctx.qcos, ctx.qsin), apply_rope(k, ctx.cos, ctx.sin)
        qf = apply_rope(q, ctx.fcos.expand(-1, ctx.Q, -1), ctx.fsin.expand(-1, ctx.Q, -1))
        kf = apply_rope(k, ctx.zcos.expand(-1, ctx.KV, -1), ctx.zsin.expand(-1, ctx.KV, -1))
        near = torch.matmul(qr, kr.transpose(-1, -2)) * s.scale
        far = torch.matmul(qf, kf.transpose(-1, -2)) * s.scale
        sc = torch.where((qi - kj) > int(s.limit), far, near)
    else:
        sc = torch.matmul(q, k.transpose(-1, -2)) * s.scale
    if s.softcap:
        sc = s.softcap * torch.tanh(sc / s.softcap)
    if s.alibi is not None:
        sc = sc + _alibi_bias(ctx, H, sc.device)
    vis = ctx.dense
    any_vis = vis.any(dim=-1, keepdim=True)
    if s.power > 0:
        lam = torch.clamp(torch.log(qi.to(torch.float32) + 1) / s.log_len_base, min=1.0)
        u = F.softplus(sc * lam).pow(s.power)
        u = torch.where(vis, u, torch.zeros_like(u))
        tot = u.sum(dim=-1, keepdim=True)
        p = u / torch.where(tot > 0, tot, torch.ones_like(tot))
    else:
        sc = sc.masked_fill(~(vis | ~any_vis), float("-inf"))
        p = torch.softmax(sc, dim=-1)
        p = torch.where(any_vis, p, torch.zeros_like(p))
    return torch.matmul(p, v)


def sdpa_attention(q, k, v, ctx):
    s = ctx.s
    if not s.plain_scores():
        return dense_attention(q, k, v, ctx)
    H = q.shape[1]
    k, v = _expand_kv(k, H), _expand_kv(v, H)
    vis = ctx.dense
    any_vis = vis.any(dim=-1, keepdim=True)
    safe = vis | ~any_vis  # a row with no key attends everywhere, then outputs 0 (no NaN)
    if s.alibi is not None:
        mask = _alibi_bias(ctx, H, q.device).masked_fill(~safe, float("-inf"))
    else:
        mask = safe
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=s.scale)
    return torch.where(any_vis, out, torch.zeros_like(out))


def _score_mod(ctx):
    s = ctx.s
    off = ctx.KV - ctx.Q
    slopes = s.alibi.to(ctx.device) if s.alibi is not None else None
    cap, power, base, limit = s.softcap, s.power, s.log_len_base, s.alibi_limit
    if not cap and slopes is None and not power:
        return None

    def mod(score, b, h, q_idx, kv_idx):
        x = score
        if cap:
            x = cap * torch.tanh(x / cap)
        if slopes is not None:
            d = (q_idx + off - kv_idx).abs().to(torch.float32)
            x = x - slopes[h] * torch.clamp(d, max=limit)
        if power:
            lam = torch.clamp(torch.log((q_idx + off).to(torch.float32) + 1) / base, min=1.0)
            # softmax(power * log softplus(lam s)) = softplus(lam s)^power / sum
            x = power * torch.log(F.softplus(x * lam))
        return x

    return mod


def flex_attention(q, k, v, ctx, compiled=False):
    from torch.nn.attention.flex_attention import flex_attention as fa

    s = ctx.s
    if s.position == "rope" and s.limit:
        raise LmpxError("LMP_E_EXPORT_FLEX", "RoPE with a distance limit pairs two rotations per score; run it with --attention sdpa")
    fn = fa
    if compiled:
        fn = _compiled.get("fa")
        if fn is None:
            fn = _compiled["fa"] = torch.compile(fa, dynamic=False)
    return fn(q, k, v, score_mod=_score_mod(ctx), block_mask=ctx.block_mask, scale=s.scale, enable_gqa=q.shape[1] != k.shape[1])


def attend(q, k, v, ctx):
    if ctx.path == "sdpa":
        return sdpa_attention(q, k, v, ctx)
    return flex_attention(q, k, v, ctx, compiled=ctx.path == "flex-compiled")


def choose_path(requested, device, training):
    """auto: training on a GPU -> flex-compiled; otherwise sdpa (CPU training; generation, whose
    query and key lengths change every step and would recompile a compiled kernel each time)."""
    if requested and requested != "auto":
        if requested not in PATHS:
            raise LmpxError("LMP_E_USAGE", f"--attention must be one of auto, {', '.join(PATHS)}")
        return requested
    return "flex-compiled" if training and str(device).startswith("cuda") else "sdpa"
