// The model module's device side: its stream and cuBLAS handle, device memory with coded errors,
// conversions, the float64 reductions (sums of squares for clipping, loss sums), the clip scale and
// AdamW. Kernels mirror native/src/model/layers.cc (adamw, sum_squares) and runtime/model/train.ts
// (the clip scale).
#include "common/device.cuh"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "model/internal.cuh"

namespace lmp {
namespace cuda {
namespace model {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::F64: return 8;
  }
  return 0;
}
const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::F64: return "f64";
  }
  return "?";
}
DType parse_dtype(const std::string& s) {
  if (s == "f32") return DType::F32;
  if (s == "bf16") return DType::BF16;
  if (s == "i32") return DType::I32;
  if (s == "f64") return DType::F64;
  fail("LMP_E_DTYPE", "unknown device dtype '" + s + "' (f32, bf16, i32, f64)");
}

// ------------------------------------------------------------------------------ errors, context

static std::string mib(size_t b) { return std::to_string(b) + " bytes (" + std::to_string(b >> 20) + " MiB)"; }

void check_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  const std::string msg = std::string(what) + ": " + cudaGetErrorString(e);
  if (e == cudaErrorMemoryAllocation) fail("LMP_E_CUDA_OOM", "out of device memory (" + msg + ")");
  fail("LMP_E_CUDA", "CUDA error in " + msg);
}

void require_device() {
  static int count = -1;
  static std::string why;
  if (count < 0) {
    int c = 0;
    const cudaError_t e = cudaGetDeviceCount(&c);
    if (e != cudaSuccess) {
      why = cudaGetErrorString(e);
      cudaGetLastError();  // not sticky: clear it
      c = 0;
    } else if (c == 0) {
      why = "the driver reports no device";
    }
    count = c;
  }
  if (count == 0) fail("LMP_E_NO_DEVICE", "no CUDA device: " + why);
}

static Context* g_ctx = nullptr;

// At exit: the module's own buffers, stream and handle go back (registered after the runtime's
// first call, so it runs before the runtime's own teardown). Errors are ignored.
static void release_context() {
  Context* c = g_ctx;
  if (!c) return;
  g_ctx = nullptr;
  cudaStreamSynchronize(c->stream);
#if defined(LMP_HAVE_CUBLAS) || defined(LMP_CUDA_EMU)
  if (c->blas) cublasDestroy(c->blas);
#endif
  if (c->ws) cudaFree(c->ws);
  if (c->flag) cudaFree(c->flag);
  for (Context::Staging& st : c->stage) {
    if (st.done) cudaEventDestroy(st.done);
    if (st.host) cudaFreeHost(st.host);
  }
  if (c->stream) cudaStreamDestroy(c->stream);
  delete c;
}

Context& ctx() {
  Context*& c = g_ctx;
  if (c) return *c;
  require_device();
  Context* n = new Context();
  check_cuda(cudaStreamCreate(&n->stream), "cudaStreamCreate");
  check_cuda(cudaMalloc(reinterpret_cast<void**>(&n->flag), sizeof(int)), "cudaMalloc (flag)");
#if defined(LMP_HAVE_CUBLAS) || defined(LMP_CUDA_EMU)
  if (cublasCreate(&n->blas) != CUBLAS_STATUS_SUCCESS) fail("LMP_E_CUDA", "cublasCreate failed");
  if (cublasSetStream(n->blas, n->stream) != CUBLAS_STATUS_SUCCESS) fail("LMP_E_CUDA", "cublasSetStream failed");
#endif
  c = n;
  std::atexit(release_context);
  return *c;
}

MemInfo mem_info() {
  require_device();
  MemInfo m;
  check_cuda(cudaMemGetInfo(&m.free, &m.total), "cudaMemGetInfo");
  return m;
}

