// ThreadPool: workers spin briefly on a job word, then sleep on a futex
// (std::atomic::wait), so back-to-back kernels dispatch in about a microsecond
// and an idle pool costs no CPU. See docs/runtime.md.
#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace mg {
namespace {

// claim_ holds (generation << kIdxBits) | next chunk index.
constexpr int kIdxBits = 24;  // up to 16M chunks (threads); 2^40 generations before wrapping
constexpr uint64_t kIdxMask = (uint64_t(1) << kIdxBits) - 1;
constexpr uint64_t kGenMask = (uint64_t(1) << (64 - kIdxBits)) - 1;
uint64_t gen_of(uint64_t c) { return c >> kIdxBits; }
int64_t idx_of(uint64_t c) { return static_cast<int64_t>(c & kIdxMask); }

// How long a worker (or the waiting caller) spins before it sleeps. Kernels of
// one schedule follow each other within microseconds, so spinning this long
// keeps the workers hot across them; after that an idle pool sleeps.
constexpr auto kSpinFor = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or kSpinFor has passed; returns done()'s last answer.
template <typename Done>
bool spin_until(Done done) {
  auto until = std::chrono::steady_clock::now() + kSpinFor;
  for (int i = 1;; i++) {
    if (done()) return true;
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  int workers = std::max(threads, 1) - 1;
  workers_.reserve(static_cast<size_t>(workers));
  try {
    for (int i = 0; i < workers; i++) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {  // could not start a thread: stop those that did, then report
    stop_.store(true);
    wake_.fetch_add(1);
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  wake_.fetch_add(1);  // after stop_: a worker that sees the new wake_ sees stop_
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

std::pair<int64_t, int64_t> ThreadPool::chunk(int64_t n, int64_t parts, int64_t i) {
  int64_t q = n / parts, r = n % parts;  // the first r chunks get one more
  int64_t begin = i * q + std::min(i, r);
  return {begin, begin + q + (i < r ? 1 : 0)};
}

void ThreadPool::run_one(Fn fn, void* ctx, int64_t n, int64_t parts, int64_t i) {
  auto [begin, end] = chunk(n, parts, i);
  try {
    fn(ctx, begin, end);
  } catch (...) {  // a worker thread must not let it escape (std::terminate); the caller rethrows
    std::lock_guard<std::mutex> lock(error_mu_);
    if (!error_) error_ = std::current_exception();
  }
  // The last chunk wakes the caller if it went to sleep (notify is a load when nobody waits).
  if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == parts) done_.notify_all();
}

// Claims chunks of generation `gen` until none is left. A claim is a CAS on the
// whole (generation, index) word, so it fails once the job has moved on.
void ThreadPool::run_chunks(uint64_t gen, Fn fn, void* ctx, int64_t n, int64_t parts) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  while (gen_of(c) == gen && idx_of(c) < parts) {
    if (claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      run_one(fn, ctx, n, parts, idx_of(c));
      c = claim_.load(std::memory_order_acquire);
    }
  }
}

void ThreadPool::worker_loop() {
  // 0, not what claim_ says now: a worker that starts after the first job was
  // published must still take part in it.
  uint64_t last_gen = 0;
  for (;;) {
    auto has_news = [&] { return stop_.load(std::memory_order_relaxed) || gen_of(claim_.load()) != last_gen; };
    if (!spin_until(has_news)) {
      // Read wake_ before the last look at the job word: a job published after
      // that look bumps wake_ afterwards, so wait() returns at once (all seq_cst).
      uint32_t w = wake_.load();
      if (!has_news()) {
        wake_.wait(w);
        continue;
      }
    }
    if (stop_.load()) return;
    uint64_t c = claim_.load(std::memory_order_acquire);
    last_gen = gen_of(c);
    // These may already be a later job's fields, or a mix, if this worker was slow:
    // then run_chunks claims nothing (the generation moved on) and the loop comes
    // round to the new job. A successful claim proves they are this job's.
    run_chunks(last_gen, fn_.load(std::memory_order_relaxed), ctx_.load(std::memory_order_relaxed),
               n_.load(std::memory_order_relaxed), parts_.load(std::memory_order_relaxed));
  }
}

void ThreadPool::parallel_for(int64_t n, Fn fn, void* ctx, int64_t min_chunk) {
  if (n <= 0) return;
  int64_t most = (n - 1) / std::max<int64_t>(min_chunk, 1) + 1;  // ceil(n / min_chunk)
  int64_t parts = std::min<int64_t>(threads(), most);
  // One thread's worth, or the pool is busy (a chunk calling back in, another thread): inline.
  if (parts <= 1 || busy_.exchange(true, std::memory_order_acquire)) {
    fn(ctx, 0, n);
    return;
  }
  fn_.store(fn, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  n_.store(n, std::memory_order_relaxed);
  parts_.store(parts, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  uint64_t gen = gen_ = (gen_ + 1) & kGenMask;  // only the busy_ holder touches gen_
  claim_.store(gen << kIdxBits);  // publishes the fields above (seq_cst, so also ordered before wake_)
  wake_.fetch_add(1);
  wake_.notify_all();

  run_chunks(gen, fn, ctx, n, parts);
  auto all_done = [&] { return done_.load(std::memory_order_acquire) == parts; };
  while (!spin_until(all_done)) {
    int32_t d = done_.load(std::memory_order_acquire);
    if (d != parts) done_.wait(d, std::memory_order_acquire);
  }
  std::exception_ptr err = std::exchange(error_, nullptr);  // workers are done with it
  busy_.store(false, std::memory_order_release);
  if (err) std::rethrow_exception(err);
}

}  // namespace mg
