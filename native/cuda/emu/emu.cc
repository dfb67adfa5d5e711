// lmp's CUDA emulator: fibers, barriers, warp collectives, launches and the runtime API subset.
// See emu.h for the model. cuBLAS is in cublas.cc.
//
// Layouts (PTX ISA, "Parallel Synchronization and Communication Instructions" / "Warp Level
// Matrix Multiply-Accumulate Instructions"; docs.nvidia.com/cuda/parallel-thread-execution):
//   mma.m16n8k16, floating point (section "Matrix Fragments for mma.m16n8k16 with floating point
//   type"), groupID = laneid >> 2, threadID_in_group = laneid % 4:
//     A (16x16, .row), four .b32 registers of two 16-bit elements a0..a7:
//       row = groupID for a0,a1,a4,a5 and groupID + 8 for a2,a3,a6,a7;
//       col = threadID_in_group * 2 + (i & 1) for a0..a3 and + 8 for a4..a7
//       i.e. reg 0 = (g, 2t..2t+1), reg 1 = (g+8, 2t..), reg 2 = (g, 2t+8..), reg 3 = (g+8, 2t+8..)
//     B (16x8, .col), two registers, b0..b3: row (k) = threadID_in_group * 2 + (i & 1) for b0,b1
//       and + 8 for b2,b3; col (n) = groupID
//     C, D (16x8, f32), c0..c3: row = groupID for c0,c1 and groupID + 8 for c2,c3;
//       col = threadID_in_group * 2 + (i & 1)
//     The lower 16 bits of a register hold the element with the lower index.
//   ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16 (section "Warp-level matrix load
//   instruction: ldmatrix"): threads 0-7 give the row addresses of matrix 0, 8-15 of matrix 1,
//   16-23 of 2, 24-31 of 3 (x1 reads threads 0-7 only, x2 threads 0-15); each row is 8 elements
//   (16 bytes, 16-byte aligned). Register i of thread T holds matrix i's row T/4, elements
//   2*(T%4) and 2*(T%4)+1; with .trans the matrix is transposed on the way: row 2*(T%4) and
//   2*(T%4)+1 of column T/4.
// The products of the emulated mma are exact in fp32 (bf16/fp16 inputs) and summed in fp32 in k
// order, starting from C; the hardware's summation order/precision is not specified by PTX.
#include "emu.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../common/device.cuh"

#if defined(__x86_64__) && !defined(LMP_EMU_UCONTEXT)
#define LMP_EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

#if defined(LMP_EMU_ASM_SWITCH)
// lmp_emu_swap(save, load): pushes the callee-saved registers, stores rsp in *save, switches to
// load and pops that context's registers. A new context starts in lmp_emu_trampoline, which calls
// r13(r12).
extern "C" void lmp_emu_swap(void** save_sp, void* load_sp);
extern "C" void lmp_emu_trampoline();
asm(R"(
  .text
  .globl lmp_emu_swap
  .hidden lmp_emu_swap
  .type lmp_emu_swap,@function
lmp_emu_swap:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size lmp_emu_swap,.-lmp_emu_swap
  .globl lmp_emu_trampoline
  .hidden lmp_emu_trampoline
  .type lmp_emu_trampoline,@function
lmp_emu_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size lmp_emu_trampoline,.-lmp_emu_trampoline
)");
#endif

