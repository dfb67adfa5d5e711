"""lmp's sampler chain (native/src/sampling, runtime/decode/chain.ts) as ordered functions over a
[B, V] float32 logits tensor in which a cut token is -inf. The rules are lmp's:
  * candidates are ordered by (value desc, token id asc); probabilities are softmax over the
    candidates left (float64 sums of exp(y - max));
  * filters never keep a -inf token; epsilon, eta and mirostat v2 keep at least the argmax;
  * the terminal `sample` draws one uniform u per call from a per-request SplitMix64 counter
    stream seeded by the decode's seed and returns the first candidate, walking in ascending id,
    whose running weight exceeds u * total; `greedy` draws nothing (lowest id among maxima);
  * state (token history for penalties, mirostat's mu = 2 tau at the start) is per request.
DRY is not exported (lmpc export refuses a chain that uses it)."""
import math

import torch

from . import LmpxError

NEG = float("-inf")
M64 = (1 << 64) - 1


def splitmix64_at(seed, n):
    z = (seed + (n + 1) * 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Request:
    """Per-request state: seed and draw counter, token history, mirostat mu."""

    def __init__(self, seed, chain, history=()):
        self.seed = int(seed) & M64
        self.counter = 0
        self.history = list(history)
        t = chain[-1] if chain else {"name": "sample"}
        self.mu = 2 * t["tau"] if t["name"] in ("mirostat", "mirostat_v2") else 0.0
        self.last = None  # (ids, surprises) of the latest mirostat selection

    def uniform(self):
        u = (splitmix64_at(self.seed, self.counter) >> 11) * (1.0 / 9007199254740992.0)
        self.counter += 1
        return u


def _probs(x):
    """float64 softmax over the finite entries of each row, with m (row max) and Z."""
    m = x.max(dim=-1, keepdim=True).values
    e = torch.where(torch.isfinite(x), torch.exp(x.double() - m.double()), torch.zeros_like(x, dtype=torch.float64))
    return e, m, e.sum(dim=-1, keepdim=True)


def _order(x):
    """Indices by (value desc, id asc)."""
    return torch.sort(x, dim=-1, descending=True, stable=True).indices


def _cut(x, keep):
    """x where keep, -inf (cut) elsewhere."""
    return torch.where(keep, x, torch.full_like(x, NEG))


def _crossing(e, order, need, strict):
    """Where (an index into `order`) the running mass of e taken in `order` first reaches need (> when
    strict); the last candidate when rounding leaves it short."""
    cum = torch.gather(e, -1, order).cumsum(dim=-1)
    reached = (cum > need) if strict else (cum >= need)
    reached[:, -1] = True
    return reached.int().argmax(dim=-1, keepdim=True)


def _keep_argmax(x, keep):
    none = ~keep.any(dim=-1, keepdim=True)
    arg = torch.zeros_like(keep)
    arg.scatter_(-1, x.argmax(dim=-1, keepdim=True), True)  # argmax returns the first (lowest id) maximum
    return torch.where(none, arg, keep)


def temperature(x, s, req):
    return x * torch.tensor(1.0 / s["t"], dtype=torch.float32)


def top_k(x, s, req):
    o = _order(x)
    keep = torch.zeros_like(x, dtype=torch.bool)
    keep.scatter_(-1, o[:, : s["k"]], True)
    return _cut(x, keep & torch.isfinite(x))


def _mass_cut(x, score_order, e, need, strict):
    """Keep the shortest prefix (in score_order) whose mass reaches need (> when strict)."""
    cut = _crossing(e, score_order, need, strict)
    pos = torch.arange(x.shape[-1]).expand_as(x)
    keep_sorted = pos <= cut
    keep = torch.zeros_like(keep_sorted)
    keep.scatter_(-1, score_order, keep_sorted)
    return keep


def top_p(x, s, req):
    if s["p"] >= 1:
        return x
    e, m, Z = _probs(x)
    keep = _mass_cut(x, _order(x), e, s["p"] * Z, False)
    return _cut(x, keep & torch.isfinite(x))


def min_p(x, s, req):
    if s["p"] <= 0:
        return x
    m = x.max(dim=-1, keepdim=True).values
    t = (m.double() + math.log(s["p"])).float()
    return _cut(x, x >= t)


def typical(x, s, req):
    if s["p"] >= 1:
        return x
    e, m, Z = _probs(x)
    fin = torch.isfinite(x)
    d = torch.where(fin, m.double() - x.double(), torch.zeros_like(e))
    H = torch.log(Z) + (e * (-d)).sum(-1, keepdim=True).neg() / Z  # ln Z - sum e (y - m) / Z
    score = torch.where(fin, (d + torch.log(Z) - H).abs(), torch.full_like(e, math.inf))
    order = torch.sort(score, dim=-1, stable=True).indices  # (score asc, id asc)
    llama = s.get("crossing") == "llama_cpp"
    by_id = (s.get("ties") or ("by_id" if llama else "keep")) == "by_id"
    cross = torch.gather(order, -1, _crossing(e, order, s["p"] * Z, llama))
    cs = torch.gather(score, -1, cross)
    ids = torch.arange(x.shape[-1]).expand_as(x)
    keep = (score < cs) | ((score == cs) & ((ids <= cross) if by_id else torch.ones_like(fin)))
    return _cut(x, keep & fin)


def _threshold_keep(x, thr_of):
    e, m, Z = _probs(x)
    t = (m.double() + torch.log(thr_of(e, m, Z) * Z)).float()
    return _cut(x, _keep_argmax(x, (x >= t) & torch.isfinite(x)))


def epsilon(x, s, req):
    if s["epsilon"] <= 0:
        return x
    return _threshold_keep(x, lambda e, m, Z: torch.full_like(Z, s["epsilon"]))


def eta(x, s, req):
    if s["eta"] <= 0:
        return x

    def thr(e, m, Z):
        fin = torch.isfinite(x)
        s1 = torch.where(fin, e * (x.double() - m.double()), torch.zeros_like(e)).sum(-1, keepdim=True)
        H = torch.log(Z) - s1 / Z
        return torch.minimum(torch.full_like(H, s["eta"]), math.sqrt(s["eta"]) * torch.exp(-H))

    return _threshold_keep(x, thr)


def penalties(x, s, req):
    last = s["last"]
    if last == 0 or not req.history:
        return x
    hist = req.history if last < 0 else req.history[-last:]
    x = x.clone()
    counts = {}
    for t in hist:
        counts[t] = counts.get(t, 0) + 1
    rep, fr, pr = s.get("repeat", 1), s.get("frequency", 0), s.get("presence", 0)
    for t, c in sorted(counts.items()):
        y = x[0, t]
        if not torch.isfinite(y):
            continue
        y = (y / rep) if y > 0 else (y * rep)
        x[0, t] = (y.float() - (c * fr + pr)).float()
    return x


def logit_bias(x, s, req):
    x = x.clone()
    for k, v in s["bias"].items():
        t = int(k)
        x[:, t] = NEG if v is None or v == NEG else x[:, t] + v  # JSON writes -Infinity as null
    return x


def allowed(x, s, req):
    keep = torch.zeros_like(x, dtype=torch.bool)
    keep[:, list(s["tokens"])] = True
    return _cut(x, keep)


def banned(x, s, req):
    x = x.clone()
    x[:, list(s["tokens"])] = NEG
    return x


def _mirostat_v1(x, s, req):
    e, m, Z = _probs(x)
    variant = 1 if s.get("variant") == "llama_cpp" else 0
    want = s.get("m", 100) + (0 if variant == 1 else 1)
    o = _order(x)[0]
    fin = int(torch.isfinite(x).sum())
    top = o[: min(want, fin)]
    vals = x[0, top].double()
    num = den = 0.0
    for i in range(len(top) - 1):
        t = math.log((i + 2.0) / (i + 1.0))
        b = float(vals[i] - vals[i + 1])
        num += t * b
        den += t * t
    kf = 1.0
    if len(top) >= 2 and den > 0:
        sh = num / den
        eps = sh - 1
        N = float(x.shape[-1])
        ratio = 1.0 / math.log(N) if abs(eps) < 1e-9 else eps / (1 - N ** (-eps))
        kf = (ratio * 2.0 ** req.mu) ** (1.0 / sh)
    kd = math.floor(kf) if variant == 1 else round(kf) + 1
    if not kd >= 1:
        kd = fin if math.isnan(kd) else 1
    k = int(min(kd, max(fin, 1)))
    keep = torch.zeros_like(x, dtype=torch.bool)
    keep[0, o[:k]] = True
    return keep, e, m, Z, variant


def _mirostat_v2(x, s, req):
    e, m, Z = _probs(x)
    t = (m.double() + torch.log(Z) - req.mu * math.log(2)).float()
    keep = _keep_argmax(x, (x >= t) & torch.isfinite(x))
    return keep, e, m, Z, 1 if s.get("variant") == "llama_cpp" else 0


FILTERS = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "min_p": min_p, "typical": typical, "epsilon": epsilon,
           "eta": eta, "penalties": penalties, "logit_bias": logit_bias, "allowed": allowed, "banned": banned}


