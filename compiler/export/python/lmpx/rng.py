"""sfc32, exactly as lmp's runtime/data/rng.ts: every random choice of the data and the curricula
(shard order, bucket draws, per-epoch permutations) goes through it, so a seed gives the same
schedule here as in lmp. State is four uint32 words (JSON-serializable)."""

M32 = 0xFFFFFFFF


class Rng:
    def __init__(self, seed, *streams):
        self.a, self.b, self.c, self.d = 0x9E3779B9, 0x243F6A88, 0xB7E15162, 1
        for w in (seed, *streams):
            x = int(abs(w))
            self.a ^= x & M32
            self.b ^= (x // 4294967296) & M32
            self.c ^= 0x55555555 if w < 0 else 0
            for _ in range(12):
                self.u32()

    @staticmethod
    def from_state(s):
        r = Rng(0)
        r.restore(s)
        return r

    def state(self):
        return [self.a, self.b, self.c, self.d]

    def restore(self, s):
        self.a, self.b, self.c, self.d = (int(v) & M32 for v in s)

    def u32(self):
        t = (self.a + self.b + self.d) & M32
        self.d = (self.d + 1) & M32
        self.a = self.b ^ (self.b >> 9)
        self.b = (self.c + (self.c << 3)) & M32
        self.c = ((self.c << 21) | (self.c >> 11)) & M32
        self.c = (self.c + t) & M32
        return t

    def float(self):
        """Uniform in [0, 1) with 53 bits."""
        hi = self.u32() >> 5
        lo = self.u32() >> 6
        return (hi * 67108864 + lo) / 9007199254740992

    def int(self, n):
        return int(self.float() * n)

    def shuffle(self, arr):
        """In-place Fisher-Yates (the same draws as rng.ts)."""
        for i in range(len(arr) - 1, 0, -1):
            j = self.int(i + 1)
            arr[i], arr[j] = arr[j], arr[i]
        return arr

    def permutation(self, n):
        return self.shuffle(list(range(n)))