static void* raw_alloc(size_t bytes) {
  ctx();
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 1));
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    fail("LMP_E_CUDA_OOM", "out of device memory: " + mib(bytes) + " requested, " + mib(fr) + " free of " + mib(tot) +
                               " (use a smaller batch or model, bf16, or free device tensors)");
  }
  check_cuda(e, "cudaMalloc");
  return p;
}

void* workspace(size_t bytes) {
  Context& c = ctx();
  if (bytes <= c.ws_bytes) return c.ws;
  // Earlier kernels may still read the old buffer: drain the stream first.
  check_cuda(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize (workspace)");
  if (c.ws) check_cuda(cudaFree(c.ws), "cudaFree (workspace)");
  c.ws = nullptr;
  c.ws_bytes = 0;
  const size_t grown = std::max(bytes, static_cast<size_t>(1) << 20);
  c.ws = raw_alloc(grown);
  c.ws_bytes = grown;
  return c.ws;
}

void reset_flag() { check_cuda(cudaMemsetAsync(ctx().flag, 0, sizeof(int), ctx().stream), "cudaMemsetAsync (flag)"); }

int64_t read_flag(int64_t n) {
  int v = 0;
  check_cuda(cudaMemcpyAsync(&v, ctx().flag, sizeof(int), cudaMemcpyDeviceToHost, ctx().stream), "cudaMemcpyAsync (flag)");
  check_cuda(cudaStreamSynchronize(ctx().stream), "cudaStreamSynchronize (flag)");
  return v > 0 ? n - v : -1;
}

void need(const Tensor& t, const char* name, int64_t numel) {
  if (!t.data && t.numel > 0) fail("LMP_E_ARG", std::string(name) + ": the device tensor was freed");
  if (t.numel != numel)
    fail("LMP_E_SHAPE", std::string(name) + " has " + std::to_string(t.numel) + " elements, expected " + std::to_string(numel));
}
void need_float(const Tensor& t, const char* name) {
  if (t.dtype != DType::F32 && t.dtype != DType::BF16)
    fail("LMP_E_DTYPE", std::string(name) + " must be f32 or bf16, not " + dtype_name(t.dtype));
}
void need_dtype(const Tensor& t, const char* name, DType d) {
  if (t.dtype != d) fail("LMP_E_DTYPE", std::string(name) + " must be " + dtype_name(d) + ", not " + dtype_name(t.dtype));
}

int grid_for(int64_t n, int64_t per_block) {
#if defined(LMP_CUDA_EMU)
  const int64_t cap = 8;  // the emulator runs blocks one after another: few blocks, grid-stride loops
#else
  const int64_t cap = 2048;
#endif
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(cap, (n + per_block - 1) / per_block)));
}

// ------------------------------------------------------------------------------ memory

Tensor alloc(DType dtype, int64_t numel) {
  if (numel < 0) fail("LMP_E_ARG", "device tensor length must be >= 0");
  Tensor t;
  t.dtype = dtype;
  t.numel = numel;
  t.data = raw_alloc(t.bytes());
  check_cuda(cudaMemsetAsync(t.data, 0, std::max<size_t>(t.bytes(), 1), ctx().stream), "cudaMemsetAsync");
  return t;
}

void free(Tensor& t) {
  if (!t.data) return;
  // A kernel queued earlier may still use it.
  cudaStreamSynchronize(ctx().stream);
  const cudaError_t e = cudaFree(t.data);
  t.data = nullptr;
  t.numel = 0;
  check_cuda(e, "cudaFree");
}

static void check_range(const Tensor& t, size_t bytes, size_t offset, const char* what) {
  if (!t.data) fail("LMP_E_ARG", std::string(what) + ": the device tensor was freed");
  if (offset > t.bytes() || bytes > t.bytes() - offset)
    fail("LMP_E_SHAPE", std::string(what) + ": " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                            " do not fit a device tensor of " + std::to_string(t.bytes()) + " bytes");
}