def run_filters(logits, chain, req):
    """The chain's filters and, for mirostat, its selection: the final candidate logits [1, V]."""
    x = logits.to(torch.float32)
    if torch.isnan(x).any():
        raise LmpxError("LMP_E_NAN", "NaN in the logits")
    for s in chain[:-1]:
        x = FILTERS[s["name"]](x, s, req)
        if not torch.isfinite(x).any():
            raise LmpxError("LMP_E_NO_CANDIDATES", f"no candidate with a finite logit is left after {s['name']}")
    t = chain[-1]
    if t["name"] in ("mirostat", "mirostat_v2"):
        keep, e, m, Z, variant = (_mirostat_v1 if t["name"] == "mirostat" else _mirostat_v2)(x, t, req)
        x = _cut(x, keep)
        ek, _, Zk = _probs(x)
        lnz = math.log(float(Zk)) if variant == 1 else math.log(float(Z))
        ids = keep[0].nonzero().flatten()
        sur = [-((float(x[0, i]) - float(m)) - lnz) / math.log(2) for i in ids.tolist()]
        req.last = (ids.tolist(), sur)
    return x


def distribution(logits, chain, req):
    """The chain's final distribution [V] (0 where cut); draws nothing."""
    x = run_filters(logits, chain, req)
    if chain[-1]["name"] == "greedy":
        p = torch.zeros(x.shape[-1], dtype=torch.float64)
        p[int(x[0].argmax())] = 1
        return p
    e, _, Z = _probs(x)
    return (e / Z)[0]


def sample(logits, chain, req):
    """Pick a token (does not commit it: call accept)."""
    x = run_filters(logits, chain, req)
    if chain[-1]["name"] == "greedy":
        return int(x[0].argmax())
    e, _, Z = _probs(x)
    target = req.uniform() * float(Z)
    acc = 0.0
    last = None
    for i in torch.nonzero(e[0] > 0).flatten().tolist():
        acc += float(e[0, i])
        last = i
        if acc > target:
            return i
    return last


def accept(req, chain, token):
    req.history.append(int(token))
    t = chain[-1]
    if t["name"] in ("mirostat", "mirostat_v2") and req.last is not None:
        ids, sur = req.last
        if token in ids:
            eta_ = t.get("eta", 0.1 if (t["name"] == "mirostat_v2" or t.get("variant") == "llama_cpp") else 1.0)
            req.mu -= eta_ * (sur[ids.index(token)] - t["tau"])
    req.last = None
