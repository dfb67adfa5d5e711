"""The shards `lmpc data` writes (runtime/data/shards.ts), read with memory maps, and the batch
sampler that replays lmp's curriculum.

A cache entry DIR/KEY/ holds index.json and per bucket L and shard i:
  b<L>-<i>.tok  tokens, uint16 LE (vocabulary <= 65536) or uint32 LE
  b<L>-<i>.idx  float64 LE: numSeqs + 1 token offsets, then numSeqs + 1 segment offsets
  b<L>-<i>.seg  int32 LE triples per segment: document id, offset in the sequence, length
CRC-32 of every file is in index.json; a shard is checked the first time it is touched.

Sequence order: lmp's curriculum indexes a bucket's sequences in plan order (member i of the
bucket); the shards store each bucket shuffled with Rng(data seed, 0x7368, L), so member i lives
at the shard position the same shuffle gives it (computed here, not stored)."""
import json
import os
import zlib
import hashlib

import numpy as np
import torch

from . import LmpxError
from .curriculum import EpochCurriculum
from .rng import Rng


class ShardError(LmpxError):
    def __init__(self, message, code="LMP_E_SHARD_CORRUPT"):
        super().__init__(code, message)


def _crc_file(path):
    c = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return c
            c = zlib.crc32(b, c)


class ShardSet:
    """Random access to one shard cache entry; sequences of a bucket by plan-order member index."""

    def __init__(self, directory, verify=True):
        self.dir = directory
        path = os.path.join(directory, "index.json")
        try:
            with open(path, encoding="utf-8") as f:
                self.index = json.load(f)
        except (OSError, ValueError) as e:
            raise ShardError(f"{path}: unreadable shard index ({e})")
        if self.index.get("version") != 1:
            raise ShardError(f"{path}: format version {self.index.get('version')}, expected 1")
        self.verify = verify
        self.dtype = np.uint16 if self.index["dtype"] == "u16" else np.uint32
        self.positions = self.index["positions"]
        self.seed = self.index["config"]["seed"]
        self.buckets = {b["length"]: b for b in self.index["buckets"]}
        self._maps = {}
        self._where = {}

    def bucket_list(self):
        return [{"length": b["length"], "count": b["sequences"]} for b in self.index["buckets"]]

    def _shard(self, sh):
        m = self._maps.get(sh["name"])
        if m is not None:
            return m
        w = np.dtype(self.dtype).itemsize
        files = {"tok": sh["tokens"] * w, "idx": 16 * (sh["sequences"] + 1), "seg": 12 * sh["segments"]}
        for ext, size in files.items():
            p = os.path.join(self.dir, f"{sh['name']}.{ext}")
            if not os.path.exists(p):
                raise ShardError(f"{p}: shard file missing")
            if os.path.getsize(p) != size:
                raise ShardError(f"{p}: size {os.path.getsize(p)}, index says {size} (truncated or corrupt shard)")
            if self.verify and _crc_file(p) != sh["crc"][ext]:
                raise ShardError(f"{p}: CRC-32 does not match the index: corrupt shard")

        def mm(ext, dt, n):
            p = os.path.join(self.dir, f"{sh['name']}.{ext}")
            return np.memmap(p, dtype=dt, mode="r", shape=(n,)) if n > 0 else np.zeros((0,), dt)

        m = {"tok": mm("tok", np.dtype(self.dtype).newbyteorder("<"), sh["tokens"]),
             "idx": mm("idx", np.dtype("<f8"), 2 * (sh["sequences"] + 1)),
             "seg": mm("seg", np.dtype("<i4"), 3 * sh["segments"]).reshape(-1, 3), "n": sh["sequences"]}
        self._maps[sh["name"]] = m
        return m

    def _positions_of(self, length):
        """Shard position of every plan-order member of bucket `length`."""
        w = self._where.get(length)
        if w is None:
            n = self.buckets[length]["sequences"]
            shuffled = Rng(self.seed, 0x7368, length).shuffle(list(range(n)))
            w = np.empty(n, dtype=np.int64)
            w[np.asarray(shuffled, dtype=np.int64)] = np.arange(n, dtype=np.int64)
            self._where[length] = w
        return w

    def sequence(self, length, member):
        """(tokens int64 [n], segments int32 [k, 3]) of member `member` of bucket `length`."""
        b = self.buckets.get(length)
        if b is None:
            raise IndexError(f"no bucket of length {length} (have {', '.join(map(str, self.buckets))})")
        if not (0 <= member < b["sequences"]):
            raise IndexError(f"sequence {member} outside bucket {length} (0..{b['sequences'] - 1})")
        j = int(self._positions_of(length)[member])
        for sh in b["shards"]:
            if j < sh["sequences"]:
                break
            j -= sh["sequences"]
        m = self._shard(sh)
        n = m["n"]
        t0, t1 = int(m["idx"][j]), int(m["idx"][j + 1])
        g0, g1 = int(m["idx"][n + 1 + j]), int(m["idx"][n + 2 + j])
        return np.asarray(m["tok"][t0:t1], dtype=np.int64), np.asarray(m["seg"][g0:g1])

    def batch(self, length, members):
        """A [B, T] batch of one bucket: tokens, positions, docs (-1 on padding), loss mask, targets."""
        items = [self.sequence(length, int(i)) for i in members]
        T = len(items[0][0])
        if any(len(t) != T for t, _ in items):
            raise ShardError(f"bucket {length}: sequences of different lengths in one batch", "LMP_E_BATCH")
        B = len(items)
        tokens = np.zeros((B, T), np.int64)
        pos = np.tile(np.arange(T, dtype=np.int64), (B, 1))
        docs = np.full((B, T), -1, np.int64)
        mask = np.zeros((B, T), np.float32)
        for r, (tok, seg) in enumerate(items):
            tokens[r] = tok
            for doc, off, ln in seg:
                docs[r, off:off + ln] = doc
                mask[r, off:off + ln] = 1
                if self.positions == "segment":
                    pos[r, off:off + ln] = np.arange(ln)
        return make_batch(tokens, pos, docs, mask)


