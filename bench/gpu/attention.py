#!/usr/bin/env python3
"""lmp's CUDA fused attention vs PyTorch FlexAttention (compiled, create_block_mask) and SDPA.

Run by bench/gpu/attention.sh on a GPU machine: python3 bench/gpu/attention.py PARITY_BINARY
Same shapes and masks on both sides (inputs random, bf16): N = 32768 tokens per call (B = N / T
sequences of T tokens), H = 16 heads at D = 128 and 32 at D = 64, kv heads = H. Masks: causal,
causal & same_document (document lengths ~ exponential, mean 1000, fixed seed, the same list
for every sequence), causal & window(4096), causal & (sink(4) | window(1024)) (Lambda), prefix-LM
(prefix = T / 4). Ours is timed inside the parity binary (check attention_bench, cudaEvents);
torch with CUDA events, mask building (create_block_mask) timed apart. TFLOP/s: forward 4 * D
flops per computed score (computed tiles: ours 64 x 64, flex its 128 x 128 blocks; dense: every
(q, kv) pair), backward 2.5x the forward. Writes $OUT/attention-bench.{md,json}.
"""
import json
import os
import random
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

OUT = os.environ.get("OUT", "/tmp")
BUDGET = float(os.environ.get("LMP_ATTN_BENCH_BUDGET", "300"))  # seconds for the whole script (ours first)
T_START = time.time()
N = 32768


def doc_lengths(T, mean=1000, seed=0):
    rng = random.Random(seed)
    lens, s = [], 0
    while s < T:
        L = min(T - s, max(1, int(rng.expovariate(1.0 / mean))))
        lens.append(L)
        s += L
    return lens


