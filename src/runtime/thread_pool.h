// ThreadPool: persistent workers that run one parallel_for at a time, for the
// CPU device's kernels. See docs/runtime.md ("Thread pool") for the design and
// the measured dispatch overhead.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace mg {

class ThreadPool {
 public:
  // The body of a parallel_for: handles [begin, end) of the index space.
  using Fn = void (*)(void* ctx, int64_t begin, int64_t end);

  // `threads` is the total parallelism, the calling thread included: threads-1
  // workers are started and live until the destructor. threads <= 1 starts
  // none, and every parallel_for runs inline.
  explicit ThreadPool(int threads);
  ~ThreadPool();  // joins the workers; call it while no parallel_for runs
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, n) into contiguous chunks of at least `min_chunk` indices (as
  // many as there are threads, fewer when n is small), runs fn(ctx, begin, end)
  // once per chunk on the workers and the calling thread, and returns when all
  // are done. n <= 0 calls nothing. A chunk that throws: the first exception is
  // rethrown here, after every chunk has finished. A call made while another
  // runs (from a chunk, or from another thread) runs inline, on the caller.
  void parallel_for(int64_t n, Fn fn, void* ctx, int64_t min_chunk = 1);

  // The same with any callable f(begin, end), passed by reference (no copy, no allocation).
  template <typename F>
  void parallel_for(int64_t n, F&& f, int64_t min_chunk = 1) {
    using T = std::remove_reference_t<F>;
    parallel_for(
        n, [](void* c, int64_t b, int64_t e) { (*static_cast<T*>(c))(b, e); },
        const_cast<void*>(static_cast<const void*>(&f)), min_chunk);
  }

  // The chunk `i` of `parts` over [0, n): sizes differ by at most one.
  static std::pair<int64_t, int64_t> chunk(int64_t n, int64_t parts, int64_t i);

 private:
  void worker_loop();
  void run_chunks(uint64_t gen, Fn fn, void* ctx, int64_t n, int64_t parts);
  void run_one(Fn fn, void* ctx, int64_t n, int64_t parts, int64_t i);

  // The current job. Written by the dispatching thread before it publishes a new
  // generation; a worker reads them after seeing that generation and uses them
  // only once it has claimed a chunk of it (claim_ then proves they were current).
  std::atomic<Fn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int64_t> n_{0}, parts_{0};
  // (generation << 24) | next chunk to claim. One word, so a worker that wakes
  // late cannot claim a chunk of a later job with the fields of an earlier one.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int32_t> done_{0};       // chunks finished in the current job (int: a plain futex)
  std::atomic<uint32_t> wake_{0};      // bumped per job and at shutdown; sleepers wait on it
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};      // one parallel_for at a time; others run inline
  uint64_t gen_ = 0;                   // the last generation published (busy_'s holder only)
  std::mutex error_mu_;
  std::exception_ptr error_;           // first exception of the current job
  std::vector<std::thread> workers_;
};

}  // namespace mg