// The staging buffer for the next `bytes` of upload, waited for and grown as needed; nullptr when
// page-locked memory cannot be had (the caller then takes the pageable path).
static Context::Staging* staging(size_t bytes) {
  Context& c = ctx();
  if (c.stage_off || bytes > kStagedMax) return nullptr;
  Context::Staging& st = c.stage[c.stage_next];
  c.stage_next ^= 1;
  if (!st.done) check_cuda(cudaEventCreateWithFlags(&st.done, cudaEventDisableTiming), "cudaEventCreate (staging)");
  // the copy that last read this buffer must have finished before the host writes it
  if (st.pending) check_cuda(cudaEventSynchronize(st.done), "cudaEventSynchronize (staging)");
  st.pending = false;
  if (st.bytes < bytes) {
    const size_t grown = std::min(kStagedMax, std::max({bytes, size_t{64} << 10, 2 * st.bytes}));
    if (st.host) check_cuda(cudaFreeHost(st.host), "cudaFreeHost (staging)");
    st.host = nullptr;
    st.bytes = 0;
    if (cudaMallocHost(&st.host, grown) != cudaSuccess) {
      cudaGetLastError();  // not sticky: clear it
      st.host = nullptr;
      c.stage_off = true;
      return nullptr;
    }
    st.bytes = grown;
  }
  return &st;
}

