#include "backends/cpu/cpu_device.h"

#include <cstring>

#include "uop/error.h"

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

CpuDevice::~CpuDevice() {
  cache_.drain([&](void* p, size_t) { runtime().host().release(p); });
}

void* CpuDevice::alloc(size_t nbytes) {
  if (void* p = cache_.take(nbytes)) return p;
  if (cache_.held()) {  // out of memory with blocks cached: give them back and try again
    try {
      return runtime().host().allocate(nbytes);
    } catch (const Error&) {
      cache_.drain([&](void* p, size_t) { runtime().host().release(p); });
    }
  }
  return runtime().host().allocate(nbytes);
}

void CpuDevice::free(void* ptr, size_t nbytes) noexcept {
  if (!cache_.give(ptr, nbytes)) runtime().host().release(ptr);
}

void CpuDevice::copy_in(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }
void CpuDevice::copy_out(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }

std::unique_ptr<Program> CpuDevice::compile(const codegen::Kernel& k) {
  std::string ir;
  try {
    ir = render_llvm(k);
  } catch (const Error& e) {
    fail(ErrorKind::Compile, "kernel " + k.name + ": " + e.what());
  }
  void*& addr = loaded_[ir];
  if (!addr) addr = jit_.compile(ir, k.fn_name);
  auto fn = reinterpret_cast<KernelFn>(addr);
  return std::make_unique<CpuProgram>(fn, k.outer, std::move(ir));
}

}  // namespace mg::cpu

std::unique_ptr<mg::Device> make_cpu_device(mg::Runtime& rt) { return std::make_unique<mg::cpu::CpuDevice>(rt); }
