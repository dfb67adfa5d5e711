"""Independent check of lmp's `typical` against Hugging Face's TypicalLogitsWarper.

Writes cases (logits with heavy ties: bf16-rounded, 8- and 4-bit quantized) and the token ids the
warper keeps to a JSON file; bench/sampling/hf-typical.mjs runs the native chain on the same logits
and compares. Not part of the test suite (it needs torch and transformers):

    python -m venv /tmp/hf && /tmp/hf/bin/pip install torch transformers
    /tmp/hf/bin/python bench/sampling/hf_typical.py /tmp/hf-typical.json
    node bench/sampling/hf-typical.mjs /tmp/hf-typical.json

The warper runs on float32 scores (generate() upcasts the last logits to float32 before the
processors), holding the bf16 / quantized values exactly.
"""

import json
import sys

import torch
from transformers.generation.logits_process import TypicalLogitsWarper


def quantize(x: torch.Tensor, levels: int) -> torch.Tensor:
    s = x.abs().max() / levels
    return torch.round(x / s) * s


def main() -> None:
    out_path = sys.argv[1] if len(sys.argv) > 1 else "hf-typical.json"
    g = torch.Generator().manual_seed(1234)
    cases = []
    for V in (1000, 1023, 16385, 50257, 131075):
        for rep in range(3):
            raw = 3.0 * torch.randn(V, generator=g)
            peaked = 10.0 + 0.5 * torch.randn(V, generator=g)
            kinds = {
                "bf16 normal(0,3)": raw.to(torch.bfloat16).to(torch.float32),
                "bf16 10+normal(0,0.5)": peaked.to(torch.bfloat16).to(torch.float32),
                "int8": quantize(raw, 127),
                "int4": quantize(raw, 7),
                "f32": raw,
            }
            for kind, x in kinds.items():
                for mass in (0.2, 0.5, 0.9, 0.95):
                    w = TypicalLogitsWarper(mass=mass)
                    kept = torch.nonzero(torch.isfinite(w(None, x.view(1, -1).clone()).view(-1))).view(-1)
                    cases.append({"name": f"V={V} {kind} #{rep}", "p": mass, "logits": x.tolist(), "hf_kept": kept.tolist()})
    with open(out_path, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f)
    print(f"{len(cases)} cases -> {out_path}")


if __name__ == "__main__":
    main()
