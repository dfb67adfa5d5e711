"""PyTorch side of bench/peers/pytorch/run.mjs: a JSON-lines server on stdin/stdout.

The Node driver sends one request per line and reads one JSON reply per line; every timing is
taken here around the PyTorch call alone (time.perf_counter), so the pipe costs nothing. The
driver alternates requests with its own lmp measurements, one repetition at a time, so both
sides see the same machine load. Inputs come from raw float32/int32 files the driver wrote, so
both sides compute on the same numbers, and results go back for a same-output check.

Not part of the test suite (it needs torch and transformers; see setup.sh).
"""

import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
STATE = {}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def load_f32(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(shape).copy())


def load_i32(path):
    return torch.from_numpy(np.fromfile(path, dtype=np.int32).astype(np.int64))


def visible(kind, T, doc, window, sinks):
    q = torch.arange(T).view(T, 1)
    k = torch.arange(T).view(1, T)
    causal = k <= q
    if kind == "full":
        return torch.ones(T, T, dtype=torch.bool)
    if kind == "causal":
        return causal
    if kind == "document":
        return causal & (doc.view(T, 1) == doc.view(1, T))
    if kind == "window":
        return causal & (q - k < window)
    if kind == "sinks_window":
        return causal & ((k < sinks) | (q - k < window))
    raise ValueError(kind)


def mask_mod(kind, doc, window, sinks):
    if kind == "causal":
        return lambda b, h, q, k: k <= q
    if kind == "document":
        return lambda b, h, q, k: (k <= q) & (doc[q] == doc[k])
    if kind == "window":
        return lambda b, h, q, k: (k <= q) & (q - k < window)
    if kind == "sinks_window":
        return lambda b, h, q, k: (k <= q) & ((k < sinks) | (q - k < window))
    return None  # full


def attn_setup(r):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    T, H, D = r["T"], r["H"], r["D"]
    # lmp's layout is [T, H, D]; PyTorch's [1, H, T, D].
    q = load_f32(r["q"], (T, H, D)).permute(1, 0, 2).unsqueeze(0).contiguous()
    k = load_f32(r["k"], (T, H, D)).permute(1, 0, 2).unsqueeze(0).contiguous()
    v = load_f32(r["v"], (T, H, D)).permute(1, 0, 2).unsqueeze(0).contiguous()
    do = load_f32(r["dout"], (T, H, D)).permute(1, 0, 2).unsqueeze(0).contiguous()
    doc = load_i32(r["doc"])
    kind = r["mask"]
    st = {"q": q, "k": k, "v": v, "do": do, "kind": kind}
    if kind == "causal":
        st["sdpa"] = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    elif kind == "full":
        st["sdpa"] = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)
    else:
        m = visible(kind, T, doc, r["window"], r["sinks"])
        st["sdpa"] = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    # FlexAttention, compiled (the only way it is fast); the block mask is built here, outside the timings.
    mm = mask_mod(kind, doc, r["window"], r["sinks"])
    t0 = time.perf_counter()
    bm = create_block_mask(mm, None, None, T, T, device="cpu") if mm is not None else None
    st["mask_build_s"] = time.perf_counter() - t0
    flex = STATE.get("flex_compiled")
    if flex is None:
        flex = STATE["flex_compiled"] = torch.compile(flex_attention, dynamic=False)
    st["flex"] = lambda q, k, v: flex(q, k, v, block_mask=bm)
    STATE["attn"] = st
    # Warm up (and compile) both, forward and backward, outside the timings.
    t0 = time.perf_counter()
    run_attn("sdpa", "fwdbwd")
    run_attn("sdpa", "fwd")
    run_attn("flex", "fwd")
    reply({"ok": True, "maskBuildS": st["mask_build_s"], "warmS": time.perf_counter() - t0})


def run_attn(impl, mode):
    st = STATE["attn"]
    f = st[impl]
    if mode == "fwd":
        with torch.no_grad():
            t0, c0 = time.perf_counter(), time.process_time()
            o = f(st["q"], st["k"], st["v"])
            return (time.perf_counter() - t0, time.process_time() - c0), o
    q = st["q"].detach().requires_grad_()
    k = st["k"].detach().requires_grad_()
    v = st["v"].detach().requires_grad_()
    t0, c0 = time.perf_counter(), time.process_time()
    o = f(q, k, v)
    o.backward(st["do"])
    return (time.perf_counter() - t0, time.process_time() - c0), o


def attn_time(r):
    if r["impl"] == "flex" and r["mode"] == "fwdbwd":
        # torch 2.x: "FlexAttention does not support backward on CPU".
        reply({"s": None})
        return
    (t, cpu), o = run_attn(r["impl"], r["mode"])
    out = {"s": t, "cpu": cpu}
    if r.get("out"):  # compare with lmp's output
        ref = load_f32(r["out"], (o.shape[2], o.shape[1], o.shape[3]))
        got = o.detach()[0].permute(1, 0, 2)
        out["maxAbsDiff"] = float((got - ref).abs().max())
    reply(out)


