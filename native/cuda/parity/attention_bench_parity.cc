// Timing of the CUDA fused attention for bench/gpu/attention.py (GPU only, and only when
// LMP_ATTN_BENCH names a cases file; otherwise the check notes that it skipped). One case per line:
//   name B T H Hkv D prog docs
// prog: the prefix mask program (attention.h MaskOp), comma-separated ints; docs: document lengths
// of one sequence, comma-separated, or '-' (one document). B sequences of T tokens, packed. Prints
//   BENCH name fwd_ms bwd_det_ms bwd_atomic_ms computed_tiles partial_tiles dense_pairs
// (milliseconds per call from cudaEvents, mean of the timed runs after warm-up; bf16 inputs).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attention/attention_cuda.h"
#include "attention/classify_host.h"
#include "common/device.cuh"
#include "parity/parity.h"

namespace {

std::vector<int32_t> ints(const std::string& s) {
  std::vector<int32_t> r;
  if (s == "-") return r;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) r.push_back(static_cast<int32_t>(std::stol(x)));
  return r;
}

struct DevMem {
  void* p = nullptr;
  explicit DevMem(size_t bytes) { lmp::parity::cuda_ok(cudaMalloc(&p, bytes ? bytes : 16), "bench alloc"); }
  ~DevMem() { cudaFree(p); }
};

template <typename F>
double time_ms(F&& f, int warm, int iters) {
  for (int i = 0; i < warm; ++i) f();
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  cudaEventRecord(a, nullptr);
  for (int i = 0; i < iters; ++i) f();
  cudaEventRecord(b, nullptr);
  cudaEventSynchronize(b);
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms / iters;
}

}  // namespace

LMP_PARITY_CHECK_GPU(attention_bench) {
  namespace ca = lmp::cuda::attention;
  const char* path = std::getenv("LMP_ATTN_BENCH");
  if (!path) {
    lmp::parity::note("skipped: set LMP_ATTN_BENCH to a cases file (bench/gpu/attention.py writes one)");
    return;
  }
  std::ifstream in(path);
  lmp::parity::expect(static_cast<bool>(in), std::string("cases file ") + path + (in ? "" : ": cannot read"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name, progS, docsS;
    int64_t B, T, H, Hkv, D;
    ls >> name >> B >> T >> H >> Hkv >> D >> progS >> docsS;
    const std::vector<int32_t> prog = ints(progS), docLens = ints(docsS);
    std::vector<int32_t> cu(static_cast<size_t>(B) + 1, 0), docs;
    for (int64_t s = 0; s < B; ++s) cu[s + 1] = static_cast<int32_t>(cu[s] + T);
    std::vector<int32_t> seqDocs;
    if (!docLens.empty()) {
      int32_t id = 0;
      for (int32_t L : docLens) {
        for (int32_t i = 0; i < L && static_cast<int64_t>(seqDocs.size()) < T; ++i) seqDocs.push_back(id);
        ++id;
      }
      while (static_cast<int64_t>(seqDocs.size()) < T) seqDocs.push_back(id);
      for (int64_t s = 0; s < B; ++s) docs.insert(docs.end(), seqDocs.begin(), seqDocs.end());
    }
    const std::vector<uint8_t> cls = ca::classify_blocks(prog.data(), T, T, seqDocs.empty() ? nullptr : seqDocs.data());
    std::vector<uint8_t> classes;
    std::vector<int64_t> classOff(static_cast<size_t>(B));
    for (int64_t s = 0; s < B; ++s) classOff[s] = static_cast<int64_t>(classes.size()), classes.insert(classes.end(), cls.begin(), cls.end());
    std::vector<int32_t> headGroup(static_cast<size_t>(H), 0);
    lmp::attn::Params p;
    p.H = H, p.Hkv = Hkv, p.D = D, p.S = B;
    p.cuQ = cu.data(), p.cuK = cu.data();
    p.docIds = docs.empty() ? nullptr : docs.data();
    p.G = 1;
    p.progs.push_back(prog.data());
    p.progLens.push_back(static_cast<int32_t>(prog.size()));
    p.headGroup = headGroup.data();
    p.classes = classes.data();
    p.classOff = classOff.data();
    p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
    try {
      ca::Plan plan(p, classes.size());
      const size_t Nt = static_cast<size_t>(B * T);
      const size_t nq = Nt * H * D, nk = Nt * Hkv * D;
      DevMem q(nq * 2), k(nk * 2), v(nk * 2), o(nq * 2), dO(nq * 2), lse(Nt * H * 4), dq(nq * 4), dk(nk * 4), dv(nk * 4);
      {  // random bf16 in [-1, 1) (values do not change the work)
        lmp::parity::Rng rng(7);
        std::vector<uint16_t> h(std::max(nq, nk));
        for (auto& x : h) x = lmp::cu::f32_to_bf16(static_cast<float>(rng.uniform(-1, 1)));
        cudaMemcpy(q.p, h.data(), nq * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dO.p, h.data(), nq * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(k.p, h.data() + 1, (nk - 1) * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(v.p, h.data(), nk * 2, cudaMemcpyHostToDevice);
      }
      auto U = [](const DevMem& m) { return static_cast<const uint16_t*>(m.p); };
      auto F = [](const DevMem& m) { return static_cast<float*>(m.p); };
      const auto dt = ca::Dtype::BF16;
      const double fwd = time_ms([&] { ca::forward(plan, dt, U(q), U(k), U(v), static_cast<uint16_t*>(o.p), F(lse)); }, 2, 5);
      const double bdet = time_ms([&] { ca::backward(plan, dt, U(q), U(k), U(v), U(o), U(dO), F(lse), F(dq), F(dk), F(dv), true); }, 1, 3);
      const double bat = time_ms([&] { ca::backward(plan, dt, U(q), U(k), U(v), U(o), U(dO), F(lse), F(dq), F(dk), F(dv), false); }, 1, 3);
      lmp::parity::cuda_ok(cudaDeviceSynchronize(), "bench");
      const ca::PlanStats& st = plan.stats();
      std::printf("BENCH %s %.4f %.4f %.4f %lld %lld %.0f\n", name.c_str(), fwd, bdet, bat, static_cast<long long>(st.computedTiles),
                  static_cast<long long>(st.partialTiles), st.densePairs);
      std::fflush(stdout);
    } catch (const std::exception& e) {
      lmp::parity::expect(false, name + ": " + e.what());
    }
  }
}
