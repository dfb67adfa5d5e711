// The fused block-sparse attention kernels on tensor cores (mma.m16n8k16, bf16/fp16 inputs,
// fp32 accumulation), flash-style, templates (instantiated per head dim in kernels_attn_d*.cu): forward (O and the log-sum-exp), the backward's delta
// pre-pass, dK/dV per key tile (dQ by atomicAdd, or not at all), and the deterministic dQ per
// query tile. 64 x 64 tiles, 4 warps of 16 rows each; the tile classes of the host classifier
// decide per tile: Empty skipped, Full with no mask evaluation, Partial with the mask program
// per element. Formulas: native/src/attention/attention.h. Host side: attention_cuda.cu.
#pragma once
#include "attention/device_attn.cuh"
#include "attention/kernels_attn.h"

namespace lmp {
namespace cu {
namespace attn {

namespace detail {

__device__ __forceinline__ float ninf() { return __int_as_float(static_cast<int>(0xff800000u)); }

struct SeqInfo {
  int qs, lq, ks, lk, qoff, nQ, nK;
};
__device__ __forceinline__ SeqInfo seq_info(const DevPlan& p, int s) {
  SeqInfo r;
  r.qs = p.cuQ[s];
  r.lq = p.cuQ[s + 1] - r.qs;
  r.ks = p.cuK[s];
  r.lk = p.cuK[s + 1] - r.ks;
  r.qoff = r.lk - r.lq;
  r.nQ = (r.lq + BQ - 1) / BQ;
  r.nK = (r.lk + BK - 1) / BK;
  return r;
}

// The first visible (non-Empty) tile after b in a row of classes, or n.
__device__ __forceinline__ int next_visible(const uint8_t* cls, int b, int n) {
  for (++b; b < n && cls[b] == 0; ++b) {
  }
  return b;
}

// cp.async copies of key tile b's K and V rows (kv head hk) into buf [K tile, V tile], one commit group.
template <int D>
__device__ __forceinline__ void load_kv(uint16_t* buf, const uint16_t* k, const uint16_t* v, const SeqInfo& si, int Hkv, int hk, int b) {
  const int k0 = b * BK;
  const int64_t koff = (static_cast<int64_t>(si.ks + k0) * Hkv + hk) * D;
  load_tile<D>(buf, k + koff, static_cast<int64_t>(Hkv) * D, si.lk - k0);
  load_tile<D>(buf + BK * Geom<D>::LD, v + koff, static_cast<int64_t>(Hkv) * D, si.lk - k0);
  cp_async_commit();
}

// The query-tile context of the forward and dQ kernels (block = (query tile, head)).
struct QTile {
  SeqInfo si;
  int h, hk, i0, plen;
  const uint8_t* cls;  // the tile's row of classes
  const int32_t* prog;
  const int32_t* docs;
  float slope;
};
__device__ __forceinline__ QTile q_tile(const DevPlan& p) {
  QTile t;
  const int s = p.qTiles[2 * blockIdx.x], qa = p.qTiles[2 * blockIdx.x + 1];
  t.h = blockIdx.y;
  t.si = seq_info(p, s);
  const int grp = p.headGroup[t.h];
  t.cls = p.classes + p.classOff[static_cast<int64_t>(s) * p.G + grp] + static_cast<int64_t>(qa) * t.si.nK;
  t.prog = p.prog + p.progOff[grp];
  t.plen = p.progOff[grp + 1] - p.progOff[grp];
  t.hk = t.h / (p.H / p.Hkv);
  t.i0 = qa * BQ;
  t.docs = p.docIds ? p.docIds + t.si.ks : nullptr;
  t.slope = p.alibi ? p.alibi[t.h] : 0.f;
  return t;
}

// The visible key tiles of a query-tile row, K/V double-buffered in buf ([2 slots][K, V]): the next
// visible tile's copies are in flight while the current one computes. for (start(); ready();) {
// ... K(), V() ... next(); }: ready() waits for the current tile (and a block barrier), next() ends
// its reads (barrier) so the slot can be refilled.
template <int D>
struct KvTiles {
  uint16_t* buf;
  const uint16_t* k;
  const uint16_t* v;
  const SeqInfo* si;
  const uint8_t* cls;
  int Hkv, hk;
  int b = 0, bn = 0, slot = 0;
  __device__ __forceinline__ void start() {
    b = next_visible(cls, -1, si->nK);
    slot = 0;
    if (b < si->nK) load_kv<D>(buf, k, v, *si, Hkv, hk, b);
  }
  __device__ __forceinline__ bool ready() {
    if (b >= si->nK) return false;
    bn = next_visible(cls, b, si->nK);
    if (bn < si->nK) {
      load_kv<D>(buf + (slot ^ 1) * 2 * BK * Geom<D>::LD, k, v, *si, Hkv, hk, bn);  // last read before the previous next()
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    return true;
  }
  __device__ __forceinline__ const uint16_t* K() const { return buf + slot * 2 * BK * Geom<D>::LD; }
  __device__ __forceinline__ const uint16_t* V() const { return K() + BK * Geom<D>::LD; }
  __device__ __forceinline__ void next() {
    __syncthreads();
    b = bn;
    slot ^= 1;
  }
};

// Forward: block = (query tile, head). O (16 x D per warp) and the row state m, l in registers.
template <int D, bool F16>
__global__ void __launch_bounds__(THREADS) fwd_kernel(DevPlan p, const uint16_t* __restrict__ q, const uint16_t* __restrict__ k,
                                                      const uint16_t* __restrict__ v, uint16_t* __restrict__ out, float* __restrict__ lse) {
  using G = Geom<D>;
  using T = Ty<F16>;
  LMP_DYNAMIC_SMEM(uint16_t, sm);
  uint16_t* sQ = sm;
  uint16_t* const kvBuf = sQ + BQ * G::LD;  // [2 slots][K tile, V tile]
  const QTile qt = q_tile(p);
  const SeqInfo& si = qt.si;
  const int h = qt.h, hk = qt.hk, i0 = qt.i0, plen = qt.plen;
  const uint8_t* cls = qt.cls;
  const int32_t* prog = qt.prog;
  const int32_t* docs = qt.docs;
  const float slope = qt.slope;
  const int w = warp_id(), lane = lane_id(), g = lane >> 2, tg = lane & 3;

  load_tile<D>(sQ, q + (static_cast<int64_t>(si.qs + i0) * p.H + h) * D, static_cast<int64_t>(p.H) * D, si.lq - i0);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  uint32_t qf[G::KC][4];
#pragma unroll
  for (int kc = 0; kc < G::KC; ++kc) frag_a(qf[kc], sQ, G::LD, w * 16, kc * 16);

  const int rowL = i0 + w * 16 + g;  // local query index of values 0, 1 (values 2, 3: + 8)
  const int qpos0 = si.qoff + rowL;  // its position in key coordinates
  const float lam[2] = {length_scale(p, qpos0), length_scale(p, qpos0 + 8)};
  const bool sp = p.power > 0;
  float o[G::NC][4];
#pragma unroll
  for (int n = 0; n < G::NC; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m[2] = {ninf(), ninf()}, l[2] = {0.f, 0.f};  // l: this lane's partial row sums

  KvTiles<D> kv{kvBuf, k, v, &si, cls, p.Hkv, hk};
  for (kv.start(); kv.ready();) {
    const uint8_t c = cls[kv.b];
    const int k0 = kv.b * BK;
    const uint16_t* sK = kv.K();
    const uint16_t* sV = kv.V();

    float sc[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < G::KC; ++kc)
#pragma unroll
      for (int j = 0; j < 8; j += 2) {
        uint32_t bf[4];
        frag_b2(bf, sK, G::LD, j * 8, kc * 16);
        T::mma(sc[j], qf[kc], bf);
        T::mma(sc[j + 1], qf[kc], bf + 2);
      }
    uint32_t vis = inside_bits(rowL, k0 + 2 * tg, si.lq, si.lk);
    if (c == 2) vis &= eval_mask<true>(prog, plen, qpos0, k0 + 2 * tg, docs);
    // scores -> x (masked: -inf for softmax, u = 0 for Softplus)
    float mx[2] = {ninf(), ninf()};
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1, kp = k0 + 2 * tg + 8 * j + (e & 1);
        float t;
        float x = score(p, sc[j][e], slope, qpos0 + 8 * r, kp, lam[r], &t);
        const bool on = (vis >> (j * 4 + e)) & 1u;
        if (sp) {
          x = on ? expf(p.power * logf(softplus(x))) : 0.f;
        } else {
          x = on ? x : ninf();
          mx[r] = fmaxf(mx[r], x);
        }
        sc[j][e] = x;
      }
    if (sp) {
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        l[0] += sc[j][0] + sc[j][1];
        l[1] += sc[j][2] + sc[j][3];
      }
    } else {
      float corr[2], base[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 1));
        mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 2));
        const float mn = fmaxf(m[r], mx[r]);
        base[r] = mn == ninf() ? 0.f : mn;  // exp(x - base) is 0 for x = -inf, never NaN
        corr[r] = expf(m[r] - base[r]);
        m[r] = mn;
      }
      float rs[2] = {0.f, 0.f};
#pragma unroll
      for (int j = 0; j < 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float e_ = expf(sc[j][e] - base[e >> 1]);
          sc[j][e] = e_;
          rs[e >> 1] += e_;
        }
#pragma unroll
      for (int r = 0; r < 2; ++r) l[r] = l[r] * corr[r] + rs[r];
#pragma unroll
      for (int n = 0; n < G::NC; ++n) {
        o[n][0] *= corr[0];
        o[n][1] *= corr[0];
        o[n][2] *= corr[1];
        o[n][3] *= corr[1];
      }
    }
    // O += P . V: P (16 x 64) as A fragments straight from the accumulators.
#pragma unroll
    for (int kc = 0; kc < 4; ++kc) {
      uint32_t a[4];
      acc_to_a<T>(a, sc, kc);
      mma_rows<T>(o, a, sV, G::LD, kc * 16);
    }
    kv.next();
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += shfl_xor(l[r], 1);
    l[r] += shfl_xor(l[r], 2);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = rowL + 8 * r;
    if (row >= si.lq) continue;
    const float inv = l[r] > 0 ? 1.f / l[r] : 0.f;
    uint16_t* dst = out + (static_cast<int64_t>(si.qs + row) * p.H + h) * D + 2 * tg;
#pragma unroll
    for (int n = 0; n < G::NC; ++n) *reinterpret_cast<uint32_t*>(dst + n * 8) = T::pack(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
    if (tg == 0) lse[static_cast<int64_t>(si.qs + row) * p.H + h] = l[r] > 0 ? (sp ? logf(l[r]) : m[r] + logf(l[r])) : ninf();
  }
}

// delta[t, h] = sum_d dO * O, one warp per row.
template <int D, bool F16>
__global__ void delta_kernel(const uint16_t* __restrict__ o, const uint16_t* __restrict__ dout, float* __restrict__ delta, int64_t rows) {
  using T = Ty<F16>;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * WARPS + warp_id();
  const int lane = lane_id();
  float acc = 0.f;
  if (row < rows)
    for (int d = lane; d < D; d += 32) acc += T::to_f(o[row * D + d]) * T::to_f(dout[row * D + d]);
  for (int x = 16; x >= 1; x >>= 1) acc += shfl_xor(acc, x);
  if (row < rows && lane == 0) delta[row] = acc;
}

// c1 = A1 B1^T and c2 = A2 B2^T for the warp's 16 rows (from r0) x 64 columns, over D: A rows and
// B rows are rows of shared tiles (S = Q K^T with dP = dO V^T, or their transposes).
template <int D, typename T>
__device__ __forceinline__ void two_products(float (&c1)[8][4], float (&c2)[8][4], const uint16_t* a1, const uint16_t* b1, const uint16_t* a2,
                                             const uint16_t* b2, int r0) {
  using G = Geom<D>;
#pragma unroll
  for (int j = 0; j < 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) c1[j][e] = c2[j][e] = 0.f;
#pragma unroll
  for (int kc = 0; kc < G::KC; ++kc) {
    uint32_t x1[4], x2[4];
    frag_a(x1, a1, G::LD, r0, kc * 16);
    frag_a(x2, a2, G::LD, r0, kc * 16);
#pragma unroll
    for (int j = 0; j < 8; j += 2) {
      uint32_t y1[4], y2[4];
      frag_b2(y1, b1, G::LD, j * 8, kc * 16);
      frag_b2(y2, b2, G::LD, j * 8, kc * 16);
      T::mma(c1[j], x1, y1);
      T::mma(c1[j + 1], x1, y1 + 2);
      T::mma(c2[j], x2, y2);
      T::mma(c2[j + 1], x2, y2 + 2);
    }
  }
}

// The backward's per-element work of one 16 x 64 accumulator block: P and dS (scaled by the score
// scale, i.e. the gradient of q.k) from the recomputed scores sc and dP = dO.V^T in dp. ROWQ: rows
// are queries. L, dl: lse and delta of the element's query; lam its length scale.
__device__ __forceinline__ void grad_elem(const DevPlan& p, float qk, float dpv, bool on, float L, float dl, float slope, int qpos, int kpos,
                                          float lam, float* P, float* dS) {
  if (!on || L == ninf()) {
    *P = 0.f;
    *dS = 0.f;
    return;
  }
  float t = 0.f;
  const float x = score(p, qk, slope, qpos, kpos, lam, &t);
  float pe, ds;
  if (p.power > 0) {
    const float spv = softplus(x);
    pe = expf(p.power * logf(spv) - L);
    const float sig = 1.f / (1.f + expf(-x));
    // d/dx of softplus(x)^pw normalized: P * pw * sigmoid(x) / softplus(x); then the length scale
    ds = spv > 0 ? pe * (dpv - dl) * p.power * sig / spv * lam : 0.f;
  } else {
    pe = expf(x - L);
    ds = pe * (dpv - dl);
  }
  if (p.softcap > 0) ds *= 1.f - t * t;
  *P = pe;
  *dS = ds * p.scale;
}

// dK, dV of one key tile (block = (key tile, kv head)): warp w owns keys w*16..w*16+15 and
// computes S^T = K Q^T and dP^T = V dO^T for every visible query tile of every query head of
// the kv head, in a fixed order (no atomics). ATOMIC_DQ: dQ += dS K by atomicAdd (fp32).
template <int D, bool F16, bool ATOMIC_DQ>
__global__ void __launch_bounds__(THREADS) dkdv_kernel(DevPlan p, const uint16_t* __restrict__ q, const uint16_t* __restrict__ k,
                                                       const uint16_t* __restrict__ v, const uint16_t* __restrict__ dout,
                                                       const float* __restrict__ lse, const float* __restrict__ delta, float* __restrict__ dq,
                                                       float* __restrict__ dk, float* __restrict__ dv) {
  using G = Geom<D>;
  using T = Ty<F16>;
  constexpr int LDS = BQ + PAD;
  LMP_DYNAMIC_SMEM(uint16_t, sm);
  uint16_t* sK = sm;
  uint16_t* sV = sK + BK * G::LD;
  uint16_t* const qBuf = sV + BK * G::LD;           // [2 slots][Q tile, dO tile]
  uint16_t* sS = qBuf + 4 * BQ * G::LD;              // dS^T [key][query] (ATOMIC_DQ)
  float* const fBuf = reinterpret_cast<float*>(sS + (ATOMIC_DQ ? BK * LDS : 0));  // [2 slots][lse, delta, lambda]
  const int s = p.kTiles[2 * blockIdx.x], kb = p.kTiles[2 * blockIdx.x + 1], hk = blockIdx.y;
  const SeqInfo si = seq_info(p, s);
  const int rep = p.H / p.Hkv;
  const int k0 = kb * BK;
  const int w = warp_id(), lane = lane_id(), g = lane >> 2, tg = lane & 3;
  const int32_t* docs = p.docIds ? p.docIds + si.ks : nullptr;
  const int64_t koff = (static_cast<int64_t>(si.ks + k0) * p.Hkv + hk) * D;
  load_tile<D>(sK, k + koff, static_cast<int64_t>(p.Hkv) * D, si.lk - k0);
  load_tile<D>(sV, v + koff, static_cast<int64_t>(p.Hkv) * D, si.lk - k0);
  cp_async_commit();
  float dka[G::NC][4], dva[G::NC][4];
#pragma unroll
  for (int n = 0; n < G::NC; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) dka[n][e] = dva[n][e] = 0.f;
  const int keyL = k0 + w * 16 + g;  // key (sequence position) of values 0, 1 (values 2, 3: + 8)
  // The visible (head r, query tile a) pairs of this key column, flattened t = r * nQ + a, in
  // order; Q / dO tiles double-buffered (the next pair's copies in flight while this one computes).
  const int total = rep * si.nQ;
  auto cls_of = [&](int t) -> uint8_t {
    const int grp = p.headGroup[hk * rep + t / si.nQ];
    return p.classes[p.classOff[static_cast<int64_t>(s) * p.G + grp] + static_cast<int64_t>(t % si.nQ) * si.nK + kb];
  };
  auto next = [&](int t) {
    for (++t; t < total && cls_of(t) == 0; ++t) {
    }
    return t;
  };
  auto issue = [&](int t, int slot) {  // the slot was last read before the previous barrier
    const int h = hk * rep + t / si.nQ, i0 = (t % si.nQ) * BQ;
    uint16_t* bq = qBuf + slot * 2 * BQ * G::LD;
    const int64_t qoff = (static_cast<int64_t>(si.qs + i0) * p.H + h) * D;
    load_tile<D>(bq, q + qoff, static_cast<int64_t>(p.H) * D, si.lq - i0);
    load_tile<D>(bq + BQ * G::LD, dout + qoff, static_cast<int64_t>(p.H) * D, si.lq - i0);
    cp_async_commit();
    if (threadIdx.x < BQ) {
      float* f = fBuf + slot * 3 * BQ;
      const int i = threadIdx.x;
      const bool ok = i0 + i < si.lq;
      const int64_t x = static_cast<int64_t>(si.qs + i0 + i) * p.H + h;
      f[i] = ok ? lse[x] : ninf();
      f[BQ + i] = ok ? delta[x] : 0.f;
      f[2 * BQ + i] = length_scale(p, si.qoff + i0 + i);
    }
  };
  int t = next(-1);
  if (t < total) issue(t, 0);
  for (int slot = 0; t < total; slot ^= 1) {
    const int tn = next(t);
    if (tn < total) {
      issue(tn, slot ^ 1);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    {
      const int h = hk * rep + t / si.nQ, i0 = (t % si.nQ) * BQ;
      const int grp = p.headGroup[h];
      const uint8_t c = cls_of(t);
      const int32_t* prog = p.prog + p.progOff[grp];
      const int plen = p.progOff[grp + 1] - p.progOff[grp];
      const float slope = p.alibi ? p.alibi[h] : 0.f;
      const uint16_t* sQ = qBuf + slot * 2 * BQ * G::LD;
      const uint16_t* sO = sQ + BQ * G::LD;
      const float* sL = fBuf + slot * 3 * BQ;
      const float* sD = sL + BQ;
      const float* sLam = sD + BQ;
      float st[8][4], dpt[8][4];
      two_products<D, T>(st, dpt, sK, sQ, sV, sO, w * 16);
      // columns are queries: local query index i0 + 8 j + 2 tg + (e & 1); rows keys keyL + 8 (e >> 1)
      uint32_t vis = inside_bits(keyL, i0 + 2 * tg, si.lk, si.lq);
      if (c == 2) vis &= eval_mask<false>(prog, plen, keyL, si.qoff + i0 + 2 * tg, docs);
#pragma unroll
      for (int j = 0; j < 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int col = 8 * j + 2 * tg + (e & 1);
          float P, dS;
          grad_elem(p, st[j][e], dpt[j][e], (vis >> (j * 4 + e)) & 1u, sL[col], sD[col], slope, si.qoff + i0 + col, keyL + 8 * (e >> 1),
                    sLam[col], &P, &dS);
          st[j][e] = P;
          dpt[j][e] = dS;
        }
      // dV += P^T dO, dK += dS^T Q (k index = queries; B(k = query, n = d) = M[query][d])
#pragma unroll
      for (int kc = 0; kc < 4; ++kc) {
        uint32_t ap[4], as[4];
        acc_to_a<T>(ap, st, kc);
        acc_to_a<T>(as, dpt, kc);
        mma_rows<T>(dva, ap, sO, G::LD, kc * 16);
        mma_rows<T>(dka, as, sQ, G::LD, kc * 16);
      }
      if (ATOMIC_DQ) {
        // dS^T to shared memory [key][query]; then warp w: dQ rows w*16.. = dS (q x keys) . K
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          uint16_t* row = sS + (w * 16 + g) * LDS + 8 * j + 2 * tg;
          *reinterpret_cast<uint32_t*>(row) = T::pack(dpt[j][0], dpt[j][1]);
          *reinterpret_cast<uint32_t*>(row + 8 * LDS) = T::pack(dpt[j][2], dpt[j][3]);
        }
        __syncthreads();
        float qa_[G::NC][4];
#pragma unroll
        for (int n = 0; n < G::NC; ++n) qa_[n][0] = qa_[n][1] = qa_[n][2] = qa_[n][3] = 0.f;
#pragma unroll
        for (int kc = 0; kc < 4; ++kc) {
          uint32_t aS[4];
          frag_a_t(aS, sS, LDS, w * 16, kc * 16);
          mma_rows<T>(qa_, aS, sK, G::LD, kc * 16);
        }
#pragma unroll
        for (int rr = 0; rr < 2; ++rr) {
          const int row = i0 + w * 16 + g + 8 * rr;
          if (row >= si.lq) continue;
          float* dst = dq + (static_cast<int64_t>(si.qs + row) * p.H + h) * D + 2 * tg;
#pragma unroll
          for (int n = 0; n < G::NC; ++n) {
            atomicAdd(dst + n * 8, qa_[n][2 * rr]);
            atomicAdd(dst + n * 8 + 1, qa_[n][2 * rr + 1]);
          }
        }
      }
    }
    __syncthreads();  // this slot's reads (and sS's) are done before the next iteration refills them
    t = tn;
  }
  cp_async_wait<0>();  // (a key tile no query sees never waited for its K / V copies)
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int key = keyL + 8 * rr;
    if (key >= si.lk) continue;
    const int64_t o = (static_cast<int64_t>(si.ks + key) * p.Hkv + hk) * D + 2 * tg;
#pragma unroll
    for (int n = 0; n < G::NC; ++n) {
      dk[o + n * 8] = dka[n][2 * rr];
      dk[o + n * 8 + 1] = dka[n][2 * rr + 1];
      dv[o + n * 8] = dva[n][2 * rr];
      dv[o + n * 8 + 1] = dva[n][2 * rr + 1];
    }
  }
}