namespace lmp {
namespace emu {

namespace detail {
thread_local ThreadState* tls_thread = nullptr;
[[noreturn]] void not_in_kernel() {
  throw std::runtime_error("lmp CUDA emulator: threadIdx/blockIdx/a device primitive used outside a kernel launch");
}
}  // namespace detail

namespace {

std::string fmt3(unsigned x, unsigned y, unsigned z) {
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
}

size_t env_size(const char* name, size_t dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  return (end && *end == 0 && n > 0) ? static_cast<size_t>(n) : dflt;
}

const char* coll_name(Coll k) {
  switch (k) {
    case Coll::Sync: return "warp_sync";
    case Coll::ShflIdx: return "shfl";
    case Coll::ShflXor: return "shfl_xor";
    case Coll::ShflDown: return "shfl_down";
    case Coll::ShflUp: return "shfl_up";
    case Coll::MmaBf16: return "mma_16816_bf16";
    case Coll::MmaF16: return "mma_16816_f16";
    case Coll::Ldm1: return "ldmatrix_x1";
    case Coll::Ldm2: return "ldmatrix_x2";
    case Coll::Ldm4: return "ldmatrix_x4";
    case Coll::Ldm1T: return "ldmatrix_x1_trans";
    case Coll::Ldm2T: return "ldmatrix_x2_trans";
    case Coll::Ldm4T: return "ldmatrix_x4_trans";
  }
  return "?";
}

std::string site(const char* file, int line, const char* func) {
  if (!file) return "?";
  const char* slash = std::strrchr(file, '/');
  return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line) + (func && *func ? std::string(" in ") + func : "");
}

bool same_site(const char* fa, int la, const char* fb, int lb) {
  return la == lb && (fa == fb || (fa && fb && std::strcmp(fa, fb) == 0));
}

// --- kernel names -------------------------------------------------------------------------------
// A kernel in an anonymous namespace (or in a binary linked without -rdynamic) is not in the
// dynamic symbol table dladdr reads: look its address up in the file's own .symtab instead.
std::string symtab_name(const char* file, uintptr_t offset) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::vector<char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (buf.size() < sizeof(Elf64_Ehdr) || std::memcmp(buf.data(), ELFMAG, SELFMAG) != 0 || buf[EI_CLASS] != ELFCLASS64) return {};
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(buf.data());
  if (eh->e_shoff == 0 || eh->e_shoff + static_cast<size_t>(eh->e_shnum) * sizeof(Elf64_Shdr) > buf.size()) return {};
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(buf.data() + eh->e_shoff);
  for (int i = 0; i < eh->e_shnum; ++i) {
    if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
    const Elf64_Shdr& strs = sh[sh[i].sh_link];
    if (sh[i].sh_offset + sh[i].sh_size > buf.size() || strs.sh_offset + strs.sh_size > buf.size()) return {};
    const auto* sym = reinterpret_cast<const Elf64_Sym*>(buf.data() + sh[i].sh_offset);
    const size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
    for (size_t k = 0; k < n; ++k)
      if (ELF64_ST_TYPE(sym[k].st_info) == STT_FUNC && sym[k].st_value == offset && sym[k].st_name < strs.sh_size)
        return std::string(buf.data() + strs.sh_offset + sym[k].st_name);
  }
  return {};
}

std::string kernel_name(const void* kernel) {
  static std::mutex mu;
  static std::unordered_map<const void*, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(kernel);
  if (it != cache.end()) return it->second;
  std::string name, mangled;
  Dl_info info;
  if (dladdr(kernel, &info)) {
    if (info.dli_sname && info.dli_saddr == kernel)
      mangled = info.dli_sname;
    else if (info.dli_fname && *info.dli_fname) {
      const auto* eh = static_cast<const Elf64_Ehdr*>(info.dli_fbase);
      const uintptr_t base = eh && eh->e_type == ET_DYN ? reinterpret_cast<uintptr_t>(info.dli_fbase) : 0;
      // (The main program's dli_fname may be a bare argv[0]: then /proc/self/exe.)
      mangled = symtab_name(info.dli_fname, reinterpret_cast<uintptr_t>(kernel) - base);
      if (mangled.empty()) mangled = symtab_name("/proc/self/exe", reinterpret_cast<uintptr_t>(kernel) - base);
    }
  }
  if (!mangled.empty()) {
    int status = 0;
    char* d = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
    name = status == 0 && d ? d : mangled;
    std::free(d);
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "<kernel at %p>", kernel);
    name = buf;
  }
  cache[kernel] = name;
  return name;
}

// --- fibers -----------------------------------------------------------------------------------
enum class State { Runnable, WaitBlock, WaitWarp, Exited };

struct PendingCopy {
  void* dst;
  unsigned char data[16];
};

struct Runner;

struct Fiber {
  ThreadState ts;
  Runner* runner = nullptr;
#if defined(LMP_EMU_ASM_SWITCH)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
  unsigned char* stack = nullptr;
  State state = State::Runnable;
  const char* file = nullptr;  // where it waits
  int line = 0;
  const char* func = nullptr;
  Coll kind = Coll::Sync;
  const void* in = nullptr;
  void* out = nullptr;
  int arg = 0;
  std::vector<PendingCopy> open;                   // cp.async not yet committed
  std::deque<std::vector<PendingCopy>> committed;  // committed groups, oldest first
};

struct ShflIn {
  uint32_t v;
  int width;
};

struct Warp {
  int first = 0, size = 0, arrived = 0;
};

void apply(std::vector<PendingCopy>& g) {
  for (auto& c : g) std::memcpy(c.dst, c.data, 16);
  g.clear();
}

void flush_copies(Fiber& f) {
  while (!f.committed.empty()) {
    apply(f.committed.front());
    f.committed.pop_front();
  }
  apply(f.open);
}

// One per OS thread that runs blocks: the fibers, their stacks and the dynamic shared memory.
struct Runner {
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<unsigned char*> stacks;  // mmap'd, a guard page below each
  size_t stack_bytes = 0;
  std::vector<unsigned char> dyn_buf;
  BlockState bs{};
  std::vector<Warp> warps;
  int n = 0, block_arrived = 0;
#if defined(LMP_EMU_ASM_SWITCH)
  void* sched_sp = nullptr;
#else
  ucontext_t sched_uc;
#endif
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  const std::string* kname = nullptr;
  std::exception_ptr error;  // first exception of this block
  bool abort = false;

