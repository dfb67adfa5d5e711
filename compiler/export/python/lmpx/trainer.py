"""train.py's loop: lmp's Trainer (runtime/model/train.ts) and runTrain (runtime/entry), under
torchrun when launched by it (FSDP2: fully_shard per decoder layer, then the root).

Per optimizer step: `accumulate` curriculum batches; loss = sum of token losses / token count,
the count all-reduced over ranks before the backward (so a variable per-step batch and gradient
accumulation weigh every token equally; each rank scales its part by world_size because FSDP2's
reduce-scatter averages); global-norm clipping clip / (norm + 1e-6) when norm > clip; AdamW
(decoupled decay on matrices, not on norm weights); the file's LR schedule at the 1-based step.
Checkpoints (every N steps and after the last) hold lmp's model directory, the optimizer moments
(lmp's optimizer.safetensors layout), the sampler state and the step; --resume continues exactly.
"""
import argparse
import json
import math
import os
import secrets
import sys
import time

import torch
import torch.distributed as dist

from . import LmpxError
from . import spec as S
from .attention import choose_path
from .data import BucketBatchSampler, ShardDataset, ShardSet, eval_batches
from .model import LlamaModel, load_weights, save_weights, write_atomic
from .schedule import lr_at


class TrainError(LmpxError):
    pass