void upload_parts(const Tensor& dst, const HostPart* parts, size_t count, size_t off) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += parts[i].bytes;
  check_range(dst, total, off, "upload");
  if (total == 0) return;
  Context& c = ctx();
  char* d = static_cast<char*>(dst.data) + off;
  Context::Staging* st = staging(total);
  if (!st) {
    // From pageable memory each copy returns once its source has been copied out (the driver
    // stages it; it may wait for the stream first).
    for (size_t i = 0; i < count; ++i) {
      if (parts[i].bytes) check_cuda(cudaMemcpyAsync(d, parts[i].data, parts[i].bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync (upload)");
      d += parts[i].bytes;
    }
    return;
  }
  char* h = static_cast<char*>(st->host);
  for (size_t i = 0; i < count; ++i) {
    if (parts[i].bytes) std::memcpy(h, parts[i].data, parts[i].bytes);
    h += parts[i].bytes;
  }
  check_cuda(cudaMemcpyAsync(d, st->host, total, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync (upload)");
  check_cuda(cudaEventRecord(st->done, c.stream), "cudaEventRecord (staging)");
  st->pending = true;
}

void upload(const Tensor& dst, const void* src, size_t bytes, size_t off) {
  const HostPart part{src, bytes};
  upload_parts(dst, &part, 1, off);
}

void download(void* dst, const Tensor& src, size_t bytes, size_t off) {
  check_range(src, bytes, off, "download");
  if (bytes) check_cuda(cudaMemcpyAsync(dst, static_cast<const char*>(src.data) + off, bytes, cudaMemcpyDeviceToHost, ctx().stream),
                        "cudaMemcpyAsync (download)");
  check_cuda(cudaStreamSynchronize(ctx().stream), "cudaStreamSynchronize (download)");
}

void zero(const Tensor& t) {
  check_range(t, t.bytes(), 0, "zero");
  if (t.bytes()) check_cuda(cudaMemsetAsync(t.data, 0, t.bytes(), ctx().stream), "cudaMemsetAsync");
}

void synchronize() { check_cuda(cudaStreamSynchronize(ctx().stream), "cudaStreamSynchronize"); }
void* stream_handle() { return static_cast<void*>(ctx().stream); }

// ------------------------------------------------------------------------------ conversions

namespace {

template <typename TS, typename TD>
__global__ void convert_k(const TS* __restrict__ src, TD* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    st(dst, i, ld(src, i));
}

template <typename TX>
__global__ void add_k(float* __restrict__ y, const TX* __restrict__ x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] += ld(x, i);
}

}  // namespace

void convert(const Tensor& src, const Tensor& dst) {
  need_float(src, "convert src");
  need_float(dst, "convert dst");
  need(dst, "convert dst", src.numel);
  need(src, "convert src", src.numel);
  if (src.numel == 0) return;
  Context& c = ctx();
  with_float_type(src.dtype, [&](auto s) {
    with_float_type(dst.dtype, [&](auto d) {
      using TS = decltype(s);
      using TD = decltype(d);
      check_cuda(cu::launch(convert_k<TS, TD>, dim3(grid_for(src.numel)), dim3(kThreads), 0, c.stream,
                            static_cast<const TS*>(src.data), static_cast<TD*>(dst.data), src.numel),
                 "convert");
    });
  });
}

void add_inplace(const Tensor& y, const Tensor& x) {
  need_dtype(y, "y", DType::F32);
  need_float(x, "x");
  need(x, "x", y.numel);
  need(y, "y", y.numel);
  if (y.numel == 0) return;
  Context& c = ctx();
  with_float_type(x.dtype, [&](auto tx) {
    using TX = decltype(tx);
    check_cuda(cu::launch(add_k<TX>, dim3(grid_for(y.numel)), dim3(kThreads), 0, c.stream, static_cast<float*>(y.data),
                          static_cast<const TX*>(x.data), y.numel),
               "add_inplace");
  });
}

// ------------------------------------------------------------------------------ reductions

namespace {

constexpr int64_t kSumBlock = 4096;  // elements per block of the first pass (16 per thread)

// part[b] = sum over block b's 4096 elements (thread t: elements t, t + 256, ... in order; then the tree).
template <typename TX, bool SQUARES>
__global__ void sum_pass1_k(const TX* __restrict__ x, int64_t n, double* __restrict__ part) {
  __shared__ double sh[kThreads];
  const int64_t base = blockIdx.x * kSumBlock;
  double s = 0.0;
  for (int64_t k = threadIdx.x; k < kSumBlock; k += kThreads) {
    const int64_t i = base + k;
    if (i < n) {
      const double v = ld(x, i);
      s += SQUARES ? v * v : v;
    }
  }
  s = block_sum(s, sh);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// out[slot] = the parts in a fixed tree (thread t sums parts t, t + 256, ... in order).
__global__ void sum_pass2_k(const double* __restrict__ part, int64_t parts, double* __restrict__ out, int64_t slot) {
  __shared__ double sh[kThreads];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < parts; i += kThreads) s += part[i];
  s = block_sum(s, sh);
  if (threadIdx.x == 0) out[slot] = s;
}

__global__ void clip_scale_k(const double* __restrict__ ss, int64_t count, double clip, double* __restrict__ out) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  double s = 0.0;
  for (int64_t i = 0; i < count; ++i) s += ss[i];  // the trainer's `ss += sumSquares(g)` in order
  const double norm = sqrt(s);
  out[0] = norm;
  out[1] = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1.0;
}

struct AdamConst {
  float b1, b2, step_size, inv_sqrt_bc2, decay, eps, gs;
};

// native/src/model/layers.cc adamw, element for element.
__global__ void adamw_k(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v, int64_t n,
                        AdamConst k, const double* __restrict__ scale_dev, uint16_t* __restrict__ p16) {
  const float gs = scale_dev ? static_cast<float>(*scale_dev) : k.gs;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float gi = g[i] * gs;
    const float mi = k.b1 * m[i] + (1.f - k.b1) * gi;
    const float vi = k.b2 * v[i] + (1.f - k.b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) * k.inv_sqrt_bc2 + k.eps;
    const float pi = p[i] * k.decay - k.step_size * mi / denom;
    p[i] = pi;
    if (p16) p16[i] = lmp::cu::f32_to_bf16(pi);
  }
}

}  // namespace

