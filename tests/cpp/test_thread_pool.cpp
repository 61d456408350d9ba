// The CPU device's thread pool (src/runtime/thread_pool.h).
#include "runtime/thread_pool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

// Runs parallel_for over n and checks that every index was visited exactly once
// and that the chunks were contiguous, non-empty and no more than the threads.
void check_cover(mg::ThreadPool& pool, int64_t n, int64_t min_chunk = 1) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n > 0 ? n : 0));
  std::atomic<int> chunks{0}, empty_chunks{0};
  pool.parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        chunks++;
        if (b >= e) empty_chunks++;
        for (int64_t i = b; i < e; i++) hits[static_cast<size_t>(i)]++;
      },
      min_chunk);
  int wrong = 0;
  for (auto& h : hits) wrong += h.load() != 1;
  INFO("threads=", pool.threads(), " n=", n, " min_chunk=", min_chunk);
  CHECK(wrong == 0);
  CHECK(empty_chunks == 0);
  CHECK(chunks <= pool.threads());
  if (n > 0) CHECK(chunks >= 1);
  if (n <= 0) CHECK(chunks == 0);
}

}  // namespace

TEST_CASE("thread pool: chunk splits evenly and covers the range") {
  using P = mg::ThreadPool;
  CHECK(P::chunk(10, 3, 0) == std::pair<int64_t, int64_t>(0, 4));
  CHECK(P::chunk(10, 3, 1) == std::pair<int64_t, int64_t>(4, 7));
  CHECK(P::chunk(10, 3, 2) == std::pair<int64_t, int64_t>(7, 10));
  CHECK(P::chunk(2, 2, 1) == std::pair<int64_t, int64_t>(1, 2));
  // No overflow near the top of int64.
  const int64_t big = INT64_MAX - 5;
  CHECK(P::chunk(big, 7, 6).second == big);
  CHECK(P::chunk(big, 7, 1).first == P::chunk(big, 7, 0).second);
}

TEST_CASE("thread pool: every index exactly once, for many n and thread counts") {
  for (int threads : {1, 2, 3, 4, 8, 13}) {
    mg::ThreadPool pool(threads);
    CHECK(pool.threads() == threads);
    for (int64_t n : {int64_t(-3), int64_t(0), int64_t(1), int64_t(2), int64_t(3), int64_t(5), int64_t(7),
                      int64_t(12), int64_t(13), int64_t(64), int64_t(1000), int64_t(100003)})
      check_cover(pool, n);
    check_cover(pool, 1000, 300);  // at most 4 chunks of >= 250
    check_cover(pool, 1000, 2000);  // one chunk, inline
  }
  mg::ThreadPool zero(0);  // treated as 1
  CHECK(zero.threads() == 1);
  check_cover(zero, 10);
}

TEST_CASE("thread pool: the chunks run on several threads, the caller among them") {
  mg::ThreadPool pool(4);
  // Each chunk waits until all four have started, which only ends if four threads run them.
  std::atomic<int> started{0};
  std::vector<std::thread::id> ids(4);
  pool.parallel_for(4, [&](int64_t b, int64_t) {
    ids[static_cast<size_t>(b)] = std::this_thread::get_id();
    started++;
    while (started.load() < 4) std::this_thread::yield();
  });
  std::set<std::thread::id> distinct(ids.begin(), ids.end());
  CHECK(distinct.size() == 4);
  CHECK(distinct.count(std::this_thread::get_id()) == 1);
}

TEST_CASE("thread pool: repeated calls, with idle gaps that let the workers sleep") {
  mg::ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  for (int rep = 0; rep < 2000; rep++) {
    int64_t n = 1 + rep % 37;
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      int64_t s = 0;
      for (int64_t i = b; i < e; i++) s += i + 1;
      total += s;
    });
    if (rep % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // past the spin
  }
  int64_t want = 0;
  for (int rep = 0; rep < 2000; rep++) {
    int64_t n = 1 + rep % 37;
    want += n * (n + 1) / 2;
  }
  CHECK(total.load() == want);
}

TEST_CASE("thread pool: a plain function pointer and context") {
  mg::ThreadPool pool(3);
  std::vector<int> out(50, 0);
  pool.parallel_for(
      50, [](void* ctx, int64_t b, int64_t e) {
        auto& v = *static_cast<std::vector<int>*>(ctx);
        for (int64_t i = b; i < e; i++) v[static_cast<size_t>(i)] = static_cast<int>(i * i);
      },
      &out);
  int bad = 0;
  for (int i = 0; i < 50; i++) bad += out[static_cast<size_t>(i)] != i * i;
  CHECK(bad == 0);
}

TEST_CASE("thread pool: a nested call runs inline instead of deadlocking") {
  mg::ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(3, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++)
      pool.parallel_for(10, [&](int64_t bb, int64_t ee) {
        for (int64_t j = bb; j < ee; j++) sum += i * 10 + j;
      });
  });
  CHECK(sum.load() == 435);  // 0..29
}

TEST_CASE("thread pool: an exception in a chunk reaches the caller after all chunks finish") {
  mg::ThreadPool pool(4);
  std::atomic<int> ran{0};
  CHECK_THROWS_WITH_AS(pool.parallel_for(8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      ran++;
      if (i == 5) throw std::runtime_error("chunk failed at 5");
    }
  }, 2), "chunk failed at 5", std::runtime_error);
  // Chunks of 2: [4,6) stopped after counting 5, the other three ran whole,
  // and all of that before parallel_for returned.
  CHECK(ran.load() == 8);
  // The pool is usable afterwards.
  check_cover(pool, 1000);
}

TEST_CASE("thread pool: made and destroyed many times, idle or just used") {
  for (int i = 0; i < 50; i++) {
    mg::ThreadPool pool(1 + i % 5);
    if (i % 2) check_cover(pool, 100);
  }
}
