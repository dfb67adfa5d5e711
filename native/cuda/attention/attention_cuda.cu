// Host side of the CUDA attention: argument checks, the device plan (sequences, postfix mask
// programs, classes, tile lists ordered longest first), and the forward / backward drivers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "common/device.cuh"

#include "attention/attention_cuda.h"
#include "attention/kernels_attn.h"
#include "core/status.h"
#include "model/model.h"

namespace lmp {
namespace cuda {
namespace attention {

namespace {

using lmp::attn::Params;
namespace ca = lmp::cu::attn;

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("LMP_E_CUDA", std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

// A device allocation owned by the plan.
struct Buf {
  void* p = nullptr;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() {
    if (p) cudaFree(p);
  }
  template <typename T>
  T* upload(const T* host, size_t n, const char* what) {
    if (n == 0) return nullptr;
    cuda_ok(cudaMalloc(&p, n * sizeof(T)), what);
    cuda_ok(cudaMemcpy(p, host, n * sizeof(T), cudaMemcpyHostToDevice), what);
    return static_cast<T*>(p);
  }
  template <typename T>
  T* alloc(size_t n, const char* what) {
    if (n == 0) return nullptr;
    cuda_ok(cudaMalloc(&p, n * sizeof(T)), what);
    return static_cast<T*>(p);
  }
};

// Prefix program (attention.h MaskOp) -> postfix for the device's stack evaluator; checks the
// encoding and the stack depth. Returns the index after the node.
size_t to_postfix(const int32_t* prog, size_t len, size_t pc, int depth, std::vector<int32_t>& out, int& sp, int& maxSp) {
  check(depth < 64, "LMP_E_MASK", "mask program nested too deeply");
  check(pc + 2 <= len, "LMP_E_MASK", "mask program truncated");
  const int32_t op = prog[pc], prm = prog[pc + 1];
  pc += 2;
  switch (op) {
    case ca::OP_FULL: case ca::OP_CAUSAL: case ca::OP_SAME_DOC: case ca::OP_WINDOW: case ca::OP_SINK: case ca::OP_PREFIX: case ca::OP_CHUNKED:
      check(prm >= (op == ca::OP_CHUNKED ? 1 : 0), "LMP_E_MASK", op == ca::OP_CHUNKED ? "chunk size must be >= 1" : "mask parameter must be >= 0");
      out.push_back(op);
      out.push_back(prm);
      maxSp = std::max(maxSp, ++sp);
      return pc;
    case ca::OP_AND: case ca::OP_OR:
      check(prm >= 1, "LMP_E_MASK", "and/or needs at least one argument");
      for (int32_t c = 0; c < prm; ++c) pc = to_postfix(prog, len, pc, depth + 1, out, sp, maxSp);
      out.push_back(op);
      out.push_back(prm);
      sp -= prm - 1;
      return pc;
    case ca::OP_NOT:
      pc = to_postfix(prog, len, pc, depth + 1, out, sp, maxSp);
      out.push_back(op);
      out.push_back(0);
      return pc;
    default:
      fail("LMP_E_MASK", "unknown mask op " + std::to_string(op));
  }
}

}  // namespace

void require_device() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();  // clear it
    fail("LMP_E_NO_DEVICE", std::string("no CUDA device: ") + (e != cudaSuccess ? cudaGetErrorString(e) : "none found"));
  }
}

// The plan's tables as one host image, each at a 256-byte aligned offset, so that a plan costs one
// device allocation and one upload (a step builds one: a dozen cudaMalloc / cudaMemcpy / cudaFree,
// each of which waits for the device, were most of a decoding step's host time).
struct Image {
  std::vector<unsigned char> bytes;
  std::vector<std::pair<size_t, const void**>> at;  // offset of each table -> the DevPlan field
  template <typename T>
  void add(const T* src, size_t n, const T** field) {
    *field = nullptr;
    if (!src || n == 0) return;
    const size_t off = (bytes.size() + 255) / 256 * 256;
    bytes.resize(off + n * sizeof(T));
    std::memcpy(bytes.data() + off, src, n * sizeof(T));
    at.emplace_back(off, reinterpret_cast<const void**>(field));
  }
};

struct Plan::Impl {
  ca::DevPlan dev{};
  PlanStats stats;
  int64_t D = 0, H = 0, Hkv = 0, Tq = 0, Tk = 0;
  Buf tables;         // the Image, then the backward's delta ([Tq * H] f32)
  float* delta = nullptr;
};

Plan::Plan(const Params& p, size_t classesLen) : impl(new Impl()) {
  Impl& m = *impl;
  check(p.D == 32 || p.D == 64 || p.D == 128, "LMP_E_SHAPE", "CUDA attention: headDim must be 32, 64 or 128, got " + std::to_string(p.D));
  check(p.H >= 1 && p.Hkv >= 1 && p.H % p.Hkv == 0, "LMP_E_SHAPE", "kvHeads must divide heads");
  check(p.S >= 0 && p.cuQ && p.cuK, "LMP_E_SHAPE", "cuSeqlens must have at least one entry");
  check(p.cuQ[0] == 0 && p.cuK[0] == 0, "LMP_E_SHAPE", "cuSeqlens must start at 0");
  for (int64_t s = 0; s < p.S; ++s) {
    const int64_t lq = p.cuQ[s + 1] - p.cuQ[s], lk = p.cuK[s + 1] - p.cuK[s];
    check(lq >= 0 && lk >= 0, "LMP_E_SHAPE", "cuSeqlens must be non-decreasing");
    check(lq <= lk, "LMP_E_SHAPE", "a sequence has more queries than keys (queries are the last positions of the keys)");
  }
  check(p.distLimit <= 0, "LMP_E_CONFIG_UNSUPPORTED", "CUDA attention: the LM-Infinite distance limit is not implemented on CUDA yet (use the CPU kernels)");
  check(std::isfinite(p.scale), "LMP_E_ARG", "scale must be finite");
  check(!(p.softcap < 0) && std::isfinite(p.softcap), "LMP_E_ARG", "softcap must be >= 0");
  check(!(p.power < 0), "LMP_E_ARG", "softplus power must be >= 0");
  if (p.power > 0) check(p.logLenBase > 0, "LMP_E_ARG", "softplus length base must be > 1");
  check(p.G >= 1 && static_cast<int64_t>(p.progs.size()) == p.G && static_cast<int64_t>(p.progLens.size()) == p.G, "LMP_E_MASK",
        "need one mask program per head group");
  check(p.headGroup != nullptr && p.classes != nullptr && p.classOff != nullptr, "LMP_E_MASK", "headGroup, classes and classOffsets are required");
  for (int64_t h = 0; h < p.H; ++h) check(p.headGroup[h] >= 0 && p.headGroup[h] < p.G, "LMP_E_MASK", "headGroup entry out of range");
  for (size_t x = 0; x < classesLen; ++x) check(p.classes[x] <= 2, "LMP_E_MASK", "block class must be 0, 1 or 2");
  m.D = p.D, m.H = p.H, m.Hkv = p.Hkv, m.Tq = p.cuQ[p.S], m.Tk = p.cuK[p.S];
  check(m.Tq < (int64_t(1) << 30) && m.Tk < (int64_t(1) << 30), "LMP_E_SHAPE", "CUDA attention: at most 2^30 tokens");

  // Programs: postfix, concatenated.
  std::vector<int32_t> post, off(static_cast<size_t>(p.G) + 1, 0);
  for (int64_t g = 0; g < p.G; ++g) {
    int sp = 0, maxSp = 0;
    const size_t end = to_postfix(p.progs[g], static_cast<size_t>(p.progLens[g]), 0, 0, post, sp, maxSp);
    check(end == static_cast<size_t>(p.progLens[g]), "LMP_E_MASK", "mask program has trailing entries");
    check(maxSp <= ca::MAX_STACK, "LMP_E_MASK", "CUDA attention: mask program needs more than " + std::to_string(ca::MAX_STACK) + " stack entries");
    off[g + 1] = static_cast<int32_t>(post.size());
  }

  // Tiles: classes in range; work per q tile row / kv tile column (non-empty tiles over heads),
  // the longest launched first (causal masks: the last query tiles see the most keys).
  std::vector<int64_t> groupHeads(static_cast<size_t>(p.G), 0);
  for (int64_t h = 0; h < p.H; ++h) ++groupHeads[p.headGroup[h]];
  std::vector<int32_t> qt, kt;
  std::vector<int64_t> qWork, kWork;
  for (int64_t s = 0; s < p.S; ++s) {
    const int64_t lq = p.cuQ[s + 1] - p.cuQ[s], lk = p.cuK[s + 1] - p.cuK[s];
    const int64_t nQ = (lq + TILE_Q - 1) / TILE_Q, nK = (lk + TILE_KV - 1) / TILE_KV;
    m.stats.densePairs += static_cast<double>(lq) * static_cast<double>(lk) * static_cast<double>(p.H);
    const size_t q0 = qWork.size(), k0 = kWork.size();
    for (int64_t a = 0; a < nQ; ++a) qt.push_back(static_cast<int32_t>(s)), qt.push_back(static_cast<int32_t>(a)), qWork.push_back(0);
    for (int64_t b = 0; b < nK; ++b) kt.push_back(static_cast<int32_t>(s)), kt.push_back(static_cast<int32_t>(b)), kWork.push_back(0);
    for (int64_t g = 0; g < p.G; ++g) {
      const int64_t o = p.classOff[s * p.G + g];
      check(o >= 0 && static_cast<size_t>(o + nQ * nK) <= classesLen, "LMP_E_SHAPE", "block classes too short for the sequences");
      for (int64_t a = 0; a < nQ; ++a)
        for (int64_t b = 0; b < nK; ++b) {
          const uint8_t c = p.classes[o + a * nK + b];
          if (c == 0) continue;
          qWork[q0 + a] += groupHeads[g];
          kWork[k0 + b] += groupHeads[g];
          m.stats.computedTiles += groupHeads[g];
          if (c == 2) m.stats.partialTiles += groupHeads[g];
        }
    }
  }
  m.stats.qTiles = static_cast<int64_t>(qWork.size());
  m.stats.kTiles = static_cast<int64_t>(kWork.size());
  auto longest_first = [](const std::vector<int32_t>& tiles, const std::vector<int64_t>& work) {
    std::vector<size_t> idx(work.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return work[a] > work[b]; });
    std::vector<int32_t> out;
    out.reserve(tiles.size());
    for (size_t i : idx) out.push_back(tiles[2 * i]), out.push_back(tiles[2 * i + 1]);
    return out;
  };
  qt = longest_first(qt, qWork);
  kt = longest_first(kt, kWork);