def parse_args(argv, run):
    p = argparse.ArgumentParser(prog="train.py", description=f"train {run['name']} (exported from {run['where']} by lmpc)")
    p.add_argument("--steps", type=int, help="optimizer steps instead of the file's (the LR schedule follows), like lmpc run --set T.steps=N")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--log", help="JSONL metrics log (default: the file's `log`, relative to the package)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint folder's latest checkpoint")
    p.add_argument("--attention", default="auto", help="auto (cuda: flex-compiled, cpu: sdpa), sdpa, flex, flex-compiled")
    p.add_argument("--checkpoint-dir", help="checkpoint folder (default: the file's `checkpoint`, else checkpoints/NAME in the package)")
    p.add_argument("--checkpoint-every", type=int, help="checkpoint every N steps (default: the file's `checkpoint ... every`, else only after the last step)")
    p.add_argument("--init", help="initial weights: a model directory (default: weights/init, lmp's seeded init)")
    p.add_argument("--schedule-check-every", type=int, default=10, help="all-gather and compare the ranks' schedule hash every N steps (fatal on mismatch)")
    p.add_argument("--schedule-log", help="folder: each rank appends its steps (bucket, members, schedule hash) to rank<R>.jsonl")
    a = p.parse_args(argv)
    if a.steps is not None and a.steps < 1:
        p.error(f"--steps must be a positive integer, found {a.steps}")
    return a


def _local(t):
    return t.to_local() if hasattr(t, "to_local") else t


def _full(t):
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def _say(rank, msg):
    if rank == 0:
        print(msg, file=sys.stderr, flush=True)


def main(argv=None, package_dir=S.HERE):
    spec = S.load(package_dir)
    if spec["target"]["kind"] != "train":
        raise SystemExit(f"LMP_E_EXPORT_TARGET: this package exports {spec['target']['kind']} {spec['target']['name']}, not a train")
    run = spec["run"]["train"]
    args = parse_args(sys.argv[1:] if argv is None else argv, run)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = torch.device(args.device)
    if distributed:
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            device = torch.device("cuda", torch.cuda.current_device())
        # CUDA: NCCL for the model's collectives (FSDP2), gloo beside it for the small CPU tensors of
        # the token counts, loss sums and schedule hashes (NCCL has no CPU tensors)
        dist.init_process_group("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    try:
        return _train(spec, run, args, package_dir, device, rank, world, distributed)
    finally:
        if distributed:
            dist.destroy_process_group()


def _all_sum(x, distributed):
    t = torch.tensor([float(v) for v in x], dtype=torch.float64)
    if distributed:
        dist.all_reduce(t)
    return t.tolist()


def _train(spec, run, args, package_dir, device, rank, world, distributed):
    total = args.steps if args.steps is not None else run["steps"]
    mcfg = spec["run"]["model"]
    model = LlamaModel(mcfg["config"], mcfg["attention"])
    model.path = choose_path(args.attention, device, training=True)
    if model.path != "sdpa" and device.type == "cpu":
        raise TrainError("LMP_E_USAGE", f"--attention {model.path}: FlexAttention has no backward pass on CPU; train on CPU with --attention sdpa (or auto)")
    model.tables = spec["run"].get("blockTables") or {}
    _say(rank, f"lmpx: attention path {model.settings.describe(model.path)}; {world} rank(s) on {device}; {total} steps")
    ck_dir = args.checkpoint_dir or (S.path(package_dir, run["checkpoint"]["dir"]) if run["checkpoint"] else os.path.join(package_dir, "checkpoints", run["name"]))
    every = args.checkpoint_every if args.checkpoint_every is not None else (run["checkpoint"]["every"] if run["checkpoint"] else 0)
    log_path = args.log or (S.path(package_dir, run["log"]) if run["log"] else None)
    latest = _latest(ck_dir)
    if args.resume and latest is None:
        raise TrainError("LMP_E_RESUME", f"nothing to resume: {ck_dir} holds no checkpoint (no 'latest')")
    # `resume auto` in the train: continue from latest when there is one, as --resume does
    if not args.resume and run.get("resume") != "auto" and latest is not None:
        raise TrainError("LMP_E_CHECKPOINT_EXISTS", f"the checkpoint folder {ck_dir} already holds a run ({os.path.basename(latest)}); continue it with --resume, or delete it to start over")
    state = None
    if latest:
        with open(os.path.join(latest, "trainer.json"), encoding="utf-8") as f:
            state = json.load(f)
        if state["step"] > total:
            raise TrainError("LMP_E_RESUME", f"{latest} is at step {state['step']}, past this run's {total} steps")
    load_weights(model, latest if latest else (args.init or S.path(package_dir, mcfg["init"])))
    names = [n for n, _ in model.named_parameters()]
    model.to(device)
    if distributed:
        from torch.distributed.fsdp import fully_shard
        for layer in model.model.layers:
            fully_shard(layer)
        fully_shard(model)
    o = run["optimizer"]
    params = dict(model.named_parameters())
    decay = [params[n] for n in names if not n.endswith("norm.weight")]
    no_decay = [params[n] for n in names if n.endswith("norm.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], foreach=False)
    shards = ShardSet(S.path(package_dir, run["data"]))
    sampler = BucketBatchSampler(shards, run["curriculum"], rank, world)
    step = 0
    run_id = secrets.token_hex(4)
    if state:
        step = state["step"]
        run_id = state.get("run", run_id)
        sampler.load_state_dict(state["sampler"])
        _load_optimizer(opt, params, names, os.path.join(latest, "optimizer.safetensors"), step)
        if rank == 0 and log_path and os.path.exists(log_path):
            with open(log_path, encoding="utf-8") as f:
                keep = [ln for ln in f if ln.strip() and json.loads(ln).get("step", 0) <= step]
            write_atomic(log_path, "".join(keep).encode())
        _say(rank, f"lmpx: resumed {latest} at step {step}")
    dataset = ShardDataset(shards)
    loader = iter(torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=dataset.collate, num_workers=0))
    evals = [(e, eval_batches(ShardSet(S.path(package_dir, e["data"])))) for e in run["evals"]]
    if log_path and rank == 0:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    sched_log = None
    if args.schedule_log:
        os.makedirs(args.schedule_log, exist_ok=True)
        sched_log = open(os.path.join(args.schedule_log, f"rank{rank}.jsonl"), "a", encoding="utf-8")

    def log(rec):
        if rank == 0 and log_path:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"run": run_id, **rec}) + "\n")

    sch = run["schedule"]
    while step < total:
        t0 = time.perf_counter()
        micro = []
        for _ in range(run["accumulate"]):
            try:
                b = next(loader)
            except StopIteration:
                raise TrainError("LMP_E_DATA_END", "the batch source ran out")
            micro.append(b)
            if sched_log:
                s = sampler.last
                sched_log.write(json.dumps({"step": step + 1, "length": s["length"], "global": s["globalSequences"], "members": list(s["sequences"]), "hash": sampler.schedule_hash()}) + "\n")
                sched_log.flush()
        count_local = sum(float(b["weight"].sum()) for b in micro)
        tokens_local = sum(b["tokens"].numel() for b in micro)
        count, tokens = _all_sum([count_local, tokens_local], distributed)
        scale = (world / count) if count > 0 else 0.0
        loss_sum = 0.0
        for b in micro:
            b = {k: v.to(device) for k, v in b.items()}
            ls, _ = model.loss_sum(b)
            (ls * scale).backward()
            loss_sum += float(ls.detach())
        (loss_sum,) = _all_sum([loss_sum], distributed)
        # global gradient norm over the local shards, summed over ranks (float64)
        ss = sum(float(_local(p.grad).to(torch.float64).pow(2).sum()) for p in params.values() if p.grad is not None)
        (ss,) = _all_sum([ss], distributed)
        gnorm = math.sqrt(ss)
        clip = run["clip"] or 0
        if clip > 0 and gnorm > clip:
            g = clip / (gnorm + 1e-6)
            for p in params.values():
                if p.grad is not None:
                    p.grad.mul_(g)
        step += 1
        lr = lr_at(step, total, o["lr"], sch["warmup"], sch["decay"], sch["finalFraction"])
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.step()
        opt.zero_grad(set_to_none=True)
        ms = (time.perf_counter() - t0) * 1000
        loss = loss_sum / count if count > 0 else 0.0
        log({"step": step, "loss": loss, "lr": lr, "gradNorm": gnorm, "tokens": int(tokens), "tokensPerSec": tokens * 1000 / ms, "ms": ms})
        _say(rank, f"step {step}/{total} loss {loss:.4f} lr {lr:.2e} {tokens * 1000 / ms:.0f} tok/s")
        if args.schedule_check_every > 0 and (step % args.schedule_check_every == 0 or step == total):
            _check_schedule(sampler, step, distributed, world)
        for e, batches in evals:
            if (e["every"] > 0 and step % e["every"] == 0) or step == total:
                rec = _perplexity(model, e, batches, step, device)
                log(rec)
                _say(rank, f"eval perplexity {rec['data']} step {step}: loss {rec['overall']['loss']:.4f} ppl {rec['overall']['ppl']:.2f}")
        if (every and step % every == 0) or step == total:
            _save_checkpoint(ck_dir, model, opt, params, names, sampler, step, total, run_id, rank, distributed, world)
        if os.environ.get("LMPX_TEST_HANG_AFTER_STEP") == str(step):
            time.sleep(3600)  # tests: a run to kill at a known step
    if sched_log:
        sched_log.close()
    return 0


