#include "backends/ref/ref_device.h"

#include <cstring>

#include "backends/ref/ref_eval.h"

namespace mg::ref {

void RefDevice::copy_in(void* dst, const void* src, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

void RefDevice::copy_out(void* dst, const void* src, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

std::vector<BufferRef> RefDevice::evaluate(std::span<const UOpRef> roots) { return evaluate_graph(*this, roots); }

}  // namespace mg::ref

std::unique_ptr<mg::Device> make_ref_device(mg::Runtime& rt) { return std::make_unique<mg::ref::RefDevice>(rt); }