// Deterministic dQ (block = (query tile, head)): the kv tiles of the row in increasing order,
// recomputing P and dS; dQ accumulates in registers, written once.
template <int D, bool F16>
__global__ void __launch_bounds__(THREADS) dq_kernel(DevPlan p, const uint16_t* __restrict__ q, const uint16_t* __restrict__ k,
                                                     const uint16_t* __restrict__ v, const uint16_t* __restrict__ dout,
                                                     const float* __restrict__ lse, const float* __restrict__ delta, float* __restrict__ dq) {
  using G = Geom<D>;
  using T = Ty<F16>;
  LMP_DYNAMIC_SMEM(uint16_t, sm);
  uint16_t* sQ = sm;
  uint16_t* sO = sQ + BQ * G::LD;
  uint16_t* const kvBuf = sO + BQ * G::LD;  // [2 slots][K tile, V tile]
  const QTile qt = q_tile(p);
  const SeqInfo& si = qt.si;
  const int h = qt.h, hk = qt.hk, i0 = qt.i0, plen = qt.plen;
  const uint8_t* cls = qt.cls;
  const int32_t* prog = qt.prog;
  const int32_t* docs = qt.docs;
  const float slope = qt.slope;
  const int w = warp_id(), lane = lane_id(), g = lane >> 2, tg = lane & 3;
  const int64_t qoff = (static_cast<int64_t>(si.qs + i0) * p.H + h) * D;
  load_tile<D>(sQ, q + qoff, static_cast<int64_t>(p.H) * D, si.lq - i0);
  load_tile<D>(sO, dout + qoff, static_cast<int64_t>(p.H) * D, si.lq - i0);
  cp_async_commit();
  const int rowL = i0 + w * 16 + g;
  const int qpos0 = si.qoff + rowL;
  float L[2], dl[2], lam[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const bool ok = rowL + 8 * r < si.lq;
    const int64_t x = static_cast<int64_t>(si.qs + rowL + 8 * r) * p.H + h;
    L[r] = ok ? lse[x] : ninf();
    dl[r] = ok ? delta[x] : 0.f;
    lam[r] = length_scale(p, qpos0 + 8 * r);
  }
  float acc[G::NC][4];
#pragma unroll
  for (int n = 0; n < G::NC; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  KvTiles<D> kv{kvBuf, k, v, &si, cls, p.Hkv, hk};
  for (kv.start(); kv.ready();) {
    const uint8_t c = cls[kv.b];
    const int k0 = kv.b * BK;
    const uint16_t* sK = kv.K();
    const uint16_t* sV = kv.V();
    float sc[8][4], dp[8][4];
    two_products<D, T>(sc, dp, sQ, sK, sO, sV, w * 16);
    uint32_t vis = inside_bits(rowL, k0 + 2 * tg, si.lq, si.lk);
    if (c == 2) vis &= eval_mask<true>(prog, plen, qpos0, k0 + 2 * tg, docs);
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1;
        float P, dS;
        grad_elem(p, sc[j][e], dp[j][e], (vis >> (j * 4 + e)) & 1u, L[r], dl[r], slope, qpos0 + 8 * r, k0 + 2 * tg + 8 * j + (e & 1), lam[r],
                  &P, &dS);
        dp[j][e] = dS;
      }
#pragma unroll
    for (int kc = 0; kc < 4; ++kc) {
      uint32_t a[4];
      acc_to_a<T>(a, dp, kc);
      mma_rows<T>(acc, a, sK, G::LD, kc * 16);
    }
    kv.next();
  }
  cp_async_wait<0>();  // (a row with no visible tile never waited for its Q / dO copies)
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = rowL + 8 * r;
    if (row >= si.lq) continue;
    float* dst = dq + (static_cast<int64_t>(si.qs + row) * p.H + h) * D + 2 * tg;
#pragma unroll
    for (int n = 0; n < G::NC; ++n) {
      dst[n * 8] = acc[n][2 * r];
      dst[n * 8 + 1] = acc[n][2 * r + 1];
    }
  }
}

}  // namespace detail

