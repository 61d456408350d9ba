// CPU: kernels rendered to LLVM IR and compiled in-process by LLVM ORC (llvm_jit.h), run on
// host memory across a pool of threads. See docs/cpu.md.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "backends/cpu/llvm_jit.h"
#include "backends/cpu/llvm_renderer.h"
#include "runtime/block_cache.h"
#include "runtime/compile_cache.h"
#include "runtime/device.h"
#include "runtime/runtime.h"
#include "runtime/thread_pool.h"

namespace mg::cpu {

struct CpuOptions {
  int threads = 0;          // 0: one per core (THREADS)
  std::string cache_dir;    // compiled objects on disk ("" with level 0: memory only)
  int cache_level = 1;      // CACHELEVEL: 0 keeps compiled code in memory only
};

class CpuDevice : public Device {
 public:
  CpuDevice(Runtime& rt, const CpuOptions& o);
  ~CpuDevice() override;

  void* alloc(size_t nbytes) override;
  void free(void* ptr, size_t nbytes) noexcept override;
  void copy_in(void* dst, const void* src, size_t nbytes) override;
  void copy_out(void* dst, const void* src, size_t nbytes) override;
  bool host_visible() const override { return true; }

  const codegen::Target* target() const override { return &target_; }
  std::unique_ptr<Program> compile(const codegen::Kernel& k) override;
  // One LLVM module for all of them: LLVM's cost per module dominates small kernels.
  std::vector<std::unique_ptr<Program>> compile_batch(std::span<const codegen::Kernel* const> ks) override;

  LlvmJit& jit() { return jit_; }
  ThreadPool& pool() { return pool_; }
  const CompileCache& cache() const { return programs_; }

 private:
  void compile_modules(const std::vector<const codegen::Kernel*>& todo, const std::vector<RenderedKernel>& rendered,
                       const std::vector<std::string>& names);
  codegen::Target target_;
  BlockCache blocks_{size_t(1) << 30};  // up to 1 GiB of freed blocks kept for reuse
  LlvmJit jit_;
  CompileCache programs_;                 // object code by hash of (IR, target)
  std::unordered_map<std::string, void*> loaded_;  // by function name: loaded once per JIT
  ThreadPool pool_;
};

// The options from the environment: THREADS, CACHELEVEL, XDG_CACHE_HOME/HOME.
CpuOptions cpu_options_from_env();

}  // namespace mg::cpu

std::unique_ptr<mg::Device> make_cpu_device(mg::Runtime& rt, const mg::cpu::CpuOptions& o);