def _check_schedule(sampler, step, distributed, world):
    """Fatal unless every rank has drawn the same schedule so far (hash all-gathered)."""
    if not distributed:
        return
    h = torch.tensor([sampler.schedule_hash()], dtype=torch.int64)
    out = [torch.zeros_like(h) for _ in range(world)]
    dist.all_gather(out, h)
    got = [int(x) for x in out]
    if len(set(got)) != 1:
        raise TrainError("LMP_E_SCHEDULE_MISMATCH", f"step {step}: the ranks' batch schedules differ (hashes {got}); every rank must run the same package and seed")


@torch.no_grad()
def _perplexity(model, e, batches, step, device):
    """lmp's runEvalOnce: mean token loss per packer bucket and overall; by position (power-of-two
    ranges of position id + 1)."""
    by, pos = [], {}
    tot_sum, tot_w = 0.0, 0.0
    cur = None
    acc = None

    def flush():
        if cur is None:
            return
        l = acc[0] / acc[1] if acc[1] > 0 else float("nan")
        by.append({"length": cur, "tokens": acc[1], "loss": l, "ppl": math.exp(l) if acc[1] > 0 else float("nan")})

    for length, b in batches:
        if length != cur:
            flush()
            cur, acc = length, [0.0, 0.0]
        b = {k: v.to(device) for k, v in b.items()}
        loss, w = model.token_losses(b)
        loss, w = loss.double().cpu(), w.double().cpu()
        acc[0] += float(loss.sum())
        acc[1] += float(w.sum())
        keys = torch.pow(2, torch.ceil(torch.log2((b["positions"].cpu() + 1).clamp(min=1).double()))).long()
        for k in torch.unique(keys[w > 0]).tolist():
            sel = (keys == k) & (w > 0)
            a = pos.setdefault(int(k), [0.0, 0.0])
            a[0] += float(loss[sel].sum())
            a[1] += float(w[sel].sum())
    flush()
    for x in by:
        if x["tokens"] > 0:
            tot_sum += x["loss"] * x["tokens"]
            tot_w += x["tokens"]
    loss = tot_sum / tot_w if tot_w > 0 else float("nan")
    byp = [{"position": k, "tokens": a[1], "loss": a[0] / a[1], "ppl": math.exp(a[0] / a[1])} for k, a in sorted(pos.items())]
    mode = e["by"]
    return {"step": step, "eval": "perplexity", "data": e["label"], "by_length": by if mode == "length" else [],
            "by_position": byp if mode == "position" else [], "overall": {"tokens": tot_w, "loss": loss, "ppl": math.exp(loss)}}


