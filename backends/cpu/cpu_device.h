// CPU: kernels rendered to LLVM IR and compiled in-process by LLVM ORC (llvm_jit.h), run on
// host memory. See docs/cpu.md.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "backends/cpu/llvm_jit.h"
#include "runtime/block_cache.h"
#include "runtime/device.h"
#include "runtime/runtime.h"

namespace mg::cpu {

class CpuDevice : public Device {
 public:
  explicit CpuDevice(Runtime& rt) : Device("CPU", rt) {}
  ~CpuDevice() override;

  void* alloc(size_t nbytes) override;
  void free(void* ptr, size_t nbytes) noexcept override;
  void copy_in(void* dst, const void* src, size_t nbytes) override;
  void copy_out(void* dst, const void* src, size_t nbytes) override;
  bool host_visible() const override { return true; }

  const codegen::Target* target() const override { return &target_; }
  std::unique_ptr<Program> compile(const codegen::Kernel& k) override;

 private:
  codegen::Target target_;
  BlockCache cache_{size_t(1) << 30};  // up to 1 GiB of freed blocks kept for reuse
  LlvmJit jit_;
  std::unordered_map<std::string, void*> loaded_;  // by IR: kernels of equal code share one
};

}  // namespace mg::cpu

std::unique_ptr<mg::Device> make_cpu_device(mg::Runtime& rt);
