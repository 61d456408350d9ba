// REF: the elementwise driver. Operands that are contiguous are read in place; the others
// are read through their views one block at a time, so no operand is ever copied whole.
#include <array>
#include <memory>

#include "backends/ref/ref_elementwise.h"
#include "backends/ref/ref_gather.h"
#include "uop/error.h"

namespace mg::ref {

namespace {
constexpr int64_t kBlock = 16384;  // elements per block: a few scratch blocks stay in L2
}

RefValue run_elementwise(Device& dev, Kernel k, const AluCall& call, std::span<const RefValue* const> srcs, const Shape& shape) {
  RefValue out{nullptr, call.out, RefView::contiguous(shape), true};
  const int64_t n = out.view.numel();
  out.buf = std::make_shared<Buffer>(&dev, size_t(n) * size_t(call.out.itemsize()));
  const size_t nsrc = srcs.size();
  if (nsrc > 3) fail(ErrorKind::Internal, "REF: elementwise op with more than 3 operands");
  std::array<std::unique_ptr<std::byte[]>, 3> scratch;
  for (size_t i = 0; i < nsrc; i++)
    if (!srcs[i]->view.is_contiguous()) scratch[i] = std::make_unique<std::byte[]>(size_t(kBlock) * size_t(srcs[i]->itemsize()));
  std::byte* dst = static_cast<std::byte*>(out.buf->ptr());
  const size_t osz = size_t(call.out.itemsize());
  std::array<const void*, 3> in{};
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t len = std::min(kBlock, n - start);
    for (size_t i = 0; i < nsrc; i++) {
      const RefValue& s = *srcs[i];
      if (scratch[i]) {
        gather(s, start, len, scratch[i].get());
        in[i] = scratch[i].get();
      } else {
        in[i] = s.base() + size_t(s.view.offset + start) * size_t(s.itemsize());
      }
    }
    k(call, len, dst + size_t(start) * osz, in.data());
  }
  return out;
}

}  // namespace mg::ref