def _latest(ck_dir):
    try:
        with open(os.path.join(ck_dir, "latest"), encoding="utf-8") as f:
            name = f.read().strip()
    except OSError:
        return None
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise TrainError("LMP_E_CHECKPOINT", f"{ck_dir}/latest: not a checkpoint name ({name!r})")
    return os.path.join(ck_dir, name)


def _save_checkpoint(ck_dir, model, opt, params, names, sampler, step, total, run_id, rank, distributed, world):
    """dir/step-<n> (config.json, model.safetensors, optimizer.safetensors, trainer.json) through a
    temp folder + rename, then `latest` (lmp's layout). Sharded tensors are gathered on every rank."""
    from safetensors.torch import save

    full = {n: _full(params[n].detach()) for n in names}
    m, v = {}, {}
    for n in names:
        st = opt.state.get(params[n], {})
        if "exp_avg" in st:
            m["m." + n] = _full(st["exp_avg"]).reshape(-1)
            v["v." + n] = _full(st["exp_avg_sq"]).reshape(-1)
        else:
            m["m." + n] = torch.zeros(full[n].numel())
            v["v." + n] = torch.zeros(full[n].numel())
    if rank == 0:
        import shutil
        name = f"step-{step:08d}"
        os.makedirs(ck_dir, exist_ok=True)
        tmp = os.path.join(ck_dir, f".{name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        save_weights(tmp, full, model.hf_config, model.hf_files)
        opt_t = {k: t.detach().to(torch.float32).contiguous().cpu() for k, t in {**m, **v}.items()}
        write_atomic(os.path.join(tmp, "optimizer.safetensors"), save(opt_t))
        state = {"step": step, "totalSteps": total, "run": run_id, "world": world, "sampler": sampler.state_dict()}
        write_atomic(os.path.join(tmp, "trainer.json"), (json.dumps(state, indent=2) + "\n").encode())
        final = os.path.join(ck_dir, name)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        write_atomic(os.path.join(ck_dir, "latest"), (name + "\n").encode())
    if distributed:
        dist.barrier()


def _load_optimizer(opt, params, names, path, step):
    from safetensors.torch import load_file

    t = load_file(path)
    for n in names:
        p = params[n]
        mm, vv = t.get("m." + n), t.get("v." + n)
        if mm is None or vv is None:
            raise TrainError("LMP_E_CHECKPOINT", f"{path}: optimizer state lacks '{n}'")
        shape = _full(p.detach()).shape if not hasattr(p, "device_mesh") else p.shape
        mm, vv = mm.reshape(shape).to(p.device), vv.reshape(shape).to(p.device)
        if hasattr(p, "device_mesh"):
            from torch.distributed.tensor import distribute_tensor
            mm, vv = distribute_tensor(mm, p.device_mesh, p.placements), distribute_tensor(vv, p.device_mesh, p.placements)
        opt.state[p] = {"step": torch.tensor(float(step)), "exp_avg": mm, "exp_avg_sq": vv}