def make_batch(tokens, pos, docs, mask):
    """Default targets as lmp's (llama.ts defaultTargets): the next token of the same sequence and
    document, -1 otherwise; weight = loss mask where there is a target."""
    tokens, pos, docs, mask = (torch.as_tensor(x) for x in (tokens, pos, docs, mask))
    targets = torch.full_like(tokens, -1)
    same = docs[:, :-1] == docs[:, 1:]
    targets[:, :-1] = torch.where(same, tokens[:, 1:], torch.full_like(tokens[:, 1:], -1))
    weight = torch.where(targets >= 0, mask.to(torch.float32), torch.zeros_like(mask, dtype=torch.float32))
    B, T = tokens.shape
    # cu_seqlens of the flattened batch (varlen kernels): every sequence of a bucket has T tokens
    cu = torch.arange(B + 1, dtype=torch.int32) * T
    return {"tokens": tokens, "positions": pos, "docs": docs, "targets": targets, "weight": weight, "cu_seqlens": cu}


class ShardDataset(torch.utils.data.Dataset):
    """Items are (bucket length, member index) pairs; the collate function builds the batch."""

    def __init__(self, shards):
        self.shards = shards

    def __len__(self):
        return sum(b["sequences"] for b in self.shards.index["buckets"])

    def __getitem__(self, key):
        return key

    def collate(self, keys):
        length = keys[0][0]
        return self.shards.batch(length, [m for _, m in keys])


class BucketBatchSampler:
    """`DataLoader(dataset, batch_sampler=BucketBatchSampler(...), collate_fn=dataset.collate)`.

    Every rank runs lmp's curriculum from the shared seed: the same bucket at every step, a batch
    of tokens_per_step / length sequences over all ranks (variable batch size, constant tokens),
    the curriculum's weights and cycles, a new seeded pass when a schedule ends. This rank yields
    its contiguous slice. Not DistributedSampler: that one assumes a fixed batch size.
    `state_dict()` / `load_state_dict()` resume exactly; `schedule_hash()` fingerprints the
    global schedule so far (ranks compare it, see trainer.py)."""

    def __init__(self, shards, curriculum, rank=0, world_size=1):
        self.shards = shards
        if os.environ.get("LMPX_TEST_SKEW_RANK") == str(rank):  # tests: a rank whose schedule differs
            curriculum = {**curriculum, "seed": curriculum["seed"] + 1}
        self.cur = EpochCurriculum(curriculum, shards.bucket_list(), rank, world_size)
        self.chain = ""  # rolling hash of the global schedule so far
        self.last = None

    def __iter__(self):
        return self

    def __next__(self):
        s = self.cur.next()
        if s is None:
            raise StopIteration
        self.last = s
        # what every rank must agree on: step, length, where the global batch starts, epoch, cycle
        info = f"{self.chain}|{self.cur.epochs}:{s['step']}:{s['length']}:{s['base']}:{s['epoch']}:{s['cycle']}"
        self.chain = hashlib.sha256(info.encode()).hexdigest()
        return [(s["length"], m) for m in s["sequences"]]

    def schedule_hash(self):
        return int(self.chain[:15] or "0", 16)

    def state_dict(self):
        return {"curriculum": self.cur.state(), "chain": self.chain}

    def load_state_dict(self, s):
        self.cur.restore(s["curriculum"])
        self.chain = s["chain"]  # the hash continues from the saved one


def eval_batches(shards, max_tokens=16384):
    """Every sequence of a held-out shard set once, per bucket in increasing length, in batches of
    up to max_tokens tokens (lmp's prepareEval: EVAL_BATCH_TOKENS = 16384)."""
    out = []
    for b in sorted(shards.index["buckets"], key=lambda x: x["length"]):
        n = b["sequences"]
        first = shards.sequence(b["length"], 0)[0]
        per = max(1, max_tokens // max(1, len(first)))
        for i in range(0, n, per):
            out.append((b["length"], shards.batch(b["length"], range(i, min(n, i + per)))))
    return out
