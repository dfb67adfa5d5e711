// Packed-batch gather: see gather.h. The plain reference is runtime/data/pack.ts
// `materializeJs` (and the per-token gather in runtime/data/gather.test.ts).
#include "data/gather.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#include "core/config.h"
#include "core/status.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace lmp {
namespace data {
namespace {

// Prefetch: when segment g is copied, the first kPrefetchTokens of the segment kPrefetchAhead
// places later (in gather order) are requested. Spans are scattered over the corpus, so the cost
// is the DRAM latency at the start of each span; within a span the hardware prefetcher follows.
constexpr int kPrefetchAhead = 2;
constexpr int32_t kPrefetchTokens = 256;

inline void prefetch_span(const int32_t* p, int32_t len) {
  const int32_t n = std::min(len, kPrefetchTokens);
  for (int32_t i = 0; i < n; i += 16) __builtin_prefetch(p + i, 0, 0);
}

// ---- output writers. Each output array is written front to back (segments in order, then the
// sequence's padding), so a writer appends: copy / fill / iota of n elements at its position.

// Cached stores, straight into the output: the small-batch path (the batch is read next, from cache).
template <typename T>
struct DirectWriter {
  T* out;
  int64_t pos = 0;
  explicit DirectWriter(T* o) : out(o) {}
  void copy(const T* s, int64_t n) { std::memcpy(out + pos, s, static_cast<size_t>(n) * sizeof(T)); pos += n; }
  void fill(T v, int64_t n) { std::fill_n(out + pos, n, v); pos += n; }
  void iota(T start, int64_t n) {
    T* d = out + pos;
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(start + static_cast<T>(i));
    pos += n;
  }
  void finish() {}
};

#if defined(__AVX2__)
// Staged streaming stores, for outputs larger than the caches. Appends go to a 4 KiB staging
// buffer (stays in L1); a full buffer goes out with aligned non-temporal 32-byte stores, which skip
// the read-for-ownership of every output line that a plain store pays. Segment boundaries fall
// anywhere, so streaming each segment directly would leave partial lines at both ends; staging
// makes every flushed line whole. The first flush is cut short so that every later one starts on
// a 32-byte boundary of the output; the first and last flushes use plain stores.
template <typename T>
struct StagedWriter {
  static constexpr int64_t N = 4096 / static_cast<int64_t>(sizeof(T));
  alignas(64) T buf[N];
  T* out;
  int64_t base = 0;   // output index of buf[0]
  int64_t used = 0;   // elements in buf
  int64_t limit;      // flush when used reaches this

  explicit StagedWriter(T* o) : out(o) {
    const int64_t mis = static_cast<int64_t>(reinterpret_cast<uintptr_t>(o) & 31) / static_cast<int64_t>(sizeof(T));
    limit = N - mis;  // out + limit is 32-byte aligned (sizeof(T) divides 32; typed arrays are element-aligned)
  }
  template <typename Op>
  void append(int64_t n, Op op) {
    while (n > 0) {
      const int64_t k = std::min(n, limit - used);
      op(buf + used, k);
      used += k;
      n -= k;
      if (used == limit) flush();
    }
  }
  void copy(const T* s, int64_t n) {
    append(n, [&](T* d, int64_t k) { std::memcpy(d, s, static_cast<size_t>(k) * sizeof(T)); s += k; });
  }
  void fill(T v, int64_t n) {
    append(n, [&](T* d, int64_t k) { std::fill_n(d, k, v); });
  }
  void iota(T start, int64_t n) {
    append(n, [&](T* d, int64_t k) {
      for (int64_t i = 0; i < k; ++i) d[i] = static_cast<T>(start + static_cast<T>(i));
      start = static_cast<T>(start + static_cast<T>(k));
    });
  }
  void flush() {
    T* dst = out + base;
    const size_t bytes = static_cast<size_t>(used) * sizeof(T);
    if ((reinterpret_cast<uintptr_t>(dst) & 31) == 0 && bytes % 32 == 0) {
      const char* src = reinterpret_cast<const char*>(buf);
      char* d = reinterpret_cast<char*>(dst);
      for (size_t i = 0; i < bytes; i += 32)
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i), _mm256_load_si256(reinterpret_cast<const __m256i*>(src + i)));
    } else {
      std::memcpy(dst, buf, bytes);
    }
    base += used;
    used = 0;
    limit = N;
  }
  // Non-temporal stores are weakly ordered: publish them before JS reads the buffers.
  void finish() {
    if (used > 0) flush();
    _mm_sfence();
  }
};
#endif

// Walks the batch's segments in gather order, kPrefetchAhead ahead of the copy.
struct Lookahead {
  const PlanView& plan;
  const int32_t* seqs;
  int64_t B;
  int64_t b = 0;
  int32_t g = 0, g_end = 0;

  Lookahead(const PlanView& p, const int32_t* s, int64_t n) : plan(p), seqs(s), B(n) {
    if (B > 0) {
      g = plan.seq_first_seg[seqs[0]];
      g_end = plan.seq_first_seg[seqs[0] + 1];
      skip_empty_seqs();
    }
  }
  void skip_empty_seqs() {
    while (g >= g_end && ++b < B) {
      g = plan.seq_first_seg[seqs[b]];
      g_end = plan.seq_first_seg[seqs[b] + 1];
    }
  }
  void prefetch_next() {
    if (b >= B) return;
    const int32_t len = plan.seg_len[g];
    if (len > 0) prefetch_span(plan.corpus + static_cast<int64_t>(plan.seg_start[g]), len);
    ++g;
    skip_empty_seqs();
  }
};

