"""The transformers side of the Hugging Face peer suite (peers/hf/run.mjs drives it).

  python hf_peer.py gen OUT       random tiny Llama checkpoints written by transformers'
                                  save_pretrained (OUT/hf-NAME/), each with case.json (its tokens)
                                  and transformers' logits: a full forward per length (ref-L.f32)
                                  and a KV-cached decode, one token a step (ref-decode.f32)
  python hf_peer.py logits DIR... checkpoints written by lmp's saveModel, loaded with
                                  AutoModelForCausalLM.from_pretrained (LlamaForCausalLM; a NoPE
                                  model SmolLM3ForCausalLM): logits of DIR/case.json's
                                  tokens into DIR/hf-L.f32 (and hf-decode.f32)
  python hf_peer.py refuses DIR... checkpoints transformers must not load (lmp's ALiBi models):
                                  DIR/refusals.json, what AutoModelForCausalLM and
                                  LlamaForCausalLM.from_pretrained raised (null: it loaded)

Logits are float32 [T, vocab], row-major. transformers computes in float32 (eager attention)
whatever the stored dtype, so a bfloat16 checkpoint is compared on its exact bf16 weights.
Warnings transformers logs while loading are written to DIR/warnings.json.
"""
import json
import logging
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

ARCH = dict(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_hidden_layers=2, vocab_size=101, rms_norm_eps=1e-5)
# theta 500000 (Llama 3), GQA and tied/untied across the cases; every rope type transformers and lmp share
CASES = [
    dict(name="default-mha-untied", kv=4, tie=False, theta=10000.0, max_pos=128, lengths=[48]),
    dict(name="default-gqa-tied-theta500k", kv=2, tie=True, theta=500000.0, max_pos=128, lengths=[48]),
    dict(name="default-gqa-bf16", kv=1, tie=False, theta=500000.0, max_pos=128, lengths=[48], dtype="bfloat16"),
    dict(name="linear", kv=2, tie=False, theta=10000.0, max_pos=128, lengths=[48], rope=dict(rope_type="linear", factor=4.0)),
    # dynamic NTK: plain up to max_position_embeddings (24 <= 32), rescaled beyond (80); the decode crosses 32
    dict(name="dynamic", kv=2, tie=True, theta=10000.0, max_pos=32, lengths=[24, 80], rope=dict(rope_type="dynamic", factor=2.0)),
    dict(name="yarn", kv=2, tie=False, theta=10000.0, max_pos=128, lengths=[64],
         rope=dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=32)),
    dict(name="yarn-mscale-untruncated", kv=4, tie=True, theta=500000.0, max_pos=128, lengths=[64],
         rope=dict(rope_type="yarn", factor=8.0, original_max_position_embeddings=16, mscale=1.0, mscale_all_dim=0.5,
                   beta_fast=16.0, beta_slow=2.0, truncate=False)),
    dict(name="yarn-attention-factor", kv=2, tie=False, theta=10000.0, max_pos=128, lengths=[64],
         rope=dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=32, attention_factor=1.3)),
    dict(name="llama3", kv=2, tie=False, theta=500000.0, max_pos=128, lengths=[64],
         rope=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=32)),
    dict(name="llama3-bf16-tied", kv=1, tie=True, theta=500000.0, max_pos=128, lengths=[64], dtype="bfloat16",
         rope=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=32)),
    # the transformers 4 layout (top-level rope_theta + rope_scaling), config.json rewritten after save_pretrained
    dict(name="old-layout-linear", kv=2, tie=False, theta=500000.0, max_pos=128, lengths=[48], old_layout=True,
         rope=dict(type="linear", factor=2.0)),
    dict(name="old-layout-llama3", kv=2, tie=True, theta=500000.0, max_pos=128, lengths=[64], old_layout=True,
         rope=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=32)),
]
PREFILL = 16


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def collecting():
    h = Collect()
    logging.getLogger("transformers").addHandler(h)
    return h


def load(d):
    return AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()


def write(path, a):
    np.ascontiguousarray(a, dtype=np.float32).tofile(path)


@torch.no_grad()
def forward_logits(d, tokens, lengths, prefix):
    for n in lengths:  # a fresh model per length: transformers' dynamic RoPE keeps state between calls
        m = load(d)
        write(os.path.join(d, f"{prefix}-{n}.f32"), m(torch.tensor([tokens[:n]])).logits[0].numpy())