  require_device();
  size_t classOffN = static_cast<size_t>(p.S * p.G);
  ca::DevPlan& d = m.dev;
  Image img;
  img.add(p.cuQ, static_cast<size_t>(p.S) + 1, &d.cuQ);
  img.add(p.cuK, static_cast<size_t>(p.S) + 1, &d.cuK);
  img.add(p.docIds, p.docIds ? static_cast<size_t>(m.Tk) : 0, &d.docIds);
  img.add(p.headGroup, static_cast<size_t>(p.H), &d.headGroup);
  img.add<int32_t>(post.data(), post.size(), &d.prog);
  img.add<int32_t>(off.data(), off.size(), &d.progOff);
  img.add(p.classes, classesLen, &d.classes);
  img.add(p.classOff, classOffN, &d.classOff);
  img.add<int32_t>(qt.data(), qt.size(), &d.qTiles);
  img.add<int32_t>(kt.data(), kt.size(), &d.kTiles);
  img.add(p.alibi, p.alibi ? static_cast<size_t>(p.H) : 0, &d.alibi);
  const size_t deltaOff = (img.bytes.size() + 255) / 256 * 256, deltaN = static_cast<size_t>(m.Tq * p.H);
  unsigned char* base = m.tables.alloc<unsigned char>(deltaOff + deltaN * sizeof(float), "plan tables");
  if (base) {
    for (auto& [o, field] : img.at) *field = base + o;
    m.delta = deltaN ? reinterpret_cast<float*>(base + deltaOff) : nullptr;
    // one staged upload on the model module's stream (page-locked, no wait); the kernels that read
    // the tables are queued after it (on that stream, or on the legacy stream, which waits for it)
    if (!img.bytes.empty()) {
      lmp::cuda::model::Tensor t;
      t.dtype = lmp::cuda::model::DType::I32;
      t.data = base;
      t.numel = static_cast<int64_t>((deltaOff + deltaN * sizeof(float)) / 4);
      lmp::cuda::model::upload(t, img.bytes.data(), img.bytes.size());
    }
  }
  d.H = static_cast<int>(p.H);
  d.Hkv = static_cast<int>(p.Hkv);
  d.G = static_cast<int>(p.G);
  d.scale = p.scale;
  d.softcap = p.softcap;
  d.invSoftcap = p.softcap > 0 ? 1.0f / p.softcap : 0.f;
  d.alibiLimit = p.alibiLimit > 0 ? static_cast<float>(p.alibiLimit) : INFINITY;
  d.power = p.power;
  d.logLenBase = p.logLenBase;
}

Plan::~Plan() = default;
const PlanStats& Plan::stats() const { return impl->stats; }
int64_t Plan::tokensQ() const { return impl->Tq; }
int64_t Plan::tokensK() const { return impl->Tk; }

void forward(const Plan& plan, Dtype dt, const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out, float* lse, void* stream) {
  const Plan::Impl& m = *plan.impl;
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  cuda_ok(ca::launch_forward(m.dev, static_cast<int>(m.D), dt == Dtype::F16, static_cast<int>(m.stats.qTiles), q, k, v, out, lse, st),
          "attention forward");
}

void backward(Plan& plan, Dtype dt, const uint16_t* q, const uint16_t* k, const uint16_t* v, const uint16_t* o, const uint16_t* dout,
              const float* lse, float* dq, float* dk, float* dv, bool deterministic, void* stream) {
  Plan::Impl& m = *plan.impl;
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  const int D = static_cast<int>(m.D);
  const bool f16 = dt == Dtype::F16;
  float* delta = m.delta;
  cuda_ok(ca::launch_delta(D, f16, m.Tq * m.H, o, dout, delta, st), "attention backward (delta)");
  if (!deterministic && m.Tq > 0) cuda_ok(cudaMemsetAsync(dq, 0, static_cast<size_t>(m.Tq * m.H * m.D) * sizeof(float), st), "attention backward");
  cuda_ok(ca::launch_dkdv(m.dev, D, f16, !deterministic, static_cast<int>(m.stats.kTiles), q, k, v, dout, lse, delta, dq, dk, dv, st),
          "attention backward (dK, dV)");
  if (deterministic)
    cuda_ok(ca::launch_dq(m.dev, D, f16, static_cast<int>(m.stats.qTiles), q, k, v, dout, lse, delta, dq, st), "attention backward (dQ)");
}

namespace {

std::vector<uint16_t> to_dtype(const float* x, size_t n, Dtype dt) {
  std::vector<uint16_t> r(n);
  for (size_t i = 0; i < n; ++i) r[i] = dt == Dtype::F16 ? lmp::cu::f32_to_f16(x[i]) : lmp::cu::f32_to_bf16(x[i]);
  return r;
}

// A device copy of a host vector (or an output buffer) for the convenience API.
template <typename T>
struct DevVec {
  Buf b;
  T* p = nullptr;
  DevVec(size_t n, const T* host = nullptr) {
    p = host ? b.upload(host, n, "attention copy") : b.alloc<T>(n, "attention alloc");
  }
};

}  // namespace

void forward_host(const Params& p, size_t classesLen, Dtype dt, float* out, float* lse) {
  Plan plan(p, classesLen);
  const size_t nq = static_cast<size_t>(plan.tokensQ() * p.H * p.D), nk = static_cast<size_t>(plan.tokensK() * p.Hkv * p.D);
  const size_t nl = static_cast<size_t>(plan.tokensQ() * p.H);
  DevVec<uint16_t> q(nq, to_dtype(p.q, nq, dt).data()), k(nk, to_dtype(p.k, nk, dt).data()), v(nk, to_dtype(p.v, nk, dt).data());
  DevVec<uint16_t> o(nq);
  DevVec<float> l(nl);
  forward(plan, dt, q.p, k.p, v.p, o.p, l.p);
  std::vector<uint16_t> oh(nq);
  if (nq) cuda_ok(cudaMemcpy(oh.data(), o.p, nq * 2, cudaMemcpyDeviceToHost), "attention forward copy");
  if (nl) cuda_ok(cudaMemcpy(lse, l.p, nl * 4, cudaMemcpyDeviceToHost), "attention forward copy");
  for (size_t i = 0; i < nq; ++i) out[i] = dt == Dtype::F16 ? lmp::cu::f16_to_f32(oh[i]) : lmp::cu::bf16_to_f32(oh[i]);
}

void backward_host(const Params& p, size_t classesLen, Dtype dt, const float* o, const float* dout, const float* lse, float* dq, float* dk,
                   float* dv, bool deterministic) {
  Plan plan(p, classesLen);
  const size_t nq = static_cast<size_t>(plan.tokensQ() * p.H * p.D), nk = static_cast<size_t>(plan.tokensK() * p.Hkv * p.D);
  const size_t nl = static_cast<size_t>(plan.tokensQ() * p.H);
  DevVec<uint16_t> q(nq, to_dtype(p.q, nq, dt).data()), k(nk, to_dtype(p.k, nk, dt).data()), v(nk, to_dtype(p.v, nk, dt).data());
  DevVec<uint16_t> od(nq, to_dtype(o, nq, dt).data()), dod(nq, to_dtype(dout, nq, dt).data());
  DevVec<float> l(nl, lse), gq(nq), gk(nk), gv(nk);
  backward(plan, dt, q.p, k.p, v.p, od.p, dod.p, l.p, gq.p, gk.p, gv.p, deterministic);
  if (nq) cuda_ok(cudaMemcpy(dq, gq.p, nq * 4, cudaMemcpyDeviceToHost), "attention backward copy");
  if (nk) cuda_ok(cudaMemcpy(dk, gk.p, nk * 4, cudaMemcpyDeviceToHost), "attention backward copy");
  if (nk) cuda_ok(cudaMemcpy(dv, gv.p, nk * 4, cudaMemcpyDeviceToHost), "attention backward copy");
}

}  // namespace attention
}  // namespace cuda
}  // namespace lmp
