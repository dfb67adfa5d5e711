"""Test helper: the exported RoPE tables (every scaling) applied to x [n, heads, headDim] at
positions, as lmp rotates it. argv: package dir, input JSON, output JSON."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402

from lmpx.positions import alibi_slopes, apply_rope, rope_cos_sin  # noqa: E402

res = []
for c in json.load(open(sys.argv[2])):
    n, H, D = c["n"], c["heads"], c["headDim"]
    x = torch.tensor(c["x"], dtype=torch.float32).view(1, n, H, D).transpose(1, 2)
    pos = torch.tensor(c["positions"], dtype=torch.int64).view(1, n)
    cos, sin = rope_cos_sin(pos, D, c["base"], c["scaling"])
    y = apply_rope(x, cos, sin).transpose(1, 2).reshape(-1).tolist()
    res.append({"name": c["name"], "y": y, "alibi": alibi_slopes(H).tolist()})
json.dump(res, open(sys.argv[3], "w"))