@torch.no_grad()
def decode_logits(d, tokens, n):
    m = load(d)
    out = m(torch.tensor([tokens[:PREFILL]]), use_cache=True)
    rows, pkv = [out.logits[0]], out.past_key_values
    for i in range(PREFILL, n):
        out = m(torch.tensor([[tokens[i]]]), past_key_values=pkv, use_cache=True)
        rows.append(out.logits[0])
        pkv = out.past_key_values
    return torch.cat(rows).numpy()


def randomize(model, gen):
    """Weights that make every part matter: N(0, 1/fan_in) matrices, N(0, 1) embeddings, norms 1 +- 0.2."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)


def gen(out):
    gen_ = torch.Generator().manual_seed(1234)
    summary = []
    for i, c in enumerate(CASES):
        d = os.path.join(out, "hf-" + c["name"])
        os.makedirs(d, exist_ok=True)
        rope = dict(c.get("rope") or {"rope_type": "default"})
        kw = dict(ARCH, num_key_value_heads=c["kv"], tie_word_embeddings=c["tie"], max_position_embeddings=c["max_pos"])
        if c.get("old_layout"):
            cfg = LlamaConfig(**kw, rope_theta=c["theta"], rope_scaling=dict(rope))
        else:
            cfg = LlamaConfig(**kw, rope_parameters=dict(rope, rope_theta=c["theta"]))
        model = LlamaForCausalLM(cfg).eval()
        randomize(model, gen_)
        if c.get("dtype") == "bfloat16":
            model = model.to(torch.bfloat16)
        model.save_pretrained(d)
        if c.get("old_layout"):
            # what a transformers 4 checkpoint holds: rope_theta and rope_scaling at the top, no rope_parameters
            with open(os.path.join(d, "config.json")) as f:
                j = json.load(f)
            j.pop("rope_parameters", None)
            j["rope_theta"], j["rope_scaling"] = c["theta"], rope
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(j, f, indent=2)
        T = max(max(c["lengths"]), 48)
        tokens = torch.randint(0, ARCH["vocab_size"], (T,), generator=gen_).tolist()
        h = collecting()
        forward_logits(d, tokens, c["lengths"], "ref")
        write(os.path.join(d, "ref-decode.f32"), decode_logits(d, tokens, T))
        logging.getLogger("transformers").removeHandler(h)
        with open(os.path.join(d, "config.json")) as f:
            rope_written = {k: v for k, v in json.load(f).items() if k.startswith("rope") or k == "max_position_embeddings"}
        case = dict(name=c["name"], tokens=tokens, lengths=c["lengths"], decode=T, prefill=PREFILL, vocab=ARCH["vocab_size"],
                    dtype=c.get("dtype", "float32"), rope=rope_written, warnings=h.messages)
        with open(os.path.join(d, "case.json"), "w") as f:
            json.dump(case, f)
        summary.append(d)
    print(json.dumps(dict(torch=torch.__version__, transformers=transformers.__version__, dirs=summary)))


def logits(dirs):
    for d in dirs:
        with open(os.path.join(d, "case.json")) as f:
            c = json.load(f)
        h = collecting()
        forward_logits(d, c["tokens"], c["lengths"], "hf")
        write(os.path.join(d, "hf-decode.f32"), decode_logits(d, c["tokens"], c["decode"]))
        logging.getLogger("transformers").removeHandler(h)
        with open(os.path.join(d, "warnings.json"), "w") as f:
            json.dump(h.messages, f)
    print(json.dumps(dict(torch=torch.__version__, transformers=transformers.__version__)))


def refuses(dirs):
    for d in dirs:
        out = {}
        for name, cls in (("AutoModelForCausalLM", AutoModelForCausalLM), ("LlamaForCausalLM", LlamaForCausalLM)):
            try:
                cls.from_pretrained(d, dtype=torch.float32)
                out[name] = None
            except Exception as e:  # what transformers raises is the point
                out[name] = f"{type(e).__name__}: {e}"
        with open(os.path.join(d, "refusals.json"), "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "logits":
        logits(sys.argv[2:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "refuses":
        refuses(sys.argv[2:])
    else:
        sys.exit(__doc__)
