"""lmp's mask IR (runtime/mask/ir.ts) as FlexAttention mask_mods, their dense forms, and the
BlockMask: from lmpc's own block tables (computed at export time by lmp's classifier for each
bucket length) with BlockMask.from_kv_blocks, or create_block_mask where the mask depends on the
batch's document layout and cannot be tabulated.

A mask_mod is (b, h, q_idx, kv_idx) -> bool with q_idx, kv_idx positions in one packed sequence.
The same functions evaluate densely (broadcast index tensors) and inside FlexAttention (vmap)."""
import json

import torch

from . import LmpxError


def _primitive(node, docs):
    op = node["op"]
    if op == "full":
        return lambda b, h, q, kv: (q >= 0) & (kv >= 0)
    if op == "causal":
        return lambda b, h, q, kv: kv <= q
    if op == "window":
        w = int(node["size"])
        return lambda b, h, q, kv: (q - kv) < w
    if op == "sink":
        g = int(node["count"])
        return lambda b, h, q, kv: (kv < g) & (q >= 0)
    if op == "prefix":
        p = int(node["length"])
        return lambda b, h, q, kv: (kv < p) | (kv <= q)
    if op == "chunked":
        c = int(node["size"])
        return lambda b, h, q, kv: torch.div(q, c, rounding_mode="floor") == torch.div(kv, c, rounding_mode="floor")
    if op == "same_document":
        if docs is None:
            return lambda b, h, q, kv: (q >= 0) & (kv >= 0)
        return lambda b, h, q, kv: docs[b, q] == docs[b, kv]
    raise LmpxError("LMP_E_EXPORT_MASK", f"unknown mask op {op!r}")


def mask_mod_of(node, docs=None):
    """The mask_mod of one MaskIR tree; `docs` [B, S] document ids (None: one document)."""
    from torch.nn.attention.flex_attention import and_masks, or_masks

    op = node["op"]
    if op == "and":
        return and_masks(*[mask_mod_of(a, docs) for a in node["args"]])
    if op == "or":
        return or_masks(*[mask_mod_of(a, docs) for a in node["args"]])
    if op == "not":
        inner = mask_mod_of(node["arg"], docs)
        return lambda b, h, q, kv: ~inner(b, h, q, kv)
    return _primitive(node, docs)


def uses_documents(node):
    op = node["op"]
    if op == "same_document":
        return True
    if op in ("and", "or"):
        return any(uses_documents(a) for a in node["args"])
    if op == "not":
        return uses_documents(node["arg"])
    return False


def attention_uses_documents(attn, heads):
    """Whether any head's mask reads the batch's document ids."""
    return any(uses_documents(m) for m in head_groups(attn, heads)[0])


def mask_for_head(attn, h):
    for g in attn["groups"]:
        if g["from"] <= h <= g["to"]:
            return g["mask"]
    return attn["default"] or {"op": "full"}


def head_groups(attn, heads):
    """(distinct masks, group index per head), as lmp's headGroups."""
    masks, keys, hg = [], [], []
    for h in range(heads):
        m = mask_for_head(attn, h)
        k = json.dumps(m, sort_keys=True)
        if k not in keys:
            keys.append(k)
            masks.append(m)
        hg.append(keys.index(k))
    return masks, hg


def attention_mask_mod(attn, heads, docs=None, q_offset=0, device=None):
    """One mask_mod for every head of an attention (per-head groups selected by h); queries at
    absolute positions q_offset + q_idx (decoding after a cache)."""
    masks, hg = head_groups(attn, heads)
    mods = [mask_mod_of(m, docs) for m in masks]
    if len(mods) == 1:
        base = mods[0]
    else:
        group = torch.tensor(hg, dtype=torch.int64, device=docs.device if docs is not None else device)

        def base(b, h, q, kv):
            g = group[h]
            out = (g == 0) & mods[0](b, h, q, kv)
            for i in range(1, len(mods)):
                out = out | ((g == i) & mods[i](b, h, q, kv))
            return out
    if q_offset == 0:
        return base
    return lambda b, h, q, kv: base(b, h, q + q_offset, kv)


def dense_mask(mask_mod, B, H, Q, KV, device=None):
    """The mask_mod evaluated at every element: bool [B, H, Q, KV]."""
    b = torch.arange(B, device=device).view(B, 1, 1, 1)
    h = torch.arange(H, device=device).view(1, H, 1, 1)
    q = torch.arange(Q, device=device).view(1, 1, Q, 1)
    kv = torch.arange(KV, device=device).view(1, 1, 1, KV)
    return mask_mod(b, h, q, kv).expand(B, H, Q, KV)


def tables_block_mask(tables, heads, length, mask_mod, device=None):
    """BlockMask.from_kv_blocks from lmpc's block tables of one length: `tables` =
    {block, groups: [{kv_num_blocks [nQ], kv_indices [nQ][nK], full_kv_num_blocks, full_kv_indices}],
    head_group [H]} (lmp's classifier at the FlexAttention block size; broadcast over the batch)."""
    from torch.nn.attention.flex_attention import BlockMask

    def stack(key):
        return torch.tensor([tables["groups"][g][key] for g in tables["head_group"]], dtype=torch.int32, device=device).unsqueeze(0)

    return BlockMask.from_kv_blocks(stack("kv_num_blocks"), stack("kv_indices"), stack("full_kv_num_blocks"), stack("full_kv_indices"),
                                    BLOCK_SIZE=tables["block"], mask_mod=mask_mod, seq_lengths=(length, length))


def computed_block_mask(mask_mod, B, H, Q, KV, device=None, block=128):
    """The fallback: FlexAttention's create_block_mask (evaluates mask_mod over the whole plane)."""
    from torch.nn.attention.flex_attention import create_block_mask

    return create_block_mask(mask_mod, B, H, Q, KV, device=device or "cpu", BLOCK_SIZE=block)


def block_mask_dense(bm, mask_mod, B, H, Q, KV):
    """The element-level mask a BlockMask makes FlexAttention apply: full blocks visible, partial
    blocks through mask_mod, absent blocks masked."""
    kv_num, kv_idx = bm.kv_num_blocks, bm.kv_indices
    fnum, fidx = bm.full_kv_num_blocks, bm.full_kv_indices
    bq, bk = bm.BLOCK_SIZE
    nQ, nK = -(-Q // bq), -(-KV // bk)
    out = torch.zeros(B, H, Q, KV, dtype=torch.bool)
    dense = dense_mask(mask_mod, B, H, Q, KV)
    for b in range(B):
        for h in range(H):
            bb, hh = min(b, kv_num.shape[0] - 1), min(h, kv_num.shape[1] - 1)
            for a in range(nQ):
                qs = slice(a * bq, min(Q, (a + 1) * bq))
                for i in range(int(kv_num[bb, hh, a])):
                    c = int(kv_idx[bb, hh, a, i])
                    ks = slice(c * bk, min(KV, (c + 1) * bk))
                    out[b, h, qs, ks] |= dense[b, h, qs, ks]
                if fnum is not None:
                    for i in range(int(fnum[bb, hh, a])):
                        c = int(fidx[bb, hh, a, i])
                        out[b, h, qs, c * bk:min(KV, (c + 1) * bk)] = True
    return out