  ~Runner() {
    for (auto* s : stacks) munmap(s - page(), stack_bytes + page());
  }
  static size_t page() {
    static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return p;
  }
  unsigned char* new_stack() {
    const size_t total = stack_bytes + page();
    void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) throw std::runtime_error("lmp CUDA emulator: cannot map a fiber stack");
    mprotect(m, page(), PROT_NONE);  // guard: an overflow faults instead of corrupting a neighbour
    return static_cast<unsigned char*>(m) + page();
  }

  std::string where() const {
    return "kernel " + *kname + ", block " + fmt3(bs.bid.x, bs.bid.y, bs.bid.z) + " of grid " + fmt3(bs.gdim.x, bs.gdim.y, bs.gdim.z) +
           ", blockDim " + fmt3(bs.bdim.x, bs.bdim.y, bs.bdim.z);
  }
  std::string tid(const Fiber& f) const { return "thread " + fmt3(f.ts.tid.x, f.ts.tid.y, f.ts.tid.z); }

  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error("lmp CUDA emulator: " + what + " (" + where() + ")"); }

  void to_scheduler(Fiber& f) {
#if defined(LMP_EMU_ASM_SWITCH)
    lmp_emu_swap(&f.sp, sched_sp);
#else
    swapcontext(&f.uc, &sched_uc);
#endif
  }

  static void entry(Fiber* f) {
    Runner& r = *f->runner;
    try {
      r.body(r.ctx);
    } catch (...) {
      if (!r.error) r.error = std::current_exception();
      r.abort = true;
    }
    try {
      flush_copies(*f);
    } catch (...) {
    }
    f->state = State::Exited;
    r.to_scheduler(*f);
    std::abort();  // an exited fiber is never resumed
  }
#if !defined(LMP_EMU_ASM_SWITCH)
  static void uc_entry(unsigned hi, unsigned lo) {
    entry(reinterpret_cast<Fiber*>((static_cast<uintptr_t>(hi) << 32) | lo));
  }