template <template <typename> class W>
void gather_impl(const PlanView& plan, const int32_t* seqs, int64_t B, const BatchOut& out) {
  const int32_t* first = plan.seq_first_seg;
  Lookahead ahead(plan, seqs, B);
  for (int i = 0; i < kPrefetchAhead; ++i) ahead.prefetch_next();
  W<int32_t> tok(out.tokens), doc_ids(out.doc_ids), pos(out.position_ids);
  W<uint8_t> mask(out.loss_mask);
  out.cu_seqlens[0] = 0;
  out.seg_cu[0] = 0;
  int64_t si = 0;
  int64_t at = 0;
  for (int64_t bi = 0; bi < B; ++bi) {
    const int32_t s = seqs[bi];
    const int64_t base = at;
    for (int32_t g = first[s], g_end = first[s + 1]; g < g_end; ++g) {
      ahead.prefetch_next();
      const int32_t len = plan.seg_len[g];
      const int32_t doc = plan.seg_doc[g];
      out.seg_doc[si] = doc;
      out.seg_offset[si] = static_cast<int32_t>(at - base);
      out.seg_length[si] = len;
      ++si;
      if (len == 0) continue;
      tok.copy(plan.corpus + static_cast<int64_t>(plan.seg_start[g]), len);
      doc_ids.fill(doc, len);
      mask.fill(1, len);
      if (!plan.per_sequence) pos.iota(0, len);
      at += len;
    }
    const int64_t end = base + plan.seq_length[s];
    if (at < end) {
      const int64_t n = end - at;
      tok.fill(plan.pad_id, n);
      doc_ids.fill(-1, n);
      mask.fill(0, n);
      if (!plan.per_sequence) pos.iota(static_cast<int32_t>(at - base), n);
      at = end;
    }
    if (plan.per_sequence) pos.iota(0, end - base);
    out.cu_seqlens[bi + 1] = static_cast<int32_t>(end);
    out.seg_cu[bi + 1] = static_cast<int32_t>(si);
  }
  tok.finish();
  doc_ids.finish();
  pos.finish();
  mask.finish();
}

}  // namespace

GatherSize gather_size(const PlanView& plan, const int32_t* seqs, int64_t B) {
  check(B >= 0, "LMP_E_ARG", "batch size must be >= 0");
  check(plan.n_seqs >= 0 && plan.n_segs >= 0, "LMP_E_ARG", "plan sizes must be >= 0");
  GatherSize size;
  for (int64_t b = 0; b < B; ++b) {
    const int32_t s = seqs[b];
    if (s < 0 || s >= plan.n_seqs)
      fail("LMP_E_RANGE", "sequence index " + std::to_string(s) + " (batch position " + std::to_string(b) + ") is outside the plan's " +
                              std::to_string(plan.n_seqs) + " sequences");
    const int32_t g0 = plan.seq_first_seg[s], g1 = plan.seq_first_seg[s + 1];
    if (g0 < 0 || g1 < g0 || g1 > plan.n_segs) fail("LMP_E_RANGE", "sequence " + std::to_string(s) + " has an invalid segment range");
    const int32_t L = plan.seq_length[s];
    int64_t real = 0;
    for (int32_t g = g0; g < g1; ++g) {
      const int32_t len = plan.seg_len[g];
      const double st = plan.seg_start[g];
      if (len < 0 || !(st >= 0) || st != std::floor(st) || st + len > static_cast<double>(plan.corpus_len))
        fail("LMP_E_RANGE", "segment " + std::to_string(g) + " of sequence " + std::to_string(s) + " lies outside the corpus (" +
                                std::to_string(plan.corpus_len) + " tokens)");
      real += len;
    }
    if (L < 0 || real > L)
      fail("LMP_E_RANGE", "sequence " + std::to_string(s) + " holds " + std::to_string(real) + " tokens but its length is " + std::to_string(L));
    size.tokens += L;
    size.segments += g1 - g0;
  }
  check(size.tokens <= INT32_MAX, "LMP_E_RANGE", "a batch holds at most 2^31 - 1 tokens (cu_seqlens are int32)");
  return size;
}

GatherSize gather(const PlanView& plan, const int32_t* seqs, int64_t B, const BatchOut& out, StoreMode mode) {
  const GatherSize size = gather_size(plan, seqs, B);
  check(out.cap_tokens >= size.tokens, "LMP_E_SHAPE", "token outputs hold " + std::to_string(out.cap_tokens) + ", need " + std::to_string(size.tokens));
  check(out.cap_seqs >= B + 1, "LMP_E_SHAPE", "cuSeqlens/segCu hold " + std::to_string(out.cap_seqs) + ", need " + std::to_string(B + 1));
  check(out.cap_segs >= size.segments, "LMP_E_SHAPE", "segment outputs hold " + std::to_string(out.cap_segs) + ", need " + std::to_string(size.segments));
#if defined(__AVX2__)
  const bool stream = !force_scalar() && (mode == StoreMode::Stream || (mode == StoreMode::Auto && size.tokens * 13 >= kStreamBytes));
  if (stream) {
    gather_impl<StagedWriter>(plan, seqs, B, out);
    return size;
  }
#else
  (void)mode;
#endif
  gather_impl<DirectWriter>(plan, seqs, B, out);
  return size;
}

}  // namespace data
}  // namespace lmp
