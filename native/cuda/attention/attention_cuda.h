// Fused block-sparse attention on CUDA: the host API (plain C++; no CUDA headers needed to include
// it, streams are passed as void*). Same layouts, masks, block classes and score formulas as the
// CPU kernels (native/src/attention/attention.h, whose Params describes a call here too); inputs
// are bf16 or fp16 (uint16_t storage), accumulation fp32.
//
//   q, out [Tq, H, D]; k, v [Tk, Hkv, D]; lse [Tq, H] (fp32, natural log; -inf for a row that sees
//   nothing, whose output is 0); dq [Tq, H, D], dk, dv [Tk, Hkv, D] in fp32.
//   D in {32, 64, 128}. Classes per 64 x 64 tile (the CPU's tile), from runtime/mask/classify.ts.
//   Refused (LMP_E_CONFIG_UNSUPPORTED): the LM-Infinite distance limit (Params::distLimit > 0),
//   which callers run as two calls with the mask split at the limit (runtime/attention
//   limitMasks); RoPE is applied to q/k before the call.
//
// Errors are lmp::Error (core/status.h): LMP_E_NO_DEVICE (no GPU), LMP_E_CUDA (with the CUDA error
// string), LMP_E_SHAPE / LMP_E_MASK / LMP_E_ARG (arguments). Nothing aborts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "attention/attention.h"  // lmp::attn::Params (native/src/attention)

namespace lmp {
namespace cuda {
namespace attention {

enum class Dtype { BF16 = 0, F16 = 1 };

constexpr int TILE_Q = 64;   // the GPU tile; equals the CPU's, so the host classes are used as is
constexpr int TILE_KV = 64;

struct PlanStats {
  int64_t qTiles = 0, kTiles = 0;       // over all sequences
  int64_t computedTiles = 0;            // (q tile, kv tile, head) triples not Empty
  int64_t partialTiles = 0;             // of which Partial
  double densePairs = 0;                // sum over sequences and heads of Lq * Lk
};

// Device copy of one call's metadata (sequences, masks, classes, score settings): build once per
// shape and mask, reuse for every layer's forward and backward. p.q/k/v are not read. Validates p
// (classesLen = entries of p.classes). Not for concurrent backward calls (it owns the delta buffer).
class Plan {
 public:
  Plan(const lmp::attn::Params& p, size_t classesLen);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  const PlanStats& stats() const;
  int64_t tokensQ() const;
  int64_t tokensK() const;
  struct Impl;
  std::unique_ptr<Impl> impl;
};

// Device pointers. out/lse are written in full.
void forward(const Plan& plan, Dtype dt, const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out, float* lse,
             void* stream = nullptr);
// o, lse from forward; dout like out. deterministic: dQ by a separate per-query-tile kernel in a
// fixed order (bit-identical across runs); else atomicAdd from the dK/dV kernel (faster, order-dependent).
void backward(Plan& plan, Dtype dt, const uint16_t* q, const uint16_t* k, const uint16_t* v, const uint16_t* o, const uint16_t* dout,
              const float* lse, float* dq, float* dk, float* dv, bool deterministic, void* stream = nullptr);

// Convenience: host float32 arrays (p.q/k/v; o/dout below), rounded to dt on the way in; outputs
// float32 on the host. Builds a plan per call.
void forward_host(const lmp::attn::Params& p, size_t classesLen, Dtype dt, float* out, float* lse);
void backward_host(const lmp::attn::Params& p, size_t classesLen, Dtype dt, const float* o, const float* dout, const float* lse, float* dq,
                   float* dk, float* dv, bool deterministic);

// Throws LMP_E_NO_DEVICE unless a CUDA device is present.
void require_device();

}  // namespace attention
}  // namespace cuda
}  // namespace lmp
