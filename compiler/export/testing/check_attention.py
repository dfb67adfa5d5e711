"""Test helper (compiler/export/torch.test.ts): the exported attention paths on cases lmp's fused
kernels computed. argv: package dir (for lmpx), input JSON, output JSON. For each case: the sdpa
path (SDPA or dense math) forward and gradients for the given dout, and FlexAttention (eager)
forward where it applies."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402

from lmpx.attention import AttentionContext, AttentionSettings, flex_attention, sdpa_attention  # noqa: E402
from lmpx.positions import sequence_positions  # noqa: E402

cases = json.load(open(sys.argv[2]))
out = []
for c in cases:
    B, T, H, Hk, D = c["B"], c["T"], c["heads"], c["kvHeads"], c["headDim"]

    def bhtd(x, h):
        return torch.tensor(x, dtype=torch.float32).view(B, T, h, D).transpose(1, 2).contiguous()

    q, k, v, dout = bhtd(c["q"], H), bhtd(c["k"], Hk), bhtd(c["v"], Hk), bhtd(c["dout"], H)
    for t in (q, k, v):
        t.requires_grad_(True)
    docs = torch.tensor(c["docs"], dtype=torch.int64).view(B, T) if c["docs"] is not None else torch.zeros(B, T, dtype=torch.int64)
    s = AttentionSettings(c["spec"], H, Hk, D, c["base"])
    pos = sequence_positions(docs, c.get("restartPerDocument", False))
    ctx = AttentionContext(s, "sdpa", B, T, T, docs=docs, positions=pos)
    o = sdpa_attention(q, k, v, ctx)
    o.backward(dout)

    def flat(x):
        return x.detach().transpose(1, 2).reshape(-1).tolist()

    rec = {"name": c["name"], "out": flat(o), "dq": flat(q.grad), "dk": flat(k.grad), "dv": flat(v.grad), "path": s.describe("sdpa")}
    if not (s.position == "rope" and s.limit):
        fctx = AttentionContext(s, "flex", B, T, T, docs=docs, positions=pos, tables=c.get("tables"))
        with torch.no_grad():
            rec["flex"] = flat(flex_attention(q.detach(), k.detach(), v.detach(), fctx))
    if c.get("compiled"):
        # torch.compile(flex_attention): CPU inference (FlexAttention has no CPU backward)
        cctx = AttentionContext(s, "flex-compiled", B, T, T, docs=docs, positions=pos)
        with torch.no_grad():
            rec["compiled"] = flat(flex_attention(q.detach(), k.detach(), v.detach(), cctx, compiled=True))
    out.append(rec)
json.dump(out, open(sys.argv[3], "w"))
