// REF: the value of one graph node during an evaluation: bytes in a buffer seen through a view.
#pragma once
#include <cstddef>

#include "backends/ref/ref_view.h"
#include "runtime/device.h"

namespace mg::ref {

struct RefValue {
  BufferRef buf;      // keeps the bytes alive (a tensor's buffer, or one this evaluation made)
  DType dtype;
  RefView view;
  bool owned = false;  // made by this evaluation: may be handed out as a result without a copy

  const std::byte* base() const { return static_cast<const std::byte*>(buf->ptr()); }
  int itemsize() const { return dtype.itemsize(); }
};

}  // namespace mg::ref
