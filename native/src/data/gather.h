// Packed-batch gather (module `data`): the native twin of runtime/data/pack.ts `materialize`.
// Pure C++, no N-API. Every segment of a plan is one contiguous span of the corpus token stream,
// so a batch is, per segment, one token copy plus fills of the document id and loss mask and an
// iota of position ids; padding is a fill per sequence.
#pragma once
#include <cstdint>

namespace lmp {
namespace data {

struct PlanView {
  const int32_t* corpus = nullptr;  // tokenized corpus (EOT included)
  int64_t corpus_len = 0;
  const double* seg_start = nullptr;  // absolute token offset of each segment in `corpus`
  const int32_t* seg_len = nullptr;
  const int32_t* seg_doc = nullptr;
  int64_t n_segs = 0;
  const int32_t* seq_first_seg = nullptr;  // n_seqs + 1 entries
  const int32_t* seq_length = nullptr;     // allocated length (real + padding)
  int64_t n_seqs = 0;
  bool per_sequence = false;  // positions restart per sequence (else per segment)
  int32_t pad_id = 0;
};

struct BatchOut {
  int32_t* tokens = nullptr;
  int32_t* doc_ids = nullptr;
  int32_t* position_ids = nullptr;
  uint8_t* loss_mask = nullptr;
  int64_t cap_tokens = 0;
  int32_t* cu_seqlens = nullptr;  // B + 1
  int32_t* seg_cu = nullptr;      // B + 1
  int64_t cap_seqs = 0;           // capacity of cu_seqlens / seg_cu
  int32_t* seg_doc = nullptr;
  int32_t* seg_offset = nullptr;
  int32_t* seg_length = nullptr;
  int64_t cap_segs = 0;
};

struct GatherSize {
  int64_t tokens = 0;
  int64_t segments = 0;
};

// How output stores are made. Streaming (non-temporal) stores skip the read-for-ownership of
// every output cache line: right when the batch is larger than the caches (it will be read from
// DRAM anyway), wrong for a small batch that a training step reads next. Auto streams at
// `kStreamBytes` of output and above.
enum class StoreMode { Auto = 0, Stream = 1, Cached = 2 };
constexpr int64_t kStreamBytes = int64_t{16} << 20;

// Validate `seqs` against the plan (indices, segment spans inside the corpus, sizes); returns
// the batch's token and segment counts. Throws lmp::Error (LMP_E_ARG / LMP_E_RANGE).
GatherSize gather_size(const PlanView& plan, const int32_t* seqs, int64_t B);

// Gather sequences `seqs` (B of them, any order, repeats allowed) into `out`; returns the sizes.
// Checks everything first (nothing is written on error). Source spans of upcoming segments are
// prefetched while the current one is copied (they are scattered over the corpus).
GatherSize gather(const PlanView& plan, const int32_t* seqs, int64_t B, const BatchOut& out, StoreMode mode);

}  // namespace data
}  // namespace lmp
