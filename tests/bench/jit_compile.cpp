// Benchmark of what the compile cache saves (make bench): for one elementwise
// kernel, the time to compile IR to an object, to load an object into a JIT,
// and to read the object back from a CompileCache (memory, and disk in a fresh
// instance). Figures are medians.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/llvm_jit.h"
#include "runtime/compile_cache.h"

namespace {
using Clock = std::chrono::steady_clock;

const char* kIR = R"(
define void @k(ptr noalias %a, ptr noalias %b, ptr noalias %out, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %next, %loop ]
  %pa = getelementptr inbounds float, ptr %a, i64 %i
  %pb = getelementptr inbounds float, ptr %b, i64 %i
  %x = load float, ptr %pa
  %y = load float, ptr %pb
  %m = fmul float %x, %y
  %s = fadd float %m, %x
  %po = getelementptr inbounds float, ptr %out, i64 %i
  store float %s, ptr %po
  %next = add nuw nsw i64 %i, 1
  %more = icmp slt i64 %next, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}
)";

template <typename F>
double median_us(int reps, F f) {
  std::vector<double> t;
  for (int i = 0; i < reps; i++) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

int main() {
  mg::cpu::LlvmJit jit;
  std::string obj;
  double compile = median_us(30, [&] { obj = jit.compile_object(kIR, "k"); });
  std::vector<std::unique_ptr<mg::cpu::LlvmJit>> jits;
  for (int i = 0; i < 30; i++) jits.push_back(std::make_unique<mg::cpu::LlvmJit>());
  size_t next = 0;
  double load = median_us(30, [&] { jits[next++]->load(obj, "k"); });

  std::string tmpl = (std::filesystem::temp_directory_path() / "mg_bench_cache_XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return 1;
  const std::string key = "k | " + jit.target_key();
  mg::CompileCache writer(tmpl, 1);
  double put = median_us(30, [&] { writer.put(key, obj); });
  double mem_get = median_us(30, [&] { (void)writer.get(key); });
  double disk_get = median_us(30, [&] {
    mg::CompileCache fresh(tmpl, 1);
    (void)fresh.get(key);
  });
  std::filesystem::remove_all(tmpl);

  std::printf("jit_compile: %zu-byte object\n", obj.size());
  std::printf("  compile_object (parse, O2, codegen): %8.1f us\n", compile);
  std::printf("  load (link into a JIT, lookup):      %8.1f us\n", load);
  std::printf("  cache put (memory + file):           %8.1f us\n", put);
  std::printf("  cache get, memory hit:               %8.1f us\n", mem_get);
  std::printf("  cache get, disk hit (new instance):  %8.1f us\n", disk_get);
  return 0;
}
