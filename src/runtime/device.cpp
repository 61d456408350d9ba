#include "runtime/device.h"

#include <chrono>
#include <cstdlib>
#include <new>

#include "runtime/runtime.h"
#include "uop/error.h"

namespace mg {

Buffer::Buffer(Device* dev, size_t nbytes) : dev_(dev), nbytes_(nbytes), ptr_(dev->alloc(nbytes)) {
  dev_->runtime().count_alloc(*dev_, nbytes_);
}

Buffer::~Buffer() {
  dev_->free(ptr_, nbytes_);
  dev_->runtime().count_free(*dev_, nbytes_);
}

void* HostAllocator::allocate(size_t n) const {
  // 64-byte alignment suits every vector width the CPU backend uses; the slack makes zero-size
  // asks real (tiny) blocks too, so every buffer has a distinct address.
  size_t size = (n + 63) / 64 * 64 + kReadSlackBytes;
  void* p = alloc ? alloc(user, size, 64) : std::aligned_alloc(64, size);
  if (!p) fail(ErrorKind::OOM, "out of memory allocating " + std::to_string(n) + " bytes");
  return p;
}

void HostAllocator::release(void* p) const noexcept {
  if (free) free(user, p);
  else std::free(p);
}

std::vector<BufferRef> Device::evaluate(std::span<const UOpRef>) {
  fail(ErrorKind::Device, "device " + name_ + " cannot evaluate tensor graphs (it needs the compiler)");
}

double Program::run_timed(void* const* bufs) {
  auto t0 = std::chrono::steady_clock::now();
  run(bufs);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<Program> Device::compile(const codegen::Kernel& k) {
  fail(ErrorKind::Device, "device " + name_ + " cannot compile kernels (" + k.name + ")");
}

std::vector<std::unique_ptr<Program>> Device::compile_batch(std::span<const codegen::Kernel* const> ks) {
  std::vector<std::unique_ptr<Program>> out;
  for (const codegen::Kernel* k : ks) out.push_back(compile(*k));
  return out;
}

}  // namespace mg
