// C++ test of core/threadpool without Node: several caller threads run parallel_for at once
// while another thread resizes the pool (1-4 threads); every index of every job must be visited
// exactly once, worker slots must stay below the pool size the job started on, nested calls run
// serially, and an exception in a chunk reaches the caller; and (Linux, two or more CPUs) a worker
// woken after an idle pause runs its chunk on another CPU than its caller's. Built and run (also
// under ThreadSanitizer) by native/test/tsan.sh; exits 0 when every check held.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/threadpool.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace {

std::atomic<int> g_failures{0};

void check(bool ok, const char* what, size_t a = 0, size_t b = 0) {
  if (!ok) {
    std::fprintf(stderr, "pool_test: %s (%zu, %zu)\n", what, a, b);
    g_failures.fetch_add(1);
  }
}

void one_job(size_t n, size_t grain, bool nested) {
  std::vector<std::atomic<int>> hits(n);
  for (auto& h : hits) h.store(0);
  lmp::parallel_for(
      n,
      [&](size_t b, size_t e, int slot) {
        check(b < e && e <= n, "chunk out of range", b, e);
        check(slot >= 0 && slot < 4, "slot out of range (the test never has more than 4 threads)", static_cast<size_t>(slot));
        for (size_t i = b; i < e; ++i) {
          if (nested) {
            // A nested call runs serially in this thread and must cover its range too.
            std::atomic<int> inner{0};
            lmp::parallel_for(5, [&](size_t ib, size_t ie, int) { inner.fetch_add(static_cast<int>(ie - ib)); });
            check(inner.load() == 5, "nested call lost items");
          }
          hits[i].fetch_add(1);
        }
      },
      grain);
  for (size_t i = 0; i < n; ++i) check(hits[i].load() == 1, "index not visited exactly once", i, static_cast<size_t>(hits[i].load()));
}

#if defined(__linux__)
// A caller pinned to its CPU, after idle pauses that put the workers to sleep, runs two-chunk jobs
// whose chunks each take ~2 ms: in the rounds where the worker ran a chunk, it must have run it
// on another CPU (the small VMs this was found on woke it onto the caller's CPU every time, where
// it waited behind the caller or shared its CPU: a 2-thread job at 1-thread speed).
void wakeups_off_the_callers_cpu() {
  cpu_set_t all;
  CPU_ZERO(&all);
  if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) {
    std::printf("pool_test: one CPU, wakeup placement not checked\n");
    return;
  }
  lmp::set_num_threads(2);
  one_job(64, 1, false);  // the pool's worker starts here, with this thread's (whole) CPU set
  int ran = 0, same = 0;
  bool pinned = false;
  std::thread caller([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return;  // affinity not allowed here: nothing to check
    pinned = true;
    const int mine = sched_getcpu();
    for (int r = 0; r < 20; ++r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::atomic<int> workerCpu{-1};
      lmp::parallel_for(2, [&](size_t, size_t, int slot) {
        if (slot != 0) workerCpu.store(sched_getcpu());
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
        while (std::chrono::steady_clock::now() < end) {
        }
      });
      if (workerCpu.load() >= 0) ++ran, same += workerCpu.load() == mine;
    }
  });
  caller.join();
  if (!pinned) {
    std::printf("pool_test: sched_setaffinity refused, wakeup placement not checked\n");
    return;
  }
  std::printf("pool_test: wakeups: the worker ran a chunk in %d of 20 rounds, %d on the caller's CPU\n", ran, same);
  check(same * 10 <= ran, "woken workers ran on their caller's CPU", static_cast<size_t>(same), static_cast<size_t>(ran));
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 2000;
  lmp::set_num_threads(4);
  std::atomic<bool> stop{false};
  std::thread resizer([&] {
    unsigned s = 12345;
    while (!stop.load()) {
      s = s * 1103515245u + 12345u;
      lmp::set_num_threads(1 + static_cast<int>((s >> 16) % 4));
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([c, rounds] {
      for (int r = 0; r < rounds; ++r) {
        const size_t n = 1 + static_cast<size_t>((r * 7919 + c * 104729) % 997);
        one_job(n, 1 + static_cast<size_t>(r % 5), r % 17 == 0);
      }
    });
  for (auto& t : callers) t.join();
  stop.store(true);
  resizer.join();

  // Exceptions: the first one thrown in a chunk is rethrown to the caller; the pool stays usable.
  lmp::set_num_threads(4);
  for (int r = 0; r < 200; ++r) {
    bool caught = false;
    try {
      lmp::parallel_for(100, [&](size_t b, size_t, int) {
        if (b >= 50) throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    check(caught, "exception not rethrown to the caller", static_cast<size_t>(r));
    one_job(313, 1, false);
  }
#if defined(__linux__)
  wakeups_off_the_callers_cpu();
#endif
  lmp::set_num_threads(0);
  if (g_failures.load() != 0) {
    std::fprintf(stderr, "pool_test: %d failures\n", g_failures.load());
    return 1;
  }
  std::printf("pool_test: ok (%d rounds x 3 callers, resizes, nested calls, exceptions)\n", rounds);
  return 0;
}
