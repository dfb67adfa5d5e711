"""Test helper (compiler/export/torch.test.ts): the exported masks' dense forms. argv: package dir,
input JSON (cases: attention mask, heads, length, docs, lmpc's block tables or null), output JSON.
Per case: the mask_mods evaluated densely, the BlockMask from lmpc's tables (when given) and the
one create_block_mask builds, each expanded to elements, and what FlexAttention (eager) actually
attends to (q = k = 0 and v = identity: out[q, kv] > 0 exactly where kv is visible)."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
from torch.nn.attention.flex_attention import flex_attention  # noqa: E402

from lmpx import masks as M  # noqa: E402

cases = json.load(open(sys.argv[2]))
res = []
for c in cases:
    H, T = c["heads"], c["T"]
    docs = torch.tensor(c["docs"], dtype=torch.int64).view(1, T)
    mm = M.attention_mask_mod(c["mask"], H, docs if M.attention_uses_documents(c["mask"], H) else None)
    dense = M.dense_mask(mm, 1, H, T, T)
    def bits(x):
        return "".join("1" if b else "0" for b in x.reshape(-1).tolist())

    rec = {"name": c["name"], "dense": bits(dense)}
    bm = M.computed_block_mask(mm, 1, H, T, T)
    rec["created"] = bits(M.block_mask_dense(bm, mm, 1, H, T, T))
    if c["tables"] is not None:
        tb = M.tables_block_mask(c["tables"], H, T, mm)
        rec["tables"] = bits(M.block_mask_dense(tb, mm, 1, H, T, T))
        bm = tb
    if c["flex"]:
        z = torch.zeros(1, H, T, 16)
        v = torch.eye(T).view(1, 1, T, T).expand(1, H, T, T).contiguous()
        with torch.no_grad():
            o = flex_attention(z, torch.zeros(1, H, T, 16), v, block_mask=bm)
        rec["flex"] = bits(o > 0)
    res.append(rec)
json.dump(res, open(sys.argv[3], "w"))
