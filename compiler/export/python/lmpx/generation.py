"""generate.py's loop: lmp's Decoder (runtime/decode/decoder.ts) over the model with a KV cache.

Cache policies (lmp's KVCacheSession): `full` (keys rotated at their absolute positions) and
`sinks_window` (StreamingLLM: the first `sinks` tokens plus the latest `window`; keys cached
before RoPE and rotated by their slot, so positions shift as tokens are evicted; prompts run in
chunks that fit). SirLLM and InfLLM are refused at export time. Stops: EOS, stop strings (text cut
before the stop), max tokens, min tokens and length targets (EOS blocked below the window, a bias
rising to `strength` inside it, forced when the next token would overshoot)."""
import re

import torch

from . import sampling as S
from .positions import apply_rope, rope_cos_sin

WORD = re.compile(r"\w+", re.ASCII)


def bytes_decode(ids):
    return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def bytes_encode(text):
    return list(text.encode("utf-8"))


class KVCache:
    def __init__(self, model, policy):
        self.model, self.policy = model, policy
        self.k, self.v = {}, {}
        self.length = 0
        s = model.settings
        # keys stay unrotated when positions shift (sinks_window) or live in the op (RoPE limit, ALiBi);
        # otherwise the model rotates them at their position before they are cached
        self.raw = policy["kind"] == "sinks_window" or not s.rope_in_model
        self._slots = None  # (L, cos, sin): RoPE of slots 0..L-1, shared by every layer of a step

    def update(self, layer, k, v):
        key = id(layer)
        if key in self.k:
            k = torch.cat([self.k[key], k], dim=2)
            v = torch.cat([self.v[key], v], dim=2)
        self.k[key], self.v[key] = k, v
        if self.raw and self.model.settings.rope_in_model:
            L = k.shape[2]
            if self._slots is None or self._slots[0] != L:
                s = self.model.settings
                self._slots = (L, *rope_cos_sin(torch.arange(L, device=k.device).view(1, L), s.head_dim, s.rope_theta, s.scaling))
            return apply_rope(k, self._slots[1], self._slots[2]), v
        return k, v

    def evict_one(self):
        g = self.policy["sinks"]
        for key in self.k:
            self.k[key] = torch.cat([self.k[key][:, :, :g], self.k[key][:, :, g + 1:]], dim=2)
            self.v[key] = torch.cat([self.v[key][:, :, :g], self.v[key][:, :, g + 1:]], dim=2)
        self.length -= 1


@torch.no_grad()
def _step(model, cache, tokens):
    """Logits [n, V] (on the CPU, where the sampler runs) of `tokens` appended at the cache's end;
    the model runs on its own device."""
    s = model.settings
    dev = model.head_weight().device
    n, pos0 = len(tokens), cache.length
    L = pos0 + n
    keys = torch.arange(L, device=dev).view(1, L) if (s.position == "rope" and s.limit) else None
    run = model.run_for(torch.arange(pos0, L, device=dev).view(1, n), None, q_offset=pos0, kv_len=L, key_positions=keys)
    h = model.hidden(torch.tensor([tokens], device=dev), run, cache)
    cache.length = L
    return torch.nn.functional.linear(h, model.head_weight())[0].cpu()


def feed(model, cache, tokens):
    """Append tokens (chunked under sinks_window); logits after the last one [V]."""
    if cache.policy["kind"] == "full":
        return _step(model, cache, tokens)[-1]
    cap = cache.policy["sinks"] + cache.policy["window"]
    i, out = 0, None
    while i < len(tokens):
        if cache.length == cap:
            cache.evict_one()
        n = min(len(tokens) - i, cap - cache.length)
        out = _step(model, cache, tokens[i:i + n])[-1]
        i += n
    return out


class LengthController:
    def __init__(self, target):
        self.t = target
        self.lo = target["value"] * (1 - target["within"])
        self.hi = target["value"] * (1 + target["within"])
        self.per = 1.0

    def control(self, n_units, steps):
        if steps > 0:
            self.per = max(n_units / steps, 1e-9)
        if n_units < self.lo:
            return float("-inf"), False
        if n_units + self.per > self.hi:
            return 0.0, True
        span = max(self.hi - self.lo, 1e-9)
        return self.t.get("strength", 8) * min(1.0, (n_units - self.lo) / span), False


def units(unit, ids):
    if unit == "tokens":
        return len(ids)
    text = bytes_decode(ids)
    return len(text) if unit == "chars" else len(WORD.findall(text))


def generate(model, dec, prompt_ids, seed=None, max_tokens=None):
    """lmp's Decoder.plain: returns {tokens, text, stopReason}."""
    chain = dec["chain"]
    eos = dec["eot"]
    req = S.Request(dec["seed"] if seed is None else seed, chain, prompt_ids)
    cache = KVCache(model, dec["cache"])
    ctl = LengthController(dec["length"]) if dec["length"] else None
    maxt = dec["maxTokens"] if max_tokens is None else max_tokens
    stops = [x for x in dec["stop"] if x]
    out, prev = [], 0
    if maxt == 0:
        return {"tokens": [], "text": "", "stopReason": "max_tokens"}
    logits = feed(model, cache, list(prompt_ids))
    while True:
        x = logits.clone().view(1, -1)
        bias, force = 0.0, False
        if ctl:
            bias, force = ctl.control(units(ctl.t["unit"], out), len(out))
        if dec["minTokens"] is not None and len(out) < dec["minTokens"]:
            bias, force = float("-inf"), False
        if bias != 0:
            x[0, eos] = float("-inf") if bias == float("-inf") else x[0, eos] + bias
        tok = eos if force else S.sample(x, chain, req)
        S.accept(req, chain, tok)
        if tok == eos:
            return _finish(out, "length" if force else "eos", stops)
        out.append(tok)
        if stops:
            text = bytes_decode(out)
            longest = max(len(s) for s in stops)
            frm = max(0, prev - longest + 1)
            prev = len(text)
            if any(text.find(s, frm) >= 0 for s in stops):
                return _finish(out, "stop", stops)
        if maxt is not None and len(out) >= maxt:
            return _finish(out, "max_tokens", stops)
        logits = feed(model, cache, [tok])


def _finish(out, reason, stops):
    text = bytes_decode(out)
    if reason == "stop":
        cut = min([text.find(s) for s in stops if text.find(s) >= 0] or [len(text)])
        text = text[:cut]
    return {"tokens": out, "text": text, "stopReason": reason}
