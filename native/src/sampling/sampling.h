// Sampler chain kernels over float32 logits (no N-API here; bindings.cc is the glue).
//
// A Chain executes its samplers in the given order over ONE candidate representation:
//   - dense: the caller's logits array itself (token id = index) plus a pending temperature
//     scale; sparse edits (penalties, bias, bans, DRY) are written into the caller's array
//     and undone before the call returns, so the vocabulary is never copied;
//   - sparse: (ids, logits) of the survivors, always in ASCENDING TOKEN ID order.
// The first filter that cuts (top-k, top-p, min-p, typical, epsilon, eta, allowed) turns a
// dense view into a sparse one; later samplers touch only the survivors.
//
// Invariants and rules (all documented in runtime/decode/README.md):
//   * NaN anywhere in the logits -> lmp::Error LMP_E_NAN; -inf is allowed and means p = 0.
//     Filters never keep a -inf token. No finite candidate left -> LMP_E_NO_CANDIDATES.
//   * Ties: candidates are ordered by (value desc, token id asc), i.e. the lower id wins;
//     except typical (ties = 0, the default), which keeps every token whose score equals the
//     crossing token's score, as Hugging Face's TypicalLogitsWarper does.
//   * The terminal sampler draws exactly one uniform u from the SplitMix64 stream per call
//     (greedy draws none) and returns the first candidate, walking in ascending token id,
//     whose running weight sum exceeds u * total.
//   * State (token history for penalties/DRY, mirostat mu) is snapshotted and restored;
//     the RNG counter is NOT part of a snapshot (rolled-back drafts never reuse randomness).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmp {
namespace sampling {

// SplitMix64 used as a counter-based generator: draw number n (0-based) of seed s is
//   z = s + (n + 1) * 0x9E3779B97F4A7C15 (mod 2^64)
//   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^= z >> 31
//   u = (z >> 11) * 2^-53      (a float64 in [0, 1))
inline uint64_t splitmix64_at(uint64_t seed, uint64_t n) {
  uint64_t z = seed + (n + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
inline double u01(uint64_t bits) { return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0); }

// A candidate (value, token id or view position).
struct Cand {
  float v;
  int32_t id;
};

enum class Kind {
  Temperature, TopK, TopP, MinP, Typical, Epsilon, Eta, Penalties, Dry, LogitBias, Allowed, Banned,
  Greedy, Sample, Mirostat, MirostatV2
};

struct Spec {
  Kind kind = Kind::Sample;
  double a = 0, b = 0, c = 0, d = 0;  // meaning per kind, see chain.cc parse comments
  int64_t n = 0;                      // a count (k, last_n, m, allowed_length)
  int variant = 0;                    // 0 = paper/HF form, 1 = llama_cpp form
  int ties = 0;                       // typical: 0 = keep every token tied at the crossing score (HF), 1 = cut them by id
  std::vector<int32_t> ids;           // bias/allowed/banned tokens, DRY breakers
  std::vector<float> vals;            // bias values
};

// Per-call trace over the RAW logits (before the chain): entropy (nats) and ln p(token),
// plus the number of candidates the terminal sampler chose from and ln p under that
// final distribution.
struct Trace {
  double entropy = 0, logprob = 0, kept = 0, final_logprob = 0;
};

struct Snapshot {
  size_t history = 0;
  double mu = 0;
};

class Chain {
 public:
  Chain(std::vector<Spec> specs, size_t vocab, uint64_t seed);

  // Runs the chain and picks a token. `logits` has vocab entries; it is edited during the
  // call and restored before return (also when an error is thrown).
  int32_t sample(float* logits, size_t n, Trace* trace);
  // Runs the chain and writes the final distribution (vocab entries, 0 where cut) to out.
  // Returns the number of tokens with p > 0. Draws no random number.
  size_t distribution(float* logits, size_t n, float* out);
  // Commits a token: appends it to the history and updates mirostat's mu with the token's
  // surprise under the distribution of the latest sample/distribution call.
  void accept(int32_t token);
  void reset(const int32_t* tokens, size_t n);
  Snapshot snapshot() const { return Snapshot{history_.size(), mu_}; }
  void restore(const Snapshot& s);
  double uniform() { return u01(splitmix64_at(seed_, counter_++)); }
  void set_seed(uint64_t seed) { seed_ = seed; counter_ = 0; }
  uint64_t counter() const { return counter_; }
  double mu() const { return mu_; }
  size_t vocab() const { return vocab_; }
  const std::vector<int32_t>& history() const { return history_; }

 private:
  struct Edit {
    size_t index;
    float old;
  };
  // Run all non-terminal samplers; leaves the candidate view in dense_/cur_.
  void run_filters(float* logits, size_t n);
  // Terminal: fills weights w_ (ascending id over the current view) and returns their sum.
  void terminal_weights();
  void undo_edits();

  // view helpers
  float view_max(bool check_nan);
  double view_sumexp(float m, double* s1);
  void gather_ge(float t);
  void to_sparse_ids(const std::vector<int32_t>& sorted_ids);
  void edit(int32_t tok, float newval_scaled);
  float value_of(size_t i) const { return dense_ ? src_[i] * scale_ : x_[i]; }
  int32_t id_of(size_t i) const { return dense_ ? static_cast<int32_t>(i) : id_[i]; }
  size_t count() const { return dense_ ? vocab_ : n_; }
  void set_sparse(size_t n);  // swaps the B buffers in as current

  void f_top_k(int64_t k);
  void f_top_p(double p);
  void f_min_p(double p);
  void f_typical(double p, int variant, bool by_id);
  void f_epsilon(double eps);
  void f_eta(double eta);
  void f_penalties(const Spec& s);
  void f_dry(const Spec& s);
  void f_bias(const Spec& s);
  void f_banned(const Spec& s);
  void mirostat_v1_select(const Spec& s);
  void mirostat_v2_select(const Spec& s);
  void select_top(size_t k, std::vector<uint32_t>& order);  // indices of the top k of the view, best first
  // top-p (typical = false) or typical over a dense view through a histogram of mass over
  // logit bins; returns false when it does not apply (then the exact fallback runs).
  // typical cuts: variant 1 = llama.cpp's strict crossing; by_id = cut a tie group at the crossing
  // by token id (otherwise the whole group is kept); top-p always passes by_id = true.
  bool hist_cut(double p, bool typical, int variant, bool by_id);
  // the same cut from a bracket estimated on a sample of the logits and checked exactly;
  // returns false (nothing changed) when the check fails, then hist_cut runs.
  bool bracket_cut(double p, bool typical, int variant, bool by_id);
  void materialize();  // lazy (thresholded dense) view -> sparse view

  std::vector<Spec> specs_;
  size_t vocab_;
  uint64_t seed_, counter_ = 0;
  std::vector<int32_t> history_;
  double mu_ = 0, mu0_ = 0;
  int terminal_ = -1;  // index in specs_

  // per-call view
  bool dense_ = true;
  float* src_ = nullptr;
  float scale_ = 1.f;
  float rawmax_ = 0;          // max of src_ (unscaled), valid while no edit happened
  bool rawmax_valid_ = false;
  std::vector<Edit> edits_;
  std::vector<int32_t> idA_, idB_;
  std::vector<float> xA_, xB_;
  int32_t* id_ = nullptr;
  float* x_ = nullptr;
  size_t n_ = 0;
  bool cur_is_a_ = true;
  // lazy view (after bracket_cut when the next sampler is `sample`): the dense candidates with
  // value in the open interval (lz_lo_, lz_hi_) plus the ids lz_extra_ (ascending); bsum_ holds
  // their mass fexp(y - lz_m_) per 1024-block.
  bool lazy_ok_ = false, lazy_ = false;
  float lz_lo_ = 0, lz_hi_ = 0, lz_m_ = 0;
  size_t lz_nk_ = 0;
  std::vector<int32_t> lz_extra_;
  std::vector<Cand> samp_;
  std::vector<double> sw_;

  // scratch
  std::vector<float> w_;  // terminal weights over the current view (ascending id)
  std::vector<double> bsum_;  // their sums per 1024-block
  double wsum_ = 0;
  std::vector<float> bmax_;  // per-64 block maxima of src_ (valid with rawmax_valid_)
  std::vector<float> ys_;    // scaled dense values for the histogram path
  std::vector<double> hist_;
  std::vector<int32_t> cidx_;
  std::vector<Cand> cand_;
  std::vector<double> bounds_a_, bounds_c_, cmass_, cscore_;
  std::vector<uint32_t> order_;
  std::vector<float> tmpf_;
  std::vector<int32_t> tmpi_;

  // what accept() needs for mirostat: the candidates of the last terminal step with the
  // surprise (bits) each would have.
  std::vector<int32_t> last_ids_;
  std::vector<double> last_surprise_;
  bool last_valid_ = false;
};

// Baselines for the benchmark (same kernels' arithmetic, no sampling logic).
float bench_max(const float* x, size_t n);
double bench_softmax2(const float* x, size_t n, float* out);  // max pass, then exp+sum+store pass

// exp for float, vectorizable (Cephes-style polynomial), exact 0 for inputs below -87.
float fast_exp(float x);

}  // namespace sampling
}  // namespace lmp
