"""The length curriculum of lmp (runtime/curriculum/index.ts), line for line: which bucket every
step draws and which of its sequences each rank takes. Every rank runs the same iterator from the
same seed, so all ranks draw the same bucket; rank r takes the r-th contiguous slice of the step's
global batch (tokens_per_step / length sequences), so ranks see disjoint data and the union over
ranks is exactly the batch one process trains. `state()` / `restore()` resume exactly."""
import copy

from . import LmpxError
from .rng import Rng


class CurriculumError(LmpxError):
    def __init__(self, message):
        super().__init__("LMP_E_CURRICULUM_CONFIG", message)


class CurriculumIterator:
    def __init__(self, cfg, buckets, rank=0, ranks=None):
        """cfg: lmp's CurriculumConfig ({schedule, tokensPerStep, ranks, seed}); buckets: [{length, count}]."""
        self.cfg = cfg
        self.ranks = int(ranks if ranks is not None else cfg["ranks"])
        self.rank = rank
        if not (0 <= rank < self.ranks):
            raise CurriculumError(f"rank {rank} is outside 0..{self.ranks - 1}")
        self.buckets = sorted((dict(b) for b in buckets), key=lambda b: b["length"])
        s = cfg["schedule"]
        lengths = [b["length"] for b in self.buckets]
        if s["kind"] == "fixed" and s["length"] not in lengths:
            raise CurriculumError(f"fixed({s['length']}): no bucket of that length (have {', '.join(map(str, lengths)) or 'none'})")
        if s["kind"] == "weights":
            for w in s["weights"]:
                if w["length"] not in lengths:
                    raise CurriculumError(f"weights: no bucket of length {w['length']} (have {', '.join(map(str, lengths))})")

        def weight(b):
            if s["kind"] == "weights":
                return next((w["weight"] for w in s["weights"] if w["length"] == b["length"]), 0)
            if s["kind"] == "fixed":
                return 1 if b["length"] == s["length"] else 0
            return 1

        self.weights = [weight(b) for b in self.buckets]
        self.per_step = []
        for i, b in enumerate(self.buckets):
            per = cfg["tokensPerStep"] / b["length"]
            if self.weights[i] != 0 and (per != int(per) or int(per) % self.ranks != 0):
                raise CurriculumError(f"tokensPerStep {cfg['tokensPerStep']} is not a multiple of length {b['length']} x ranks {self.ranks}")
            self.per_step.append(int(per) if per == int(per) else per)
        self.perms = {}
        self.st = {"step": 0, "cycle": 0, "rng": Rng(cfg["seed"], 0x637572).state(), "cursor": [0] * len(self.buckets),
                   "epoch": [0] * len(self.buckets), "left": [], "done": False}
        self._start_cycle()

    @property
    def cycled(self):
        return self.cfg["schedule"]["kind"] in ("weights", "uniform")

    @property
    def cycles(self):
        s = self.cfg["schedule"]
        return s["cycles"] if s["kind"] in ("weights", "uniform") else 1

    def _per_cycle(self, b):
        return self.buckets[b]["count"] // self.cycles

    def _start_cycle(self):
        if not self.cycled:
            return
        self.st["left"] = [(self._per_cycle(b) // self.per_step[b]) if self.weights[b] > 0 else 0 for b in range(len(self.buckets))]
        self.st["cursor"] = [0] * len(self.buckets)

    def _perm(self, b, epoch):
        key = (b, epoch)
        p = self.perms.get(key)
        if p is None:
            if len(self.perms) > 64:
                self.perms.clear()
            p = Rng(self.cfg["seed"], 0x7065726D, self.buckets[b]["length"], epoch).permutation(self.buckets[b]["count"])
            self.perms[key] = p
        return p

    def _choose(self):
        s = self.cfg["schedule"]
        if s["kind"] == "fixed":
            return self.weights.index(1)
        if s["kind"] == "grow":
            t = min(1.0, self.st["step"] / s["steps"])
            g = s["from"] + (s["to"] - s["from"]) * t if s["shape"] == "linear" else s["from"] * (s["to"] / s["from"]) ** t
            best = 0
            for b in range(len(self.buckets)):
                if self.buckets[b]["length"] <= g + 1e-9 and self.per_step[b] >= 1:
                    best = b
            return best
        while True:
            left = self.st["left"]
            total = sum(self.weights[b] for b in range(len(self.buckets)) if left[b] > 0)
            if total > 0:
                rng = Rng.from_state(self.st["rng"])
                r = rng.float() * total
                self.st["rng"] = rng.state()
                pick = -1
                for b in range(len(self.buckets)):
                    if left[b] <= 0:
                        continue
                    pick = b
                    r -= self.weights[b]
                    if r < 0:
                        break
                return pick
            self.st["cycle"] += 1
            if self.st["cycle"] >= self.cycles:
                return -1
            self._start_cycle()

    def next(self):
        """The next step {step, cycle, length, bucket, globalSequences, sequences (this rank's member indices)}, or None."""
        if self.st["done"]:
            return None
        b = self._choose()
        if b < 0:
            self.st["done"] = True
            return None
        per = self.per_step[b]
        count = self.buckets[b]["count"]
        if self.cycled:
            base = self.st["cycle"] * self._per_cycle(b) + self.st["cursor"][b]
            epoch = 0
            self.st["left"][b] -= 1
        else:
            if count < per:
                raise CurriculumError(f"bucket {self.buckets[b]['length']} has {count} sequences, fewer than one step ({per})")
            if self.st["cursor"][b] + per > count:
                self.st["epoch"][b] += 1
                self.st["cursor"][b] = 0
            base = self.st["cursor"][b]
            epoch = self.st["epoch"][b]
        self.st["cursor"][b] += per
        perm = self._perm(b, epoch)
        mine = per // self.ranks
        seqs = perm[base + self.rank * mine: base + (self.rank + 1) * mine]
        step = {"step": self.st["step"], "cycle": self.st["cycle"], "length": self.buckets[b]["length"], "bucket": b,
                "globalSequences": per, "sequences": seqs, "base": base, "epoch": epoch}
        self.st["step"] += 1
        return step

    def state(self):
        return copy.deepcopy(self.st)

    def restore(self, s):
        if len(s["cursor"]) != len(self.buckets):
            raise CurriculumError(f"restore: state has {len(s['cursor'])} buckets, iterator has {len(self.buckets)}")
        self.st = copy.deepcopy(s)


class EpochCurriculum:
    """lmp's runTrain wrapper: when a (cycled) schedule ends, the next epoch is a fresh curriculum
    pass seeded seed + epochs (epochs counts passes started so far)."""

    def __init__(self, cfg, buckets, rank=0, ranks=1):
        self.cfg, self.buckets, self.rank, self.ranks = cfg, buckets, rank, ranks
        self.epochs = 1
        self.it = CurriculumIterator(cfg, buckets, rank, ranks)

    def next(self):
        s = self.it.next()
        if s is None:
            self.it = CurriculumIterator({**self.cfg, "seed": self.cfg["seed"] + self.epochs}, self.buckets, self.rank, self.ranks)
            self.epochs += 1
            s = self.it.next()
        return s

    def state(self):
        return {"epochs": self.epochs, "iterator": self.it.state()}

    def restore(self, s):
        self.epochs = s["epochs"]
        self.it = CurriculumIterator({**self.cfg, "seed": self.cfg["seed"] + self.epochs - 1}, self.buckets, self.rank, self.ranks)
        self.it.restore(s["iterator"])
