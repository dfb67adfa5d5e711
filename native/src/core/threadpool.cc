#include "core/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace lmp {
namespace {

thread_local bool tl_in_worker = false;

int default_threads() {
  if (const char* env = std::getenv("LMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(size_t n, const std::function<void(size_t, size_t, int)>& fn, size_t grain) {
    // Chunks: a few per thread for balance, never smaller than grain.
    size_t chunks = std::min<size_t>(n, static_cast<size_t>(n_) * 4);
    size_t min_chunks = (n + grain - 1) / std::max<size_t>(grain, 1);
    chunks = std::max<size_t>(1, std::min(chunks, min_chunks));
    std::unique_lock<std::mutex> job_lock(job_mu_);  // one job at a time
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      n_items_ = n;
      n_chunks_ = chunks;
      next_.store(0);
      done_.store(0);
      ++generation_;
    }
    cv_.notify_all();
    work(0);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return done_.load() == n_chunks_; });
    fn_ = nullptr;
  }

 private:
  void work(int worker) {
    tl_in_worker = true;
    for (;;) {
      size_t c = next_.fetch_add(1);
      if (c >= n_chunks_) break;
      size_t b = n_items_ * c / n_chunks_, e = n_items_ * (c + 1) / n_chunks_;
      if (b < e) (*fn_)(b, e, worker);
      if (done_.fetch_add(1) + 1 == n_chunks_) {
        std::lock_guard<std::mutex> lk(mu_);
        done_cv_.notify_all();
      }
    }
    tl_in_worker = false;
  }
  void loop(int worker) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (!fn_) continue;
      }
      work(worker);
    }
  }

  int n_;
  std::vector<std::thread> workers_;
  std::mutex mu_, job_mu_;
  std::condition_variable cv_, done_cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  const std::function<void(size_t, size_t, int)>* fn_ = nullptr;
  size_t n_items_ = 0, n_chunks_ = 0;
  std::atomic<size_t> next_{0}, done_{0};
};

std::mutex g_pool_mu;
std::unique_ptr<Pool> g_pool;
int g_threads = 0;

Pool& pool() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_threads <= 0) g_threads = default_threads();
  if (!g_pool || g_pool->size() != g_threads) {
    g_pool.reset();
    g_pool = std::make_unique<Pool>(g_threads);
  }
  return *g_pool;
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_threads <= 0) g_threads = default_threads();
  return g_threads;
}

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  g_threads = n > 0 ? n : default_threads();
}

void parallel_for(size_t n, const std::function<void(size_t, size_t, int)>& fn, size_t grain) {
  if (n == 0) return;
  if (tl_in_worker || n <= grain) {
    fn(0, n, 0);
    return;
  }
  Pool& p = pool();
  if (p.size() == 1) {
    fn(0, n, 0);
    return;
  }
  p.run(n, fn, grain);
}

}  // namespace lmp