// Raises the kernel's dynamic shared memory limit when above the default 48 KiB, then launches.
template <typename... KArgs, typename... Args>
cudaError_t run(void (*kernel)(KArgs...), dim3 grid, size_t smem, cudaStream_t st, Args&&... args) {
  if (grid.x == 0 || grid.y == 0) return cudaSuccess;
  if (smem > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (e != cudaSuccess) return e;
  }
  return launch(kernel, grid, dim3(THREADS), smem, st, static_cast<Args&&>(args)...);
}

// The launchers of one head dim (declared in kernels_attn.h, instantiated by kernels_attn_d{32,64,128}.cu).
template <int D>
cudaError_t forward_d(const DevPlan& p, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out,
                      float* lse, cudaStream_t st) {
  const dim3 grid(nQT, p.H);
  if (f16) return run(detail::fwd_kernel<D, true>, grid, fwd_smem(D), st, p, q, k, v, out, lse);
  return run(detail::fwd_kernel<D, false>, grid, fwd_smem(D), st, p, q, k, v, out, lse);
}
template <int D>
cudaError_t delta_d(bool f16, int64_t rows, const uint16_t* o, const uint16_t* dout, float* dl, cudaStream_t st) {
  const dim3 grid(static_cast<unsigned>((rows + WARPS - 1) / WARPS), 1);
  if (f16) return run(detail::delta_kernel<D, true>, grid, 0, st, o, dout, dl, rows);
  return run(detail::delta_kernel<D, false>, grid, 0, st, o, dout, dl, rows);
}
template <int D>
cudaError_t dkdv_d(const DevPlan& p, bool f16, bool atomicDq, int nKT, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   const uint16_t* dout, const float* lse, const float* dl, float* dq, float* dk, float* dv, cudaStream_t st) {
  const dim3 grid(nKT, p.Hkv);
  const size_t sm = dkdv_smem(D, atomicDq);
  if (f16 && atomicDq) return run(detail::dkdv_kernel<D, true, true>, grid, sm, st, p, q, k, v, dout, lse, dl, dq, dk, dv);
  if (f16) return run(detail::dkdv_kernel<D, true, false>, grid, sm, st, p, q, k, v, dout, lse, dl, dq, dk, dv);
  if (atomicDq) return run(detail::dkdv_kernel<D, false, true>, grid, sm, st, p, q, k, v, dout, lse, dl, dq, dk, dv);
  return run(detail::dkdv_kernel<D, false, false>, grid, sm, st, p, q, k, v, dout, lse, dl, dq, dk, dv);
}
template <int D>
cudaError_t dq_d(const DevPlan& p, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v, const uint16_t* dout,
                 const float* lse, const float* dl, float* dq, cudaStream_t st) {
  const dim3 grid(nQT, p.H);
  if (f16) return run(detail::dq_kernel<D, true>, grid, dq_smem(D), st, p, q, k, v, dout, lse, dl, dq);
  return run(detail::dq_kernel<D, false>, grid, dq_smem(D), st, p, q, k, v, dout, lse, dl, dq);
}

}  // namespace attn
}  // namespace cu
}  // namespace lmp

// Explicit instantiation of the launchers of head dim D (kernels_attn_d{32,64,128}.cu).
#define LMP_ATTN_INSTANTIATE(D)                                                                                                       \
  namespace lmp {                                                                                                                     \
  namespace cu {                                                                                                                      \
  namespace attn {                                                                                                                    \
  template cudaError_t forward_d<D>(const DevPlan&, bool, int, const uint16_t*, const uint16_t*, const uint16_t*, uint16_t*, float*,  \
                                    cudaStream_t);                                                                                    \
  template cudaError_t delta_d<D>(bool, int64_t, const uint16_t*, const uint16_t*, float*, cudaStream_t);                             \
  template cudaError_t dkdv_d<D>(const DevPlan&, bool, bool, int, const uint16_t*, const uint16_t*, const uint16_t*, const uint16_t*, \
                                 const float*, const float*, float*, float*, float*, cudaStream_t);                                   \
  template cudaError_t dq_d<D>(const DevPlan&, bool, int, const uint16_t*, const uint16_t*, const uint16_t*, const uint16_t*,         \
                               const float*, const float*, float*, cudaStream_t);                                                     \
  }                                                                                                                                   \
  }                                                                                                                                   \
  }
