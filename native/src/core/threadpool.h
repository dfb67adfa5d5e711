// A fixed pool of worker threads with a blocking parallel_for.
//
// Sized to the machine (std::thread::hardware_concurrency) unless LMP_NUM_THREADS is set
// or set_num_threads() is called. parallel_for(n, fn) runs fn(begin, end) over disjoint
// chunks of [0, n) and returns when all are done; the calling thread takes part. Nested
// calls from inside a worker run serially (no deadlock, no oversubscription). Safe for
// concurrent callers (each call's job state is its own; idle workers help any running job)
// and for set_num_threads() while jobs run (a running job finishes on the pool it started on).
// An exception thrown by fn stops the job's remaining chunks and is rethrown to the caller.
#pragma once
#include <cstddef>
#include <functional>

namespace lmp {

int num_threads();
void set_num_threads(int n);  // n <= 0 resets to the default

// fn(begin, end, worker_index); worker_index < num_threads(). `grain` is the smallest
// chunk worth sending to another thread.
void parallel_for(size_t n, const std::function<void(size_t, size_t, int)>& fn, size_t grain = 1);

}  // namespace lmp