#endif

  void prepare(int count) {
    const size_t want = env_size("LMP_CUDA_EMU_STACK_KB", 256) * 1024;
    const size_t sb = (want + page() - 1) / page() * page();
    if (sb != stack_bytes) {
      for (auto* s : stacks) munmap(s - page(), stack_bytes + page());
      stacks.clear();
      stack_bytes = sb;
    }
    while (static_cast<int>(stacks.size()) < count) stacks.push_back(new_stack());
    while (static_cast<int>(fibers.size()) < count) fibers.push_back(std::make_unique<Fiber>());
  }

  void start(Fiber& f, unsigned char* stack) {
    f.runner = this;
    f.stack = stack;
    f.state = State::Runnable;
    f.open.clear();
    f.committed.clear();
#if defined(LMP_EMU_ASM_SWITCH)
    uintptr_t top = reinterpret_cast<uintptr_t>(stack + stack_bytes) & ~static_cast<uintptr_t>(15);
    void** sp = reinterpret_cast<void**>(top - 72);
    sp[0] = nullptr;                                       // r15
    sp[1] = nullptr;                                       // r14
    sp[2] = reinterpret_cast<void*>(&Runner::entry);       // r13: the function
    sp[3] = &f;                                            // r12: its argument
    sp[4] = nullptr;                                       // rbx
    sp[5] = nullptr;                                       // rbp
    sp[6] = reinterpret_cast<void*>(&lmp_emu_trampoline);  // return address
    f.sp = sp;
#else
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = stack;
    f.uc.uc_stack.ss_size = stack_bytes;
    f.uc.uc_link = nullptr;
    const uintptr_t p = reinterpret_cast<uintptr_t>(&f);
    makecontext(&f.uc, reinterpret_cast<void (*)()>(&Runner::uc_entry), 2, static_cast<unsigned>(p >> 32),
                static_cast<unsigned>(p & 0xffffffffu));
#endif
  }

  void resume(Fiber& f) {
    detail::tls_thread = &f.ts;
#if defined(LMP_EMU_ASM_SWITCH)
    lmp_emu_swap(&sched_sp, f.sp);
#else
    swapcontext(&sched_uc, &f.uc);
#endif
    detail::tls_thread = nullptr;
  }

  // Runs one block to completion; throws on a fault or a deadlock.
  void run_block(uint3 bid, dim3 bdim, dim3 gdim, size_t smem) {
    n = static_cast<int>(bdim.x * bdim.y * bdim.z);
    prepare(n);
    if (dyn_buf.size() < smem + 128) dyn_buf.resize(smem + 128);
    unsigned char* dyn = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(dyn_buf.data()) + 127) & ~uintptr_t(127));
    std::memset(dyn, 0xff, smem);  // NaN bytes: a read of unwritten shared memory shows
    bs.bid = bid;
    bs.bdim = bdim;
    bs.gdim = gdim;
    bs.dyn_smem = smem ? dyn : nullptr;
    error = nullptr;
    abort = false;
    block_arrived = 0;
    const int nwarps = (n + 31) / 32;
    warps.assign(nwarps, Warp{});
    for (int w = 0; w < nwarps; ++w) {
      warps[w].first = 32 * w;
      warps[w].size = std::min(32, n - 32 * w);
    }
    for (int i = 0; i < n; ++i) {
      Fiber& f = *fibers[i];
      f.ts.linear = i;
      f.ts.tid = uint3{static_cast<unsigned>(i) % bdim.x, (static_cast<unsigned>(i) / bdim.x) % bdim.y,
                       static_cast<unsigned>(i) / (bdim.x * bdim.y)};
      f.ts.block = &bs;
      f.ts.fiber = &f;
      start(f, stacks[i]);
    }
    int exited = 0;
    for (;;) {
      bool ran = false;
      for (int i = 0; i < n && !abort; ++i) {
        Fiber& f = *fibers[i];
        if (f.state != State::Runnable) continue;
        resume(f);
        ran = true;
        if (f.state == State::Exited) ++exited;
      }
      if (abort) std::rethrow_exception(error);
      if (exited == n) return;
      if (!ran) fail(deadlock_report());
    }
  }

  std::string deadlock_report() const {
    // Group the threads that cannot go on by what they wait at.
    struct Group {
      std::string what;
      int count = 0;
      std::string first;
    };
    std::vector<Group> groups;
    auto add = [&](const std::string& what, const Fiber& f) {
      for (auto& g : groups)
        if (g.what == what) {
          ++g.count;
          return;
        }
      groups.push_back({what, 1, tid(f)});
    };
    for (int i = 0; i < n; ++i) {
      const Fiber& f = *fibers[i];
      if (f.state == State::WaitBlock)
        add("wait at __syncthreads (" + site(f.file, f.line, f.func) + ")", f);
      else if (f.state == State::WaitWarp)
        add("wait in warp " + std::to_string(i / 32) + " at " + coll_name(f.kind) + " (" + site(f.file, f.line, f.func) + ")", f);
      else if (f.state == State::Exited)
        add("exited", f);
    }
    std::ostringstream os;
    os << "deadlock: a barrier can never complete (__syncthreads needs all " << n
       << " threads of the block at the same __syncthreads; a warp collective needs every lane of its warp): ";
    for (size_t i = 0; i < groups.size(); ++i)
      os << (i ? "; " : "") << groups[i].count << " of " << n << " threads " << groups[i].what << " (e.g. " << groups[i].first << ")";
    return os.str();
  }

  // --- barriers ---------------------------------------------------------------------------------
  void block_barrier(Fiber& f, const char* file, int line, const char* func) {
    f.state = State::WaitBlock;
    f.file = file;
    f.line = line;
    f.func = func;
    if (++block_arrived < n) {
      to_scheduler(f);
      return;
    }
    block_arrived = 0;
    for (int i = 0; i < n; ++i) {
      const Fiber& g = *fibers[i];
      if (!same_site(g.file, g.line, file, line))
        fail("divergent __syncthreads: " + tid(g) + " waits at " + site(g.file, g.line, g.func) + ", " + tid(f) + " at " + site(file, line, func) +
             " (every thread must reach the same __syncthreads)");
    }
    for (int i = 0; i < n; ++i) fibers[i]->state = State::Runnable;
  }

  void collective(Fiber& f, Coll kind, const void* in, void* out, int arg, const char* file, int line, const char* func) {
    f.state = State::WaitWarp;
    f.kind = kind;
    f.in = in;
    f.out = out;
    f.arg = arg;
    f.file = file;
    f.line = line;
    f.func = func;
    Warp& w = warps[f.ts.linear / 32];
    if (++w.arrived < w.size) {
      to_scheduler(f);
      return;
    }
    w.arrived = 0;
    for (int l = 0; l < w.size; ++l) {
      const Fiber& g = *fibers[w.first + l];
      if (g.kind != kind)
        fail("divergent warp collectives in warp " + std::to_string(f.ts.linear / 32) + ": " + tid(g) + " at " + coll_name(g.kind) + " (" +
             site(g.file, g.line, g.func) + "), " + tid(f) + " at " + coll_name(kind) + " (" + site(file, line, func) + ")");
    }
    perform(w, kind);
    for (int l = 0; l < w.size; ++l) fibers[w.first + l]->state = State::Runnable;
  }

  void need_full_warp(const Warp& w, Coll kind) const {
    if (w.size != 32)
      fail(std::string(coll_name(kind)) + " needs a full warp of 32 threads; warp " + std::to_string(w.first / 32) + " has " +
           std::to_string(w.size) + " (blockDim is not a multiple of 32)");
  }

  void perform(const Warp& w, Coll kind) {
    const std::unique_ptr<Fiber>* lanes = &fibers[w.first];
    switch (kind) {
      case Coll::Sync: return;
      case Coll::ShflIdx:
      case Coll::ShflXor:
      case Coll::ShflDown:
      case Coll::ShflUp: {
        uint32_t vals[32];
        for (int l = 0; l < w.size; ++l) vals[l] = static_cast<const ShflIn*>(lanes[l]->in)->v;
        for (int l = 0; l < w.size; ++l) {
          const Fiber& f = *lanes[l];
          const int width = static_cast<const ShflIn*>(f.in)->width;
          if (width < 1 || width > 32 || (width & (width - 1)))
            fail(std::string(coll_name(kind)) + ": width " + std::to_string(width) + " is not a power of 2 in [1, 32]");
          const int seg = l & ~(width - 1);
          int src = l;
          if (kind == Coll::ShflIdx) src = seg + (f.arg & (width - 1));
          else if (kind == Coll::ShflXor) src = l ^ f.arg;
          else if (kind == Coll::ShflDown) src = l + f.arg;
          else src = l - f.arg;
          if (src < seg || src >= seg + width || src > 31) src = l;  // out of the segment: own value
          if (src >= w.size)
            fail(std::string(coll_name(kind)) + " from lane " + std::to_string(src) + ", which does not exist (warp " +
                 std::to_string(w.first / 32) + " has " + std::to_string(w.size) + " threads)");
          *static_cast<uint32_t*>(f.out) = vals[src];
        }
        return;
      }
      case Coll::MmaBf16:
      case Coll::MmaF16: {
        need_full_warp(w, kind);
        const bool bf = kind == Coll::MmaBf16;
        float A[16][16], B[16][8], C[16][8];
        auto cvt = [bf](uint32_t v, int hi) {
          const uint16_t h = static_cast<uint16_t>(hi ? v >> 16 : v & 0xffffu);
          return bf ? cu::bf16_to_f32(h) : cu::f16_to_f32(h);
        };
        for (int l = 0; l < 32; ++l) {
          const MmaIn& in = *static_cast<const MmaIn*>(lanes[l]->in);
          const int g = l >> 2, t = l & 3;
          for (int e = 0; e < 2; ++e) {
            A[g][2 * t + e] = cvt(in.a[0], e);
            A[g + 8][2 * t + e] = cvt(in.a[1], e);
            A[g][2 * t + 8 + e] = cvt(in.a[2], e);
            A[g + 8][2 * t + 8 + e] = cvt(in.a[3], e);
            B[2 * t + e][g] = cvt(in.b[0], e);
            B[2 * t + 8 + e][g] = cvt(in.b[1], e);
            C[g][2 * t + e] = in.c[e];
            C[g + 8][2 * t + e] = in.c[2 + e];
          }
        }
        float D[16][8];
        for (int i = 0; i < 16; ++i)
          for (int j = 0; j < 8; ++j) {
            float s = C[i][j];
            for (int k = 0; k < 16; ++k) s += A[i][k] * B[k][j];
            D[i][j] = s;
          }
        for (int l = 0; l < 32; ++l) {
          float* d = static_cast<float*>(lanes[l]->out);
          const int g = l >> 2, t = l & 3;
          d[0] = D[g][2 * t];
          d[1] = D[g][2 * t + 1];
          d[2] = D[g + 8][2 * t];
          d[3] = D[g + 8][2 * t + 1];
        }
        return;
      }
      case Coll::Ldm1:
      case Coll::Ldm2:
      case Coll::Ldm4:
      case Coll::Ldm1T:
      case Coll::Ldm2T:
      case Coll::Ldm4T: {
        need_full_warp(w, kind);
        const int nm = (kind == Coll::Ldm1 || kind == Coll::Ldm1T) ? 1 : (kind == Coll::Ldm2 || kind == Coll::Ldm2T) ? 2 : 4;
        const bool trans = kind == Coll::Ldm1T || kind == Coll::Ldm2T || kind == Coll::Ldm4T;
        uint16_t M[4][8][8];
        for (int i = 0; i < nm; ++i)
          for (int r = 0; r < 8; ++r) {
            const Fiber& f = *lanes[8 * i + r];
            if (reinterpret_cast<uintptr_t>(f.in) % 16 != 0)
              fail(std::string(coll_name(kind)) + ": " + tid(f) + " gives a row address that is not 16-byte aligned");
            std::memcpy(M[i][r], f.in, 16);
          }
        for (int l = 0; l < 32; ++l) {
          uint32_t* out = static_cast<uint32_t*>(lanes[l]->out);
          const int r = l / 4, c = 2 * (l % 4);
          for (int i = 0; i < nm; ++i)
            out[i] = trans ? cu::pack_u16x2(M[i][c][r], M[i][c + 1][r]) : cu::pack_u16x2(M[i][r][c], M[i][r][c + 1]);
        }
        return;
      }
    }
  }
};

