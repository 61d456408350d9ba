#include "backends/cpu/cpu_device.h"

#include <cstring>

#include "backends/cpu/llvm_renderer.h"

namespace mg::cpu {

namespace {
using KernelFn = void (*)(void* const* bufs, int64_t begin, int64_t end);

class CpuProgram : public Program {
 public:
  CpuProgram(KernelFn fn, int64_t outer, std::string ir) : fn_(fn), outer_(outer), ir_(std::move(ir)) {}
  void run(void* const* bufs) override { fn_(bufs, 0, outer_); }
  std::string source() const override { return ir_; }

 private:
  KernelFn fn_;
  int64_t outer_;
  std::string ir_;
};
}  // namespace

void CpuDevice::copy_in(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }
void CpuDevice::copy_out(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }

std::unique_ptr<Program> CpuDevice::compile(const codegen::Kernel& k) {
  std::string ir = render_llvm(k);
  void*& addr = loaded_[ir];
  if (!addr) addr = jit_.compile(ir, k.fn_name);
  auto fn = reinterpret_cast<KernelFn>(addr);
  return std::make_unique<CpuProgram>(fn, k.outer, std::move(ir));
}

}  // namespace mg::cpu

std::unique_ptr<mg::Device> make_cpu_device(mg::Runtime& rt) { return std::make_unique<mg::cpu::CpuDevice>(rt); }
