"""The PyTorch peer of bench/gpu/train-bench.ts on the same GPU: the same ~125M Llama as Hugging
Face LlamaForCausalLM (SDPA attention), fp32 weights under bf16 autocast with fused AdamW (lmp's
bf16 precision: fp32 master weights, bf16 GEMMs), B sequences of T tokens (causal), eager and
torch.compile; then greedy generate at batch 1 and 32 (bf16 weights, dynamic cache) with a 512-token
prompt (generation tokens/s: generate's time less one prefill). One JSON object per line on
stdout, as train-bench.ts.

    python3 bench/gpu/train_peer.py [--small] [--device cuda] [--no-compile]
Env: LMP_BENCH_T (2048), LMP_BENCH_B (4), LMP_BENCH_STEPS (5).
"""
import argparse
import json
import os
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="tiny sizes (a check of the script)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if a.small:
        cfg = LlamaConfig(vocab_size=257, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, intermediate_size=128,
                          tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=4096)
        T, B, steps = 64, 2, 2
    else:
        cfg = LlamaConfig(vocab_size=32000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=12, intermediate_size=2048,
                          tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=8192)
        T, B, steps = int(os.environ.get("LMP_BENCH_T", 2048)), int(os.environ.get("LMP_BENCH_B", 4)), int(os.environ.get("LMP_BENCH_STEPS", 5))
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g).to(dev)
    n_params = None
    for compiled in ([False] if a.no_compile or dev.type != "cuda" else [False, True]):
        model = LlamaForCausalLM(cfg).to(dev)
        n_params = sum(p.numel() for p in model.parameters())
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, **({"fused": True} if dev.type == "cuda" else {}))
        fwd = torch.compile(model) if compiled else model

        def step() -> float:
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16):
                loss = fwd(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            return float(loss.detach())

        t0 = time.perf_counter()
        for _ in range(2):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(steps):
            last = step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        sec = time.perf_counter() - t0
        tokens = B * T * steps
        flops_per_token = 6 * n_params + 6 * cfg.num_hidden_layers * T * cfg.hidden_size
        print(json.dumps({"part": "train", "peer": "torch-compile" if compiled else "torch-eager", "params": n_params, "T": T, "B": B, "steps": steps,
                          "tokensPerSec": tokens / sec, "msPerStep": sec * 1000 / steps, "mfu": flops_per_token * tokens / sec / 989e12, "warmupSec": warm, "lastLoss": last}), flush=True)
        del model, opt, fwd
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    model = LlamaForCausalLM(cfg).to(dev, dtype=torch.bfloat16 if dev.type == "cuda" else torch.float32).eval()
    plen, gen = (32, 8) if a.small else (512, 128)
    def clock() -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    @torch.no_grad()
    def timed_generate(prompts):
        """(prefill seconds, generate seconds, generated tokens per row) for greedy generate of gen tokens
        from prompts [B, plen] (no padding: every row has plen tokens)."""
        mask = torch.ones_like(prompts)
        model.generate(prompts, attention_mask=mask, pad_token_id=0, max_new_tokens=4, do_sample=False)  # warm-up
        t0 = clock()
        model(prompts)
        t1 = clock()
        out = model.generate(prompts, attention_mask=mask, pad_token_id=0, max_new_tokens=gen, min_new_tokens=gen, do_sample=False)
        t2 = clock()
        return t1 - t0, t2 - t1, int(out.shape[1] - plen)

    pre, total, got = timed_generate((torch.arange(plen, device=dev) * 7 % cfg.vocab_size).unsqueeze(0))
    print(json.dumps({"part": "decode", "peer": "transformers-generate", "prompt": plen, "generated": got,
                      "prefillTokensPerSec": plen / pre, "generateTokensPerSec": gen / max(1e-9, total - pre)}), flush=True)
    # batch 32 (4 with --small): the same prompt length, other content per row, greedy
    nb = 4 if a.small else 32
    pre, total, got = timed_generate(torch.stack([(torch.arange(plen, device=dev) * 7 + b * 13) % cfg.vocab_size for b in range(nb)]))
    print(json.dumps({"part": "decode_batch", "peer": "transformers-generate", "batch": nb, "prompt": plen, "generated": got,
                      "generateTokensPerSec": nb * (gen - 1) / max(1e-9, total - pre)}), flush=True)

if __name__ == "__main__":
    main()