Runner& runner() {
  static thread_local Runner r;
  return r;
}

Fiber& cur_fiber(const char* what) {
  ThreadState* t = detail::tls_thread;
  if (!t) throw std::runtime_error(std::string("lmp CUDA emulator: ") + what + " called outside a kernel launch");
  return *static_cast<Fiber*>(t->fiber);
}

// --- device memory -----------------------------------------------------------------------------
struct Memory {
  std::mutex mu;
  std::map<uintptr_t, size_t> dev;   // start -> bytes
  std::map<uintptr_t, size_t> host;  // cudaMallocHost
  // cudaMemcpyAsync from page-locked memory (a GPU's DMA reads it later): each copy's source range
  // and a hash of its bytes at issue, until a synchronization the copy must have finished by
  struct Flight {
    uintptr_t src;
    size_t bytes;
    uint64_t hash;
    uint64_t seq;
  };
  std::vector<Flight> flights;
  uint64_t seq = 0;
  std::set<const void*> streams, events;
  std::unordered_map<const void*, int> max_dyn_smem;  // cudaFuncSetAttribute
};
void report_leaks();
Memory& mem() {
  // Never destroyed, so that cudaFree from late static destructors still works; the leak report
  // runs at exit (after the static objects constructed since the first cudaMalloc are gone).
  static Memory* m = [] {
    std::atexit(report_leaks);
    return new Memory();
  }();
  return *m;
}
void report_leaks() {
  std::lock_guard<std::mutex> lock(mem().mu);
  if (mem().dev.empty()) return;
  size_t bytes = 0;
  for (auto& a : mem().dev) bytes += a.second;
  std::fprintf(stderr, "lmp CUDA emulator: %zu device allocation(s), %zu bytes, never freed (cudaFree)\n", mem().dev.size(), bytes);
}

