// Bench-only baselines with OpenBLAS (built by run.mjs when libopenblas-dev is installed):
//   blas_ref sgemm N threads reps             -> best seconds of one N x N x N sgemm
//   blas_ref materialized T d threads reps    -> best seconds of attention that materializes the
//        T x T scores: S = Q K^T (sgemm), document-causal mask (docs from stdin lengths), row
//        softmax, O = P V (sgemm). Document lengths are read from argv[6..].
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void openblas_set_num_threads(int);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(float* x, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
  }
}

int main(int argc, char** argv) {
  if (argc < 5) return 2;
  const char* mode = argv[1];
  int reps = atoi(argv[4]);
  openblas_set_num_threads(atoi(argv[3]));
  double best = 1e30;
  if (!strcmp(mode, "sgemm")) {
    int N = atoi(argv[2]);
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N), *c = malloc(sizeof(float) * N * N);
    fill(a, (size_t)N * N, 1), fill(b, (size_t)N * N, 2);
    for (int r = 0; r < reps; r++) {
      double t = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.f, a, N, b, N, 0.f, c, N);
      t = now() - t;
      if (t < best) best = t;
    }
  } else {
    int T = atoi(argv[2]), d = atoi(argv[5]);
    int* doc = malloc(sizeof(int) * T);
    int p = 0, id = 0;
    for (int i = 6; i < argc && p < T; i++, id++)
      for (int l = atoi(argv[i]); l > 0 && p < T; l--) doc[p++] = id;
    while (p < T) doc[p++] = id;
    float *q = malloc(sizeof(float) * T * d), *k = malloc(sizeof(float) * T * d), *v = malloc(sizeof(float) * T * d);
    float *s = malloc(sizeof(float) * (size_t)T * T), *o = malloc(sizeof(float) * T * d);
    fill(q, (size_t)T * d, 3), fill(k, (size_t)T * d, 4), fill(v, (size_t)T * d, 5);
    const float scale = 1.0f / sqrtf((float)d);
    for (int r = 0; r < reps; r++) {
      double t = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d, scale, q, d, k, d, 0.f, s, T);
      for (int i = 0; i < T; i++) {
        float* row = s + (size_t)i * T;
        float m = -INFINITY;
        for (int j = 0; j < T; j++) {
          if (j > i || doc[j] != doc[i]) row[j] = -INFINITY;
          if (row[j] > m) m = row[j];
        }
        float sum = 0;
        for (int j = 0; j < T; j++) sum += row[j] = expf(row[j] - m);
        for (int j = 0; j < T; j++) row[j] /= sum;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d, T, 1.f, s, T, v, d, 0.f, o, d);
      t = now() - t;
      if (t < best) best = t;
    }
  }
  printf("%.6f\n", best);
  return 0;
}
