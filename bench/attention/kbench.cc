// Node-free driver of the attention bench, for quiet machines without Node: the same kernels
// (native/src/attention, linked directly) on cases exported by `run.mjs --export FILE` (mask
// programs and block classes computed by the TypeScript classifier), plus the OpenBLAS baselines.
// Build: g++ -O3 -march=native -std=c++17 -Inative/src bench/attention/kbench.cc \
//   native/src/attention/attention*.cc native/src/core/threadpool.cc native/src/core/config.cc -lopenblas -lpthread
// Run:   kbench CASES T D H     (KBENCH_CPU=1: process CPU time instead of wall time, for loaded
//        machines; at 2 threads that is total CPU of both threads, so ratios compare work, not latency)
#include <cblas.h>

#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "core/threadpool.h"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

using namespace lmp;

static bool g_cpu = std::getenv("KBENCH_CPU") != nullptr;
static double now() {
  if (g_cpu) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename F>
static double best(int reps, F&& f) {
  f();
  double b = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t = now();
    f();
    t = now() - t;
    if (t < b) b = t;
  }
  return b;
}

struct Case {
  std::string name;
  double frac;
  std::vector<int32_t> prog;
  std::vector<uint8_t> classes;
};

static std::vector<int> split_ints(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) v.push_back(std::atoi(x.c_str()));
  return v;
}

int main(int argc, char** argv) {
  if (argc < 5) return 2;
  const int T = std::atoi(argv[2]), D = std::atoi(argv[3]), H = std::atoi(argv[4]);
  std::ifstream in(argv[1]);
  std::string line;
  std::vector<int> docLens;
  std::vector<Case> cases;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, '\t')) f.push_back(x);
    if (f[0] == "docs") {
      docLens = split_ints(f[1]);
      continue;
    }
    Case c{f[0], std::atof(f[1].c_str()), {}, {}};
    for (int v : split_ints(f[2])) c.prog.push_back(v);
    for (char ch : f[3]) c.classes.push_back(static_cast<uint8_t>(ch - '0'));
    cases.push_back(c);
  }
  std::vector<int32_t> docIds(T);
  {
    int p = 0, id = 0;
    for (int l : docLens)
      for (int i = 0; i < l && p < T; ++i) docIds[p++] = id;
    for (; p < T; ++p) docIds[p] = id;
    for (int p2 = 0, id2 = 0, k = 0; p2 < T; ++k) {
      for (int i = 0; i < docLens[k % docLens.size()] && p2 < T; ++i) docIds[p2++] = id2;
      ++id2;
    }
  }
  std::vector<float> q(static_cast<size_t>(T) * H * D), k(q.size()), v(q.size()), dout(q.size());
  unsigned s = 1;
  for (auto* a : {&q, &k, &v, &dout})
    for (auto& x : *a) s = s * 1664525u + 1013904223u, x = static_cast<float>((s >> 8) & 0xffff) / 65536.f - 0.5f;
  std::vector<int32_t> cu = {0, T}, hg(H, 0);
  std::vector<int64_t> off = {0};
  std::vector<float> out(q.size()), lse(static_cast<size_t>(T) * H), dq(q.size()), dk(q.size()), dv(q.size());
  auto params = [&](const Case& c) {
    attn::Params p;
    p.q = q.data(), p.k = k.data(), p.v = v.data();
    p.H = H, p.Hkv = H, p.D = D, p.S = 1;
    p.cuQ = cu.data(), p.cuK = cu.data(), p.docIds = docIds.data();
    p.G = 1, p.progs = {c.prog.data()}, p.progLens = {static_cast<int32_t>(c.prog.size())};
    p.headGroup = hg.data(), p.classes = c.classes.data(), p.classOff = off.data();
    p.scale = 1.f / std::sqrt(static_cast<float>(D));
    attn::validate(p, q.size(), k.size(), c.classes.size());
    return p;
  };
  const int reps = 3;
  std::printf("kbench: T = %d, d = %d, heads = %d, best of %d, %s time; OpenBLAS core %s\n", T, D, H, reps, g_cpu ? "process CPU" : "wall",
              openblas_get_corename());
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    openblas_set_num_threads(threads);
    std::printf("\n### %d thread%s\n\n| mask | tiles computed | time (ms) | time / time(full) | goal <= computed + 0.05 |\n|---|---|---|---|---|\n", threads,
                threads > 1 ? "s" : "");
    double tfull = 0, tdoc = 0;
    std::vector<double> tm;
    for (const Case& c : cases) {
      attn::Params p = params(c);
      double t = best(reps, [&] { attn::forward(p, out.data(), lse.data()); });
      if (c.name == "full") tfull = t;
      if (c.name == "causal & same_document") tdoc = t;
      tm.push_back(t);
      std::printf("| %s | %.3f | %.1f | %.3f | %s |\n", c.name.c_str(), c.frac, t * 1e3, t / tfull, t / tfull <= c.frac + 0.05 ? "met" : "MISSED");
    }
    const double gf = 4.0 * T * T * D * H / tfull / 1e9;
    const int N = 2048;
    std::vector<float> A(static_cast<size_t>(N) * N, 0.5f), B(A.size(), 0.25f), C(A.size());
    double ts = best(reps, [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.f, A.data(), N, B.data(), N, 0.f, C.data(), N); });
    const double bgf = 2.0 * N * N * N / ts / 1e9;
    std::printf("\nDense fused forward: %.1f GFLOP/s; OpenBLAS sgemm %d^3 (same run): %.1f GFLOP/s; ratio %.2f (goal >= 0.6)\n", gf, N, bgf, gf / bgf);
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      if (c.name != "full" && c.name != "causal" && c.name != "causal & same_document") continue;
      attn::Params p = params(c);
      attn::forward(p, out.data(), lse.data());
      double tb = best(reps, [&] { attn::backward(p, out.data(), dout.data(), lse.data(), dq.data(), dk.data(), dv.data()); });
      std::printf("Backward / forward, %s: %.2f (goal <= 2.5; backward %.1f ms)\n", c.name.c_str(), tb / tm[i], tb * 1e3);
    }
    // Materialized T x T scores per head with OpenBLAS (document-causal mask), times H heads.
    std::vector<float> S(static_cast<size_t>(T) * T), O(static_cast<size_t>(T) * D), qh(static_cast<size_t>(T) * D), kh(qh.size()), vh(qh.size());
    for (int t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) qh[t * D + d] = q[(t * H) * D + d], kh[t * D + d] = k[(t * H) * D + d], vh[t * D + d] = v[(t * H) * D + d];
    const float sc = 1.f / std::sqrt(static_cast<float>(D));
    double tmat = best(reps, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, sc, qh.data(), D, kh.data(), D, 0.f, S.data(), T);
      for (int i = 0; i < T; ++i) {
        float* row = S.data() + static_cast<size_t>(i) * T;
        float m = -INFINITY;
        for (int j = 0; j < T; ++j) {
          if (j > i || docIds[j] != docIds[i]) row[j] = -INFINITY;
          m = row[j] > m ? row[j] : m;
        }
        float sum = 0;
        for (int j = 0; j < T; ++j) sum += row[j] = std::exp(row[j] - m);
        for (int j = 0; j < T; ++j) row[j] /= sum;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.f, S.data(), T, vh.data(), D, 0.f, O.data(), D);
    }) * H;
    std::printf("Document mask: fused %.1f ms vs OpenBLAS materialized T x T scores %.1f ms: %.1fx (goal >= 10x)\n", tdoc * 1e3, tmat * 1e3, tmat / tdoc);
  }
  return 0;
}
