// REF: the reference device. It evaluates tensor-level graphs op by op with plain loops in
// host memory and shares no code with the scheduler or codegen, so every compiled backend is
// tested against it. See docs/ref.md.
#pragma once
#include <memory>

#include "runtime/device.h"
#include "runtime/runtime.h"

namespace mg::ref {

class RefDevice : public Device {
 public:
  explicit RefDevice(Runtime& rt) : Device("REF", rt) {}

  void* alloc(size_t nbytes) override { return runtime().host().allocate(nbytes); }
  void free(void* ptr, size_t) noexcept override { runtime().host().release(ptr); }
  void copy_in(void* dst, const void* src, size_t nbytes) override;
  void copy_out(void* dst, const void* src, size_t nbytes) override;
  bool host_visible() const override { return true; }

  bool evaluates_graphs() const override { return true; }
  std::vector<BufferRef> evaluate(std::span<const UOpRef> roots) override;
};

}  // namespace mg::ref

std::unique_ptr<mg::Device> make_ref_device(mg::Runtime& rt);
