#include "backends/cuda/cuda_check.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "backends/cuda/cuda_compile.h"
#include "backends/cuda/cuda_emulate.h"
#include "backends/cuda/cuda_renderer.h"
#include "uop/error.h"

namespace mg::cuda {

namespace {
struct Checker {
  const Runtime* rt = nullptr;
  std::unique_ptr<Nvrtc> nvrtc;
  std::string why;  // no NVRTC: the reason
  std::vector<std::string> archs;
  CompileCache cache{CompileCache::default_dir(), CompileCache::default_level()};
  std::unordered_set<std::string> done;  // cache keys checked in this process
  int threads = 2;
  int emulate = 0;  // 1: GROUP kernels also run emulated against their unoptimized selves; 2: all kernels
  int64_t emulated = 0, emulate_skipped = 0;

  void check(std::span<const UOpRef> asts) {
    if (!nvrtc) fail(ErrorKind::Compile, "CUDA_CHECK is set but " + why);
    struct Job { std::string src, name, what, arch; };
    std::vector<Job> jobs;
    std::vector<std::pair<UOpRef, codegen::Kernel>> emulate_jobs;
    for (const UOpRef& ast : asts) {
      codegen::Kernel k;
      std::string src;
      try {
        k = codegen::lower(ast, cuda_target(90));
        src = render_cuda(k);
      } catch (const Error& e) {
        fail(ErrorKind::Compile, "CUDA_CHECK: kernel " + k.name + ": " + e.what());
      }
      if (rt->debug >= 4) rt->debug_line("CUDA_CHECK kernel " + k.name + " CUDA C:\n" + src);
      if (rt->debug >= 7) rt->debug_line("CUDA_CHECK kernel " + k.name + " PTX (compute_" + archs[0].substr(3) + "):\n" + nvrtc->compile(src, k.fn_name, "compute_" + archs[0].substr(3)));
      bool fresh = false;
      for (const std::string& a : archs)
        if (done.insert(cache_key(*nvrtc, src, a)).second) jobs.push_back({src, k.fn_name, "CUDA_CHECK: kernel " + k.name, a}), fresh = true;
      if (fresh && (emulate == 2 || (emulate == 1 && k.group > 1))) emulate_jobs.emplace_back(ast, std::move(k));
    }
    emulate_kernels(emulate_jobs);
    if (jobs.empty()) return;
    // NVRTC calls on separate programs may run in parallel: the archs of a batch side by side.
    std::mutex mu;
    std::string first_error;
    size_t next = 0;
    auto work = [&] {
      for (;;) {
        size_t i;
        {
          std::lock_guard<std::mutex> l(mu);
          if (next >= jobs.size() || !first_error.empty()) return;
          i = next++;
        }
        try {
          compile_cached(*nvrtc, cache, jobs[i].src, jobs[i].name, jobs[i].arch, jobs[i].what);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> l(mu);
          if (first_error.empty()) first_error = e.what();
        }
      }
    };
    const int n = std::min<int>(threads, int(jobs.size()));
    std::vector<std::thread> ts;
    for (int t = 1; t < n; t++) ts.emplace_back(work);
    work();
    for (std::thread& t : ts) t.join();
    if (rt->debug >= 2) rt->debug_line("CUDA_CHECK: " + std::to_string(jobs.size()) + " NVRTC compile(s) checked");
    if (!first_error.empty()) {
      for (const Job& j : jobs) done.erase(cache_key(*nvrtc, j.src, j.arch));  // a rerun checks them again
      fail(ErrorKind::Compile, first_error);
    }
  }

  // Each kernel and its unoptimized self, emulated on the host (cuda_emulate.h). Kernels of more
  // than kEmulateFlops are left out: the emulator runs about a GFLOP/s.
  void emulate_kernels(const std::vector<std::pair<UOpRef, codegen::Kernel>>& ks) {
    constexpr double kEmulateFlops = 2e8;
    for (const auto& [ast, k] : ks) {
      if (k.flops > kEmulateFlops || !k.vars.empty()) {  // a variable's value is not known here
        emulate_skipped++;
        if (rt->debug >= 2) rt->debug_line("CUDA_CHECK emulate: kernel " + k.name + " left out (" + (k.vars.empty() ? std::to_string(int64_t(k.flops)) + " flops)" : "variables)"));
        continue;
      }
      std::string err = check_against_unoptimized(ast, k, render_cuda(k), cuda_target(90));
      if (!err.empty()) fail(ErrorKind::Compile, "CUDA_CHECK emulate: kernel " + k.name + ": " + err);
      emulated++;
      if (rt->debug >= 2) rt->debug_line("CUDA_CHECK emulate: kernel " + k.name + " agrees with its unoptimized self (" + std::to_string(emulated) + " so far, " + std::to_string(emulate_skipped) + " left out)");
    }
  }
};
}  // namespace

std::function<void(std::span<const UOpRef>)> make_compile_check(const std::string& spec, const Runtime& rt) {
  auto c = std::make_shared<Checker>();
  c->rt = &rt;
  c->nvrtc = Nvrtc::load(&c->why);
  std::string s = spec == "1" ? "sm_90,sm_80" : spec;
  for (size_t b = 0; b <= s.size();) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    std::string a = s.substr(b, e - b);
    if (a == "emulate") c->emulate = std::max(c->emulate, 1);
    else if (a == "emulate-all") c->emulate = 2;
    else if (!a.empty()) c->archs.push_back(a);
    b = e + 1;
  }
  if (c->archs.empty()) c->archs = {"sm_90", "sm_80"};
  if (const char* t = std::getenv("CUDA_CHECK_THREADS")) c->threads = std::max(1, std::atoi(t));
  return [c](std::span<const UOpRef> asts) { c->check(asts); };
}

}  // namespace mg::cuda
