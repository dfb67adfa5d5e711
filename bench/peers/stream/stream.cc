// How this host streams weights from memory, outside lmp (bench/RESULTS.md, "peers (issue 17) on an
// AMD EPYC Zen 4"): a GEMV over 92 MB of float weights (rows of K floats) read four adjacent rows at
// a time (a cache line of each in turn, as lmp's Intel layout does), with and without a software
// prefetch of the next four; one row at a time; four rows a quarter of the matrix apart (lmp's
// spread layout); and the plain read at 1 and 2 threads (whether memory bandwidth grows with the
// second core). GB/s of weights, best of 7. AVX-512 hosts only (the loops use zmm intrinsics).
//   g++ -O2 -march=native -pthread -o /tmp/stream bench/peers/stream/stream.cc && /tmp/stream [K]
#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {
float sum16(__m512 v) { return _mm512_reduce_add_ps(v); }

template <bool PF>
void adjacent4(const float* a, const float* B, long N, long K, float* out) {
  for (long j = 0; j + 4 <= N; j += 4) {
    const float *b0 = B + j * K, *b1 = b0 + K, *b2 = b1 + K, *b3 = b2 + K;
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (long k = 0; k < K; k += 16) {
      if (PF)
        for (const float* b : {b0, b1, b2, b3}) _mm_prefetch(reinterpret_cast<const char*>(b + 4 * K + k), _MM_HINT_T0);
      const __m512 x = _mm512_loadu_ps(a + k);
      c0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b0 + k), c0);
      c1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b1 + k), c1);
      c2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b2 + k), c2);
      c3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b3 + k), c3);
    }
    out[j] = sum16(c0), out[j + 1] = sum16(c1), out[j + 2] = sum16(c2), out[j + 3] = sum16(c3);
  }
}

void one_row(const float* a, const float* B, long N, long K, float* out) {
  for (long j = 0; j < N; ++j) {
    __m512 c = _mm512_setzero_ps();
    for (long k = 0; k < K; k += 16) c = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(B + j * K + k), c);
    out[j] = sum16(c);
  }
}

void spread4(const float* a, const float* B, long N, long K, float* out) {
  const long Q = N / 4;
  for (long j = 0; j < Q; ++j) {
    const float* b[4];
    __m512 c[4];
    for (int s = 0; s < 4; ++s) b[s] = B + (j + s * Q) * K, c[s] = _mm512_setzero_ps();
    for (long k = 0; k < K; k += 16) {
      const __m512 x = _mm512_loadu_ps(a + k);
      for (int s = 0; s < 4; ++s) c[s] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b[s] + k), c[s]);
    }
    for (int s = 0; s < 4; ++s) out[j + s * Q] = sum16(c[s]);
  }
}
}  // namespace

int main(int argc, char** argv) {
  const long K = argc > 1 ? std::atol(argv[1]) : 512, N = 92l * 1024 * 1024 / 4 / K / 8 * 8;
  float* B = static_cast<float*>(std::aligned_alloc(64, N * K * 4));
  for (long i = 0; i < N * K; ++i) B[i] = static_cast<float>(i % 7) * 0.1f;
  std::vector<float> a(K, 1.f), out(N);
  const auto run = [&](const char* name, int threads, void (*f)(const float*, const float*, long, long, float*)) {
    double best = 1e9;
    for (int r = 0; r < 7; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> th;
      const long n = N / threads;
      for (int t = 0; t < threads; ++t) th.emplace_back([&, t] { f(a.data(), B + t * n * K, n, K, out.data() + t * n); });
      for (auto& x : th) x.join();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s < best) best = s;
    }
    std::printf("%-34s %d thread%s %6.2f GB/s\n", name, threads, threads > 1 ? "s" : " ", N * K * 4 / best / 1e9);
  };
  std::printf("GEMV over %.0f MB of weights, rows of %ld floats\n", N * K * 4 / 1e6, K);
  run("four adjacent rows + prefetch", 1, adjacent4<true>);
  run("four adjacent rows", 1, adjacent4<false>);
  run("one row at a time", 1, one_row);
  run("four rows a quarter apart", 1, spread4);
  run("four rows a quarter apart", 2, spread4);
  return 0;
}