# ----------------------------------------------------------------- model (training step, decode)


def model_setup(r):
    from transformers import LlamaForCausalLM

    m = LlamaForCausalLM.from_pretrained(r["dir"], torch_dtype=torch.float32, attn_implementation=r.get("attn", "sdpa"))
    m.config.use_cache = True
    STATE["model_dir"] = r["dir"]
    STATE["model"] = m
    reply({"ok": True, "params": sum(p.numel() for p in m.parameters())})


def train_setup(r):
    from transformers import LlamaForCausalLM

    tokens = load_i32(r["tokens"]).view(1, -1)
    out = {"ok": True}
    st = {"tokens": tokens}
    for mode in ("eager", "compiled"):
        m = LlamaForCausalLM.from_pretrained(r["dir"], torch_dtype=torch.float32, attn_implementation="sdpa")
        m.train()
        if mode == "eager":
            with torch.no_grad():
                # Loss of the initial weights on the batch: the driver checks it against lmp's.
                out["loss0"] = float(m(input_ids=tokens, labels=tokens).loss)
        opt = torch.optim.AdamW(m.parameters(), lr=r["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=r["wd"])
        fwd = torch.compile(m) if mode == "compiled" else m

        def step(m=m, fwd=fwd, opt=opt):
            loss = fwd(input_ids=tokens, labels=tokens).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), r["clip"])
            opt.step()
            opt.zero_grad(set_to_none=True)
            return float(loss)

        t0 = time.perf_counter()
        step()  # warm-up (compiles the compiled one)
        out[mode + "WarmS"] = time.perf_counter() - t0
        st[mode] = step
    STATE["train"] = st
    reply(out)


def train_time(r):
    f = STATE["train"][r["mode"]]
    t0, c0 = time.perf_counter(), time.process_time()
    loss = f()
    reply({"s": time.perf_counter() - t0, "cpu": time.process_time() - c0, "loss": loss})


def gen_time(r):
    m = STATE["model"]
    prompt = load_i32(r["prompt"]).view(1, -1)
    n = r["new"]
    with torch.no_grad():
        t0 = time.perf_counter()
        m(input_ids=prompt, use_cache=True)  # the prompt alone: prefill
        t1 = time.perf_counter()
        out = m.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n, min_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=0, use_cache=True
        )
        t2 = time.perf_counter()
    reply({"prefillS": t1 - t0, "generateS": t2 - t1, "tokens": out[0, prompt.shape[1]:].tolist()})


# ----------------------------------------------------------------- sampling


def sampling_setup(r):
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        MinPLogitsWarper,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
        TypicalLogitsWarper,
    )

    V = r["V"]
    x = load_f32(r["logits"], (1, V))
    procs = {
        "top_k": [TopKLogitsWarper(r["k"])],
        "top_p": [TopPLogitsWarper(r["p"])],
        "min_p": [MinPLogitsWarper(r["minP"])],
        "typical": [TypicalLogitsWarper(r["typical"])],
        "temperature+top_k+top_p": [TemperatureLogitsWarper(r["temp"]), TopKLogitsWarper(r["k"]), TopPLogitsWarper(r["p"])],
    }
    ids = torch.zeros(1, 1, dtype=torch.long)
    STATE["sampling"] = {"x": x, "ids": ids, "procs": {k: LogitsProcessorList(v) for k, v in procs.items()}}
    reply({"ok": True})


def sampling_time(r):
    st = STATE["sampling"]
    lp = st["procs"][r["name"]]
    reps = r["reps"]
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        # What generate() does per step: the processors, softmax, one multinomial draw.
        s = lp(st["ids"], st["x"].clone())
        p = torch.softmax(s, dim=-1)
        torch.multinomial(p, 1)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    reply({"s": ts[len(ts) // 2]})


def main():
    handlers = {
        "threads": lambda r: (torch.set_num_threads(r["n"]), reply({"ok": True, "threads": torch.get_num_threads()})),
        "version": lambda r: reply({"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                                    "threads": torch.get_num_threads(), "isa": torch.backends.cpu.get_cpu_capability()}),
        "attn_setup": attn_setup,
        "attn": attn_time,
        "model_setup": model_setup,
        "train_setup": train_setup,
        "train": train_time,
        "generate": gen_time,
        "sampling_setup": sampling_setup,
        "sampling": sampling_time,
    }
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        try:
            handlers[r["op"]](r)
        except Exception as e:  # reported to the driver, which stops with the message
            reply({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