def masks(T):
    # name, prefix program (attention.h MaskOp: op, param, children), documents, description
    return [
        ("causal", [1, 0], None),
        ("causal_doc", [7, 2, 1, 0, 6, 0], doc_lengths(T)),
        ("window4k", [7, 2, 1, 0, 2, 4096], None),
        ("sinks4_window1k", [7, 2, 1, 0, 8, 2, 3, 4, 2, 1024], None),
        ("prefix_lm", [4, T // 4], None),
    ]


def cases():
    out = []
    for T in (4096, 16384, 32768):
        for D in (128, 64):
            H = 16 if D == 128 else 32
            for name, prog, docs in masks(T):
                out.append(dict(name=f"{name}-T{T}-D{D}", mask=name, T=T, D=D, H=H, B=N // T, prog=prog, docs=docs))
    return out


def mask_mod(mask, T, docs):
    if mask == "causal":
        return lambda b, h, q, kv: q >= kv
    if mask == "causal_doc":
        ids = torch.repeat_interleave(torch.arange(len(docs), device="cuda", dtype=torch.int32), torch.tensor(docs, device="cuda"))
        return lambda b, h, q, kv: (q >= kv) & (ids[q] == ids[kv])
    if mask == "window4k":
        return lambda b, h, q, kv: (q >= kv) & (q - kv < 4096)
    if mask == "sinks4_window1k":
        return lambda b, h, q, kv: (q >= kv) & ((kv < 4) | (q - kv < 1024))
    if mask == "prefix_lm":
        p = T // 4
        return lambda b, h, q, kv: (kv < p) | (q >= kv)
    raise ValueError(mask)


def cuda_ms(fn, warm=2, iters=5):
    for _ in range(warm):
        fn()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    a.record()
    for _ in range(iters):
        fn()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / iters


def run_ours(binary, cs):
    path = os.path.join(OUT, "attention-cases.txt")
    with open(path, "w") as f:
        for c in cs:
            docs = ",".join(map(str, c["docs"])) if c["docs"] else "-"
            f.write(f"{c['name']} {c['B']} {c['T']} {c['H']} {c['H']} {c['D']} {','.join(map(str, c['prog']))} {docs}\n")
    env = dict(os.environ, LMP_ATTN_BENCH=path)
    t0 = time.time()
    r = subprocess.run([binary, "--filter", "attention_bench"], env=env, capture_output=True, text=True, timeout=200)
    print(r.stdout[-4000:], r.stderr[-2000:], f"(ours: {time.time() - t0:.1f}s)", flush=True)
    res = {}
    for line in r.stdout.splitlines():
        if line.startswith("BENCH "):
            _, name, fwd, bdet, bat, tiles, partial, dense = line.split()
            res[name] = dict(fwd=float(fwd), bwd_det=float(bdet), bwd_atomic=float(bat), tiles=int(tiles), partial=int(partial), dense=float(dense))
    return res


def run_torch(c, flex):
    B, H, T, D = c["B"], c["H"], c["T"], c["D"]
    q, k, v, do = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16) for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_(True)
    r = {}
    mm = mask_mod(c["mask"], T, c["docs"])
    torch.cuda.synchronize()
    t0 = time.time()
    bm = create_block_mask(mm, B=None, H=None, Q_LEN=T, KV_LEN=T, device="cuda")
    torch.cuda.synchronize()
    r["mask_build_ms"] = (time.time() - t0) * 1e3
    blocks = int(bm.kv_num_blocks.sum().item()) + (int(bm.full_kv_num_blocks.sum().item()) if bm.full_kv_num_blocks is not None else 0)
    bs = bm.BLOCK_SIZE
    r["flex_scores"] = blocks * bs[0] * bs[1] * B * H
    with torch.no_grad():
        r["flex_fwd"] = cuda_ms(lambda: flex(q, k, v, block_mask=bm))

    def fb():
        o = flex(q, k, v, block_mask=bm)
        o.backward(do)

    r["flex_fwdbwd"] = cuda_ms(fb)
    r["flex_bwd"] = r["flex_fwdbwd"] - r["flex_fwd"]
    if c["mask"] == "causal":
        with torch.no_grad():
            r["sdpa_fwd"] = cuda_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))

        def sb():
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            o.backward(do)

        r["sdpa_bwd"] = cuda_ms(sb) - r["sdpa_fwd"]
    del q, k, v, do, bm
    torch.cuda.empty_cache()
    return r


def tf(flops, ms):
    return flops / (ms * 1e-3) / 1e12 if ms and ms > 0 else float("nan")


def main():
    binary = sys.argv[1]
    cs = cases()
    ours = run_ours(binary, cs)
    flex = torch.compile(flex_attention, dynamic=False)
    # torch in priority order (each new shape or mask compiles): D = 128 at 16k, 4k, 32k, then D = 64
    prio = [(16384, 128), (4096, 128), (32768, 128), (16384, 64), (4096, 64), (32768, 64)]
    done = {}
    for c in sorted(cs, key=lambda c: prio.index((c["T"], c["D"]))):
        if time.time() - T_START >= BUDGET - 25:  # a case with its compiles takes up to ~25 s
            break
        try:
            done[c["name"]] = run_torch(c, flex)
        except Exception as e:  # record and go on
            done[c["name"]] = dict(error=str(e)[:200])
        print(c["name"], json.dumps(done[c["name"]]), flush=True)
    rows = [dict(case=c["name"], T=c["T"], D=c["D"], H=c["H"], B=c["B"], ours=ours.get(c["name"]), torch=done.get(c["name"])) for c in cs]
    with open(os.path.join(OUT, "attention-bench.json"), "w") as f:
        json.dump(rows, f, indent=1)
    L = ["| case | ours fwd ms | TF/s tiles / dense | flex fwd ms | TF/s tiles / dense | sdpa fwd ms | ours bwd ms det / atomic | TF/s dense (atomic) | flex bwd ms | TF/s dense | sdpa bwd ms | fwd ours/flex speed | bwd ours(atomic)/flex speed | mask build ms |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    f_ = lambda x, p=2: "—" if x is None or x != x else f"{x:.{p}f}"
    for r in rows:
        o, t, D = r["ours"] or {}, r["torch"] or {}, r["D"]
        dense = o.get("dense") or r["B"] * r["H"] * r["T"] * r["T"]
        of, ob = o.get("fwd"), o.get("bwd_atomic")
        ff, fbw = t.get("flex_fwd"), t.get("flex_bwd")
        oscore = o.get("tiles", 0) * 64 * 64
        L.append("| " + " | ".join([
            r["case"], f_(of, 3), f"{f_(tf(4 * D * oscore, of), 0)} / {f_(tf(4 * D * dense, of), 0)}",
            f_(ff, 3), f"{f_(tf(4 * D * t.get('flex_scores', 0), ff), 0)} / {f_(tf(4 * D * dense, ff), 0)}", f_(t.get("sdpa_fwd"), 3),
            f"{f_(o.get('bwd_det'), 3)} / {f_(ob, 3)}", f_(tf(10 * D * dense, ob), 0), f_(fbw, 3), f_(tf(10 * D * dense, fbw), 0),
            f_(t.get("sdpa_bwd"), 3), f_(ff / of if of and ff else None), f_(fbw / ob if ob and fbw else None), f_(t.get("mask_build_ms"), 1),
        ]) + (f" {t['error']}" if "error" in t else "") + " |")
    md = "\n".join(L) + "\n"
    with open(os.path.join(OUT, "attention-bench.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