bool in_map(const std::map<uintptr_t, size_t>& m, const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = m.upper_bound(a);
  if (it == m.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second && a + bytes >= a;
}

uint64_t fnv1a(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

thread_local cudaError_t g_last = cudaSuccess;
cudaError_t set_err(cudaError_t e) {
  if (e != cudaSuccess) g_last = e;
  return e;
}
cudaError_t bad(cudaError_t e, const std::string& why) {
  std::fprintf(stderr, "lmp CUDA emulator: %s\n", why.c_str());
  return set_err(e);
}

constexpr size_t kSmemDefault = 48 * 1024, kSmemOptin = 232448;  // sm_90: 227 KiB opt-in

// Retires the async copies from page-locked memory issued up to `seq` (all with UINT64_MAX), and, for
// every one whose source bytes (or, with `overlap`, only those meeting [lo, lo + n)) the host has
// changed since the copy was issued, reports the race: on a GPU the DMA may have read either. Called
// with mem().mu held.
cudaError_t retire_flights(uint64_t seq, const char* where, uintptr_t lo = 0, size_t n = 0, bool overlap = false) {
  Memory& m = mem();
  cudaError_t r = cudaSuccess;
  std::vector<Memory::Flight> keep;
  for (const Memory::Flight& f : m.flights) {
    const bool meets = !overlap || (f.src < lo + n && lo < f.src + f.bytes);
    if (meets && fnv1a(reinterpret_cast<const void*>(f.src), f.bytes) != f.hash) {
      r = bad(cudaErrorInvalidValue, std::string(where) + ": the host changed page-locked memory [" + std::to_string(f.src) + ", +" +
                                         std::to_string(f.bytes) + ") that a cudaMemcpyAsync had not finished reading (wait for an event recorded after the copy first)");
      continue;  // reported once
    }
    if (!overlap && f.seq <= seq) continue;
    keep.push_back(f);
  }
  m.flights.swap(keep);
  return r;
}

}  // namespace

// --- device-side entry points ---------------------------------------------------------------------
void syncthreads(const char* file, int line, const char* func) {
  Fiber& f = cur_fiber("__syncthreads");
  f.runner->block_barrier(f, file, line, func);
}

void warp_collective(Coll kind, const void* in, void* out, int arg, const char* file, int line, const char* func) {
  Fiber& f = cur_fiber(coll_name(kind));
  f.runner->collective(f, kind, in, out, arg, file, line, func);
}

uint32_t shfl32(Coll kind, uint32_t v, int arg, int width, const char* file, int line, const char* func) {
  const ShflIn in{v, width};
  uint32_t out = 0;
  warp_collective(kind, &in, &out, arg, file, line, func);
  return out;
}

void cp_async(void* smem, const void* gmem, bool valid) {
  Fiber& f = cur_fiber("cp_async_16");
  if (reinterpret_cast<uintptr_t>(smem) % 16 != 0 || (valid && reinterpret_cast<uintptr_t>(gmem) % 16 != 0))
    f.runner->fail(f.runner->tid(f) + ": cp_async_16 with an address that is not 16-byte aligned");
  PendingCopy c;
  c.dst = smem;
  if (valid)
    std::memcpy(c.data, gmem, 16);  // read at issue, lands at cp_async_wait
  else
    std::memset(c.data, 0, 16);
  f.open.push_back(c);
}

void cp_async_commit() {
  Fiber& f = cur_fiber("cp_async_commit");
  f.committed.push_back(std::move(f.open));
  f.open.clear();
}

void cp_async_wait(int n) {
  Fiber& f = cur_fiber("cp_async_wait");
  while (static_cast<int>(f.committed.size()) > n) {
    apply(f.committed.front());
    f.committed.pop_front();
  }
}

int os_threads() {
  static const int n = [] {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<int>(env_size("LMP_CUDA_EMU_THREADS", std::min(4u, hw)));
  }();
  return n;
}

cudaError_t launch_kernel(const void* kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, void (*body)(void*), void* ctx) {
  if (detail::tls_thread) throw std::runtime_error("lmp CUDA emulator: a kernel launch inside a kernel is not supported");
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64)
    return bad(cudaErrorInvalidConfiguration, "launch of " + kernel_name(kernel) + ": blockDim " + fmt3(block.x, block.y, block.z) +
                                                  " (1..1024 threads, z <= 64)");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    return bad(cudaErrorInvalidConfiguration, "launch of " + kernel_name(kernel) + ": gridDim " + fmt3(grid.x, grid.y, grid.z));
  size_t limit = kSmemDefault;
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    auto it = mem().max_dyn_smem.find(kernel);
    if (it != mem().max_dyn_smem.end()) limit = static_cast<size_t>(it->second);
    if (stream && !mem().streams.count(stream))
      return bad(cudaErrorInvalidResourceHandle, "launch of " + kernel_name(kernel) + ": unknown stream");
  }
  if (smem > limit)
    return bad(cudaErrorInvalidValue, "launch of " + kernel_name(kernel) + ": " + std::to_string(smem) +
                                          " bytes of dynamic shared memory over the kernel's limit " + std::to_string(limit) +
                                          " (raise it with cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n))");
  const std::string kname = kernel_name(kernel);
  const size_t nblocks = 1ull * grid.x * grid.y * grid.z;
  const int nt = static_cast<int>(std::min<size_t>(static_cast<size_t>(os_threads()), nblocks));
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex err_mu;
  size_t err_block = SIZE_MAX;
  std::exception_ptr err;
  auto work = [&] {
    Runner& r = runner();
    r.body = body;
    r.ctx = ctx;
    r.kname = &kname;
    while (!stop.load(std::memory_order_relaxed)) {
      const size_t i = next.fetch_add(1);
      if (i >= nblocks) break;
      const uint3 bid{static_cast<unsigned>(i % grid.x), static_cast<unsigned>((i / grid.x) % grid.y),
                      static_cast<unsigned>(i / (1ull * grid.x * grid.y))};
      try {
        r.run_block(bid, block, grid, smem);
      } catch (...) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (i < err_block) {
          err_block = i;
          err = std::current_exception();
        }
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < nt; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (err) {
    try {
      std::rethrow_exception(err);
    } catch (const std::runtime_error& e) {
      const std::string m = e.what();
      if (m.rfind("lmp CUDA emulator:", 0) == 0) throw;
      throw std::runtime_error("lmp CUDA emulator: kernel " + kname + " threw: " + m);
    }
  }
  return cudaSuccess;
}

bool is_device_range(const void* p, size_t bytes) {
  std::lock_guard<std::mutex> lock(mem().mu);
  return in_map(mem().dev, p, bytes);
}
size_t live_device_allocations() {
  std::lock_guard<std::mutex> lock(mem().mu);
  return mem().dev.size();
}
size_t live_device_bytes() {
  std::lock_guard<std::mutex> lock(mem().mu);
  size_t b = 0;
  for (auto& a : mem().dev) b += a.second;
  return b;
}

}  // namespace emu
}  // namespace lmp

