#include "core/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LMP_CPU_RELAX() _mm_pause()
#else
#define LMP_CPU_RELAX() std::this_thread::yield()
#endif

// Design (why it cannot deadlock, run a chunk twice or lose one):
// - Every parallel_for call owns a Job on its own stack: its chunk counters, its width and its
//   first exception. Nothing about a job lives in the pool, so a worker that is late for one job
//   can never claim chunks of the next: it can only reach a job through the pool's list, and a
//   job leaves the list before its caller returns.
// - A worker joins a job under the pool mutex (taking a slot < width and counting itself in
//   `active`) and leaves it under the mutex. The caller returns only when every chunk is done
//   AND no worker is still inside the job (active == 0), checked under the same mutex, so the
//   Job is never touched after its stack frame is gone.
// - Several callers (the main thread and libuv workers running AsyncWorkers) may run jobs at
//   the same time: each job is in the list, idle workers help whichever has unclaimed chunks,
//   and each caller always works on its own job, so every job finishes even with no worker.
// - The pool is held by shared_ptr: set_num_threads() swaps in a new pool for later calls, and
//   the old one is destroyed (its idle workers joined) when the last job running on it ends.
// - Calls from inside a job (a worker, or a caller inside its own chunk) run serially.
// - Short bursts (a decode step is dozens of small jobs back to back): an idle worker first spins
//   for up to LMP_SPIN_US microseconds (default 50; 0 = never; pause for the first 4, then yielding) watching `posted_`, a counter of
//   jobs ever listed, before it sleeps on the condition variable; the caller likewise spins on its
//   own job's `done` before it waits. Spinning only decides WHEN to take the mutex: joining,
//   leaving and the caller's final check happen under it exactly as above, so no job state is
//   shared and a late worker still reaches jobs only through the list.
// - Waking on the caller's CPU (Linux): a sleeping worker that the kernel wakes onto the CPU its
//   caller runs on moves itself to the next CPU it may use (its affinity set to that one CPU,
//   then restored). On small VMs the kernel places wakeups on the waker's CPU while the other
//   vCPU sits idle (halted vCPUs do not count as idle there): the two threads then shared one CPU
//   for a time slice or more, and a quarter to half of 2-thread calls after an idle pause ran at
//   1-thread speed (bench/RESULTS.md, "the pool's wakeups"). (The caller also yielding once after
//   waking sleepers, so that such a worker moved sooner, cost time on a loaded machine.)