void reduce_sum(const Tensor& x, bool squares, const Tensor& out, int64_t slot) {
  need_float(x, "x");
  need_dtype(out, "out", DType::F64);
  need(x, "x", x.numel);
  if (slot < 0 || slot >= out.numel) fail("LMP_E_SHAPE", "reduce_sum: slot " + std::to_string(slot) + " outside out");
  Context& c = ctx();
  const int64_t parts = std::max<int64_t>(1, (x.numel + kSumBlock - 1) / kSumBlock);
  if (parts > 0x7fffffff) fail("LMP_E_SHAPE", "reduce_sum: tensor too large");
  double* part = static_cast<double*>(workspace(static_cast<size_t>(parts) * sizeof(double)));
  with_float_type(x.dtype, [&](auto tx) {
    using TX = decltype(tx);
    auto k = squares ? sum_pass1_k<TX, true> : sum_pass1_k<TX, false>;
    check_cuda(cu::launch(k, dim3(static_cast<unsigned>(parts)), dim3(kThreads), 0, c.stream, static_cast<const TX*>(x.data), x.numel, part),
               "reduce_sum");
  });
  check_cuda(cu::launch(sum_pass2_k, dim3(1), dim3(kThreads), 0, c.stream, static_cast<const double*>(part), parts,
                        static_cast<double*>(out.data), slot),
             "reduce_sum");
}

void clip_scale(const Tensor& ss, int64_t count, double clip, const Tensor& out) {
  need_dtype(ss, "ss", DType::F64);
  need_dtype(out, "out", DType::F64);
  need(out, "out", 2);
  if (count < 0 || count > ss.numel) fail("LMP_E_SHAPE", "clip_scale: count outside ss");
  check_cuda(cu::launch(clip_scale_k, dim3(1), dim3(1), 0, ctx().stream, static_cast<const double*>(ss.data), count, clip,
                        static_cast<double*>(out.data)),
             "clip_scale");
}

void adamw(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double lr, double beta1, double beta2,
           double eps, double weight_decay, int64_t step, double grad_scale, const Tensor* scale_dev, int64_t scale_index,
           const Tensor* p_bf16) {
  if (step < 1) fail("LMP_E_ARG", "adamw: step must be >= 1");
  const int64_t n = p.numel;
  for (const Tensor* t : {&p, &g, &m, &v}) need_dtype(*t, "adamw tensor", DType::F32);
  need(g, "g", n);
  need(m, "m", n);
  need(v, "v", n);
  need(p, "p", n);
  const double* sd = nullptr;
  if (scale_dev) {
    need_dtype(*scale_dev, "scale", DType::F64);
    if (scale_index < 0 || scale_index >= scale_dev->numel) fail("LMP_E_SHAPE", "adamw: scale index outside its tensor");
    sd = static_cast<const double*>(scale_dev->data) + scale_index;
  }
  uint16_t* p16 = nullptr;
  if (p_bf16) {
    need_dtype(*p_bf16, "p_bf16", DType::BF16);
    need(*p_bf16, "p_bf16", n);
    p16 = static_cast<uint16_t*>(p_bf16->data);
  }
  if (n == 0) return;
  // The CPU kernel's constants, computed the same way.
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  AdamConst k;
  k.b1 = static_cast<float>(beta1);
  k.b2 = static_cast<float>(beta2);
  k.step_size = static_cast<float>(lr / bc1);
  k.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  k.decay = static_cast<float>(1.0 - lr * weight_decay);
  k.eps = static_cast<float>(eps);
  k.gs = static_cast<float>(grad_scale);
  check_cuda(cu::launch(adamw_k, dim3(grid_for(n)), dim3(kThreads), 0, ctx().stream, static_cast<float*>(p.data),
                        static_cast<const float*>(g.data), static_cast<float*>(m.data), static_cast<float*>(v.data), n, k, sd, p16),
             "adamw");
}

}  // namespace model
}  // namespace cuda
}  // namespace lmp
