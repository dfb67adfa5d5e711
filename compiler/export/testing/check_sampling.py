"""Test helper: the exported sampler chain's final distribution on fixed logits. argv: package dir,
input JSON ([{chain, logits, history, seed}]), output JSON ([distribution])."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402

from lmpx import sampling as S  # noqa: E402

res = []
for c in json.load(open(sys.argv[2])):
    x = torch.tensor([float("-inf") if v is None else v for v in c["logits"]], dtype=torch.float32).view(1, -1)
    req = S.Request(c["seed"], c["chain"], c["history"])
    res.append(S.distribution(x, c["chain"], req).tolist())
json.dump(res, open(sys.argv[3], "w"))
