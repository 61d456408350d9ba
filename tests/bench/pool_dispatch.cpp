// Benchmark of ThreadPool::parallel_for's dispatch overhead (make bench): the
// time of a call whose chunks do nothing, so all of it is hand-off and join.
// "hot": calls back to back (workers spinning). "cold": each call after 2 ms
// idle (workers asleep on the futex). Figures are medians.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "runtime/thread_pool.h"

namespace {
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void nothing(void*, int64_t, int64_t) {}

// Median µs per call over batches of `calls` back-to-back calls.
double hot_us(mg::ThreadPool& pool, int calls) {
  std::vector<double> per;
  for (int batch = 0; batch < 21; batch++) {
    auto t0 = Clock::now();
    for (int i = 0; i < calls; i++) pool.parallel_for(pool.threads(), nothing, nullptr);
    per.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / calls);
  }
  return median(per);
}

double cold_us(mg::ThreadPool& pool, int calls) {
  std::vector<double> t;
  for (int i = 0; i < calls; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto t0 = Clock::now();
    pool.parallel_for(pool.threads(), nothing, nullptr);
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return median(t);
}

// What a pool saves: starting and joining threads for every call.
double spawn_us(int threads, int calls) {
  std::vector<double> t;
  for (int i = 0; i < calls; i++) {
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int k = 1; k < threads; k++) ts.emplace_back([] {});
    for (auto& th : ts) th.join();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return median(t);
}
}  // namespace

int main() {
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  std::printf("pool_dispatch: %u hardware threads\n", hw);
  std::vector<int> counts = {1, 2, 4, 8, 16};
  if (std::find(counts.begin(), counts.end(), int(hw)) == counts.end()) counts.push_back(int(hw));
  std::sort(counts.begin(), counts.end());
  for (int n : counts) {
    if (n > int(2 * hw) && n > 4) continue;  // heavily oversubscribed figures mean little
    mg::ThreadPool pool(n);
    double hot = hot_us(pool, 20000), cold = cold_us(pool, 200);
    std::printf("  threads %2d%s: hot %7.2f us/call   cold %7.2f us/call   (spawn+join threads: %7.2f us)\n", n,
                n > int(hw) ? " (oversubscribed)" : "", hot, cold, n > 1 ? spawn_us(n, 200) : 0.0);
  }
  return 0;
}
