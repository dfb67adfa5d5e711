// Block classes on the host in C++, closed form: the same rules as the TypeScript classifier
// (runtime/mask/classify.ts, classifyTile / classifyBlocks) over the prefix mask program of
// attention.h, for callers without Node (the parity and benchmark checks). Each primitive is
// decided from the tile's interval bounds; same_document from the range of document ids the
// tile's rows and columns touch; and / or / not compose three-valued (Kleene) results.
// Empty and Full are exact claims; Partial may rarely be uniform for compositions.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace lmp {
namespace cuda {
namespace attention {

struct TileBox {
  int64_t q0, q1, k0, k1;    // inclusive positions (key coordinates)
  int32_t dq0, dq1, dk0, dk1;  // document id ranges of the rows / columns
};

// Class (0 Empty, 1 Full, 2 Partial) of the node at prog[pc]; *next = the index after the node.
inline uint8_t classify_tile(const int32_t* prog, size_t pc, const TileBox& t, size_t* next) {
  const int32_t op = prog[pc], prm = prog[pc + 1];
  pc += 2;
  *next = pc;
  auto tri = [](bool allTrue, bool allFalse) -> uint8_t { return allTrue ? 1 : allFalse ? 0 : 2; };
  switch (op) {
    case 0: return 1;
    case 1: return tri(t.k1 <= t.q0, t.k0 > t.q1);                                        // kv <= q
    case 2: return tri(t.q1 - t.k0 < prm, t.q0 - t.k1 >= prm);                            // q - kv < w
    case 3: return tri(t.k1 < prm, t.k0 >= prm);                                          // kv < g
    case 4: return tri(t.k1 < prm || t.k1 <= t.q0, t.k0 >= prm && t.k0 > t.q1);           // prefix
    case 5: {                                                                              // chunked
      const int64_t a0 = t.q0 / prm, a1 = t.q1 / prm, b0 = t.k0 / prm, b1 = t.k1 / prm;
      return tri(a0 == a1 && b0 == b1 && a0 == b0, a1 < b0 || b1 < a0);
    }
    case 6: return tri(t.dq0 == t.dq1 && t.dk0 == t.dk1 && t.dq0 == t.dk0, t.dq1 < t.dk0 || t.dk1 < t.dq0);
    case 7: case 8: {
      bool all = true, none = true;  // and: all Full / any Empty; or: any Full / all Empty
      uint8_t res = 2;
      bool decided = false;
      for (int32_t c = 0; c < prm; ++c) {
        const uint8_t x = classify_tile(prog, pc, t, &pc);
        if (op == 7) {
          if (x == 0 && !decided) res = 0, decided = true;
          if (x != 1) all = false;
        } else {
          if (x == 1 && !decided) res = 1, decided = true;
          if (x != 0) none = false;
        }
      }
      *next = pc;
      if (decided) return res;
      return op == 7 ? (all ? 1 : 2) : (none ? 0 : 2);
    }
    default: {
      const uint8_t x = classify_tile(prog, pc, t, next);
      return x == 1 ? 0 : x == 0 ? 1 : 2;
    }
  }
}

// Classes [nQ x nK] of one sequence (lq queries at the last positions of lk keys) with tiles of
// tq x tk; docs: document id per key position of the sequence (null: one document).
inline std::vector<uint8_t> classify_blocks(const int32_t* prog, int64_t lq, int64_t lk, const int32_t* docs, int64_t tq = 64, int64_t tk = 64) {
  const int64_t qoff = lk - lq, nQ = (lq + tq - 1) / tq, nK = (lk + tk - 1) / tk;
  auto range = [&](int64_t from, int64_t to, int32_t* lo, int32_t* hi) {  // positions [from, to]
    if (!docs) { *lo = *hi = 0; return; }
    *lo = docs[from], *hi = docs[from];
    for (int64_t x = from + 1; x <= to; ++x) *lo = std::min(*lo, docs[x]), *hi = std::max(*hi, docs[x]);
  };
  std::vector<int32_t> kd(static_cast<size_t>(2 * nK));
  for (int64_t b = 0; b < nK; ++b) range(b * tk, std::min(lk, (b + 1) * tk) - 1, &kd[2 * b], &kd[2 * b + 1]);
  std::vector<uint8_t> out(static_cast<size_t>(nQ * nK));
  for (int64_t a = 0; a < nQ; ++a) {
    TileBox t;
    t.q0 = qoff + a * tq;
    t.q1 = qoff + std::min(lq, (a + 1) * tq) - 1;
    range(t.q0, t.q1, &t.dq0, &t.dq1);
    for (int64_t b = 0; b < nK; ++b) {
      t.k0 = b * tk;
      t.k1 = std::min(lk, (b + 1) * tk) - 1;
      t.dk0 = kd[2 * b], t.dk1 = kd[2 * b + 1];
      size_t next;
      out[a * nK + b] = classify_tile(prog, 0, t, &next);
    }
  }
  return out;
}

}  // namespace attention
}  // namespace cuda
}  // namespace lmp