// --- the runtime API ------------------------------------------------------------------------------
using lmp::emu::bad;
using lmp::emu::mem;
using lmp::emu::set_err;

cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (!p) return set_err(cudaErrorInvalidValue);
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  const size_t rounded = (bytes + 255) / 256 * 256;
  void* a = std::aligned_alloc(256, rounded);
  if (!a) return set_err(cudaErrorMemoryAllocation);
  std::memset(a, 0xff, rounded);  // NaN bytes: a read of never-written device memory shows
  std::lock_guard<std::mutex> lock(mem().mu);
  mem().dev[reinterpret_cast<uintptr_t>(a)] = bytes;
  *p = a;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    auto it = mem().dev.find(reinterpret_cast<uintptr_t>(p));
    if (it == mem().dev.end()) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "cudaFree(%p): not a pointer cudaMalloc returned (or freed twice)", p);
      lmp::emu::g_last = cudaErrorInvalidValue;
      std::fprintf(stderr, "lmp CUDA emulator: %s\n", buf);
      return cudaErrorInvalidValue;
    }
    mem().dev.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  if (!p) return set_err(cudaErrorInvalidValue);
  void* a = std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) / 256 * 256);
  if (!a) return set_err(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(mem().mu);
  mem().host[reinterpret_cast<uintptr_t>(a)] = bytes;
  *p = a;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    // cudaFreeHost waits for the device: the copies in flight finish first
    const cudaError_t e = lmp::emu::retire_flights(UINT64_MAX, "cudaFreeHost");
    if (e != cudaSuccess) return e;
    auto it = mem().host.find(reinterpret_cast<uintptr_t>(p));
    if (it == mem().host.end()) return bad(cudaErrorInvalidValue, "cudaFreeHost: not a pointer cudaMallocHost returned");
    mem().host.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return bad(cudaErrorInvalidValue, "cudaMemcpy: null pointer");
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return set_err(cudaErrorInvalidMemcpyDirection);
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (dst_dev && !lmp::emu::in_map(mem().dev, dst, bytes))
      return bad(cudaErrorInvalidValue, "cudaMemcpy: destination [" + std::to_string(reinterpret_cast<uintptr_t>(dst)) + ", +" +
                                            std::to_string(bytes) + ") is not inside one cudaMalloc allocation");
    if (src_dev && !lmp::emu::in_map(mem().dev, src, bytes))
      return bad(cudaErrorInvalidValue, "cudaMemcpy: source [" + std::to_string(reinterpret_cast<uintptr_t>(src)) + ", +" +
                                            std::to_string(bytes) + ") is not inside one cudaMalloc allocation");
  }
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  const uintptr_t s = reinterpret_cast<uintptr_t>(src);
  bool pinned_src = false, pinned_dst = false;
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    pinned_src = bytes && (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDefault) && lmp::emu::in_map(mem().host, src, bytes);
    pinned_dst = bytes && lmp::emu::in_map(mem().host, dst, bytes);
    // a new copy from a range still in flight: its earlier copy must not have seen other bytes
    if (pinned_src) {
      const cudaError_t e = lmp::emu::retire_flights(0, "cudaMemcpyAsync", s, bytes, true);
      if (e != cudaSuccess) return e;
    }
  }
  const cudaError_t e = cudaMemcpy(dst, src, bytes, kind);
  if (e != cudaSuccess) return e;
  std::lock_guard<std::mutex> lock(mem().mu);
  if (pinned_src) mem().flights.push_back({s, bytes, lmp::emu::fnv1a(src, bytes), ++mem().seq});
  // a device-to-host copy into pageable memory returns when done, so every earlier copy has finished
  if (bytes && kind == cudaMemcpyDeviceToHost && !pinned_dst) return lmp::emu::retire_flights(UINT64_MAX, "cudaMemcpyAsync");
  return cudaSuccess;
}

cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    if (!lmp::emu::in_map(mem().dev, p, bytes))
      return bad(cudaErrorInvalidValue, "cudaMemset: [p, p + " + std::to_string(bytes) + ") is not inside one cudaMalloc allocation");
  }
  std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }

static size_t emu_total_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
  return pages > 0 && psz > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(psz) : (size_t{16} << 30);
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  const size_t total = emu_total_memory(), used = lmp::emu::live_device_bytes();
  if (free_bytes) *free_bytes = used < total ? total - used : 0;
  if (total_bytes) *total_bytes = total;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  if (!s) return set_err(cudaErrorInvalidValue);
  *s = reinterpret_cast<cudaStream_t>(new char[1]);
  std::lock_guard<std::mutex> lock(mem().mu);
  mem().streams.insert(*s);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    if (!s || !mem().streams.erase(s)) return bad(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: unknown stream");
  }
  delete[] reinterpret_cast<char*>(s);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  std::lock_guard<std::mutex> lock(mem().mu);
  if (s && !mem().streams.count(s)) return bad(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: unknown stream");
  return lmp::emu::retire_flights(UINT64_MAX, "cudaStreamSynchronize");  // one queue: everything issued has finished
}
cudaError_t cudaDeviceSynchronize() {
  std::lock_guard<std::mutex> lock(mem().mu);
  return lmp::emu::retire_flights(UINT64_MAX, "cudaDeviceSynchronize");
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return set_err(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (!device) return set_err(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : set_err(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (!p) return set_err(cudaErrorInvalidValue);
  if (device != 0) return set_err(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "lmp CUDA emulator");
  p->totalGlobalMem = emu_total_memory();
  p->sharedMemPerBlock = lmp::emu::kSmemDefault;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->clockRate = 1000000;
  p->multiProcessorCount = lmp::emu::os_threads();
  p->major = 9;
  p->minor = 0;
  p->sharedMemPerBlockOptin = lmp::emu::kSmemOptin;
  p->sharedMemPerMultiprocessor = 233472;
  p->l2CacheSize = 50 << 20;
  p->memoryBusWidth = 5120;
  p->maxThreadsPerMultiProcessor = 2048;
  return cudaSuccess;
}

struct EmuEvent {
  bool recorded = false;
  uint64_t seq = 0;  // the async copies issued before it (mem().seq at the record)
  std::chrono::steady_clock::time_point t;
};
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  if (!e) return set_err(cudaErrorInvalidValue);
  *e = reinterpret_cast<cudaEvent_t>(new EmuEvent());
  std::lock_guard<std::mutex> lock(mem().mu);
  mem().events.insert(*e);
  return cudaSuccess;
}
static EmuEvent* find_event(cudaEvent_t e) {
  std::lock_guard<std::mutex> lock(mem().mu);
  return mem().events.count(e) ? reinterpret_cast<EmuEvent*>(e) : nullptr;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  EmuEvent* ev = find_event(e);
  if (!ev) return bad(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event");
  ev->recorded = true;
  ev->t = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mem().mu);
  ev->seq = mem().seq;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  EmuEvent* ev = find_event(e);
  if (!ev) return bad(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: unknown event");
  std::lock_guard<std::mutex> lock(mem().mu);
  return lmp::emu::retire_flights(ev->seq, "cudaEventSynchronize");  // the copies issued before its record have finished
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  EmuEvent *a = find_event(start), *b = find_event(end);
  if (!ms || !a || !b) return set_err(cudaErrorInvalidResourceHandle);
  if (!a->recorded || !b->recorded) return set_err(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  {
    std::lock_guard<std::mutex> lock(mem().mu);
    if (!mem().events.erase(e)) return bad(cudaErrorInvalidResourceHandle, "cudaEventDestroy: unknown event");
  }
  delete reinterpret_cast<EmuEvent*>(e);
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = lmp::emu::g_last;
  lmp::emu::g_last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return lmp::emu::g_last; }

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (!func) return set_err(cudaErrorInvalidValue);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > lmp::emu::kSmemOptin)
      return bad(cudaErrorInvalidValue, "cudaFuncSetAttribute: MaxDynamicSharedMemorySize " + std::to_string(value) + " over " +
                                            std::to_string(lmp::emu::kSmemOptin) + " (sm_90)");
    std::lock_guard<std::mutex> lock(mem().mu);
    mem().max_dyn_smem[func] = value;
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  return set_err(cudaErrorInvalidValue);
}