namespace lmp {
namespace {

thread_local bool tl_in_worker = false;

int spin_us() {
  static const int us = [] {
    const char* env = std::getenv("LMP_SPIN_US");
    const int v = env ? std::atoi(env) : 50;
    return v < 0 ? 0 : v;
  }();
  return us;
}

// Waits until pred() or `us` microseconds pass: pause instructions for the first few
// microseconds, then sched_yield between checks, so that on a machine with more runnable threads
// than cores the spinning thread hands its core to them instead of burning it.
template <typename P>
bool spin_until(P pred, int us) {
  if (us <= 0) return pred();
  const auto start = std::chrono::steady_clock::now();
  const auto hot = start + std::chrono::microseconds(us < 4 ? us : 4), end = start + std::chrono::microseconds(us);
  bool yielding = false;
  for (unsigned i = 1;; ++i) {
    if (pred()) return true;
    if (yielding) {
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() >= end) return pred();
    } else {
      LMP_CPU_RELAX();
      if ((i & 63) == 0 && std::chrono::steady_clock::now() >= hot) yielding = true;
    }
  }
}

int default_threads() {
  if (const char* env = std::getenv("LMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

using Fn = std::function<void(size_t, size_t, int)>;

struct Job {
  const Fn* fn = nullptr;
  size_t n_items = 0, n_chunks = 0;
  int width = 1;                   // slots 0..width-1; the caller is slot 0
  std::atomic<size_t> next{0};     // next chunk to claim
  std::atomic<size_t> done{0};     // chunks finished (run or skipped after an error)
  std::atomic<bool> failed{false};
  // Guarded by Pool::mu_:
  int joined = 1;  // slots handed out (the caller holds slot 0)
  int active = 0;  // workers (not the caller) inside work() for this job
  std::exception_ptr error;
  int caller_cpu = -1;  // the caller's CPU when it listed the job (Linux), else -1
};

#if defined(__linux__)
// Moves the calling thread off `cpu` to the `k`-th CPU (k >= 1) after it (cyclically) in its affinity set,
// then gives it back its whole set: the kernel migrates it at once and does not move it back.
void move_off(int cpu, int k) {
  cpu_set_t all;
  CPU_ZERO(&all);
  if (cpu < 0 || sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) return;
  k = (k - 1) % (CPU_COUNT(&all) - 1) + 1;  // more workers than other CPUs: they share them in turn
  int target = -1;
  for (int d = 1; d < CPU_SETSIZE && target < 0; ++d) {
    const int c = (cpu + d) % CPU_SETSIZE;
    if (CPU_ISSET(c, &all) && --k <= 0) target = c;
  }
  if (target < 0) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(target, &one);
  if (sched_setaffinity(0, sizeof one, &one) == 0) sched_setaffinity(0, sizeof all, &all);
}
#endif

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    workers_.reserve(static_cast<size_t>(n_ > 1 ? n_ - 1 : 0));
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true, std::memory_order_release);
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(size_t n, const Fn& fn, size_t grain) {
    // Chunks: a few per thread for balance, never smaller than grain.
    size_t chunks = std::min<size_t>(n, static_cast<size_t>(n_) * 4);
    size_t min_chunks = (n + grain - 1) / std::max<size_t>(grain, 1);
    chunks = std::max<size_t>(1, std::min(chunks, min_chunks));
    Job job;
    job.fn = &fn;
    job.n_items = n;
    job.n_chunks = chunks;
    job.width = static_cast<int>(std::min<size_t>(static_cast<size_t>(n_), chunks));
    if (job.width > 1) {
#if defined(__linux__)
      job.caller_cpu = sched_getcpu();
#endif
      {
        std::lock_guard<std::mutex> lk(mu_);
        jobs_.push_back(&job);
        posted_.fetch_add(1, std::memory_order_release);
      }
      // Spinning workers see posted_ change; sleeping ones need the notification.
      if (sleepers_.load(std::memory_order_acquire) > 0) {
        if (job.width - 1 >= n_ - 1) work_cv_.notify_all();
        else for (int i = 1; i < job.width; ++i) work_cv_.notify_one();
      }
    }
    const bool was_in_worker = tl_in_worker;
    tl_in_worker = true;
    work(job, 0);
    tl_in_worker = was_in_worker;
    if (job.width > 1) spin_until([&] { return job.done.load(std::memory_order_acquire) == job.n_chunks; }, spin_us());
    {
      std::unique_lock<std::mutex> lk(mu_);
      unlist(&job);
      done_cv_.wait(lk, [&] { return job.active == 0 && job.done.load() == job.n_chunks; });
    }
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  // Claims and runs chunks until none is left. Never touches another job.
  void work(Job& job, int slot) {
    for (;;) {
      const size_t c = job.next.fetch_add(1);
      if (c >= job.n_chunks) break;
      if (!job.failed.load(std::memory_order_relaxed)) {
        const size_t b = job.n_items * c / job.n_chunks, e = job.n_items * (c + 1) / job.n_chunks;
        try {
          if (b < e) (*job.fn)(b, e, slot);
        } catch (...) {
          std::lock_guard<std::mutex> lk(mu_);
          if (!job.error) job.error = std::current_exception();
          job.failed.store(true);
        }
      }
      job.done.fetch_add(1);
    }
  }

  void unlist(Job* job) {  // mu_ held
    auto it = std::find(jobs_.begin(), jobs_.end(), job);
    if (it != jobs_.end()) jobs_.erase(it);
  }

  // A listed job that still has a free slot and unclaimed chunks; drops the others. mu_ held.
  Job* pick() {
    while (!jobs_.empty()) {
      Job* j = jobs_.front();
      if (j->joined < j->width && j->next.load() < j->n_chunks) return j;
      jobs_.pop_front();
    }
    return nullptr;
  }

  void loop() {
    tl_in_worker = true;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      Job* job = nullptr;
      if (!stop_ && (job = pick()) == nullptr) {
        // Nothing to join: spin a while for the next job of a burst, then sleep.
        const uint64_t seen = posted_.load(std::memory_order_acquire);
        lk.unlock();
        spin_until([&] { return posted_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_acquire); }, spin_us());
        lk.lock();
        sleepers_.fetch_add(1, std::memory_order_acq_rel);
        work_cv_.wait(lk, [&] { return stop_ || (job = pick()) != nullptr; });
        sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      }
      if (stop_) return;
      const int slot = job->joined++;
      ++job->active;
      if (job->joined >= job->width) unlist(job);
      lk.unlock();
#if defined(__linux__)
      if (job->caller_cpu >= 0 && sched_getcpu() == job->caller_cpu) move_off(job->caller_cpu, slot);
#endif
      work(*job, slot);
      lk.lock();
      // Notify under the mutex: once we unlock, the caller may return and the Job is gone.
      if (--job->active == 0 && job->done.load() == job->n_chunks) done_cv_.notify_all();
    }
  }

  const int n_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Job*> jobs_;
  std::atomic<bool> stop_{false};      // set under mu_; read under it, and while spinning
  std::atomic<uint64_t> posted_{0};    // jobs ever listed (changes wake spinners)
  std::atomic<int> sleepers_{0};       // workers inside work_cv_.wait (or about to be)
};

std::mutex g_pool_mu;
std::shared_ptr<Pool> g_pool;
int g_threads = 0;

std::shared_ptr<Pool> pool() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_threads <= 0) g_threads = default_threads();
  if (!g_pool || g_pool->size() != g_threads) g_pool = std::make_shared<Pool>(g_threads);
  return g_pool;
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_threads <= 0) g_threads = default_threads();
  return g_threads;
}

void set_num_threads(int n) {
  std::shared_ptr<Pool> old;
  {
    std::lock_guard<std::mutex> lk(g_pool_mu);
    g_threads = n > 0 ? n : default_threads();
    if (g_pool && g_pool->size() != g_threads) old = std::move(g_pool);
  }
  // `old` is released here, outside the lock: if no job runs on it, its idle workers are
  // joined now; otherwise the last running job's caller releases it.
}

void parallel_for(size_t n, const Fn& fn, size_t grain) {
  if (n == 0) return;
  if (tl_in_worker || n <= grain) {
    fn(0, n, 0);
    return;
  }
  std::shared_ptr<Pool> p = pool();
  if (p->size() == 1) {
    fn(0, n, 0);
    return;
  }
  p->run(n, fn, grain);
}

}  // namespace lmp
