// REF: reading a value's elements through its view into contiguous memory.
#pragma once
#include "backends/ref/ref_value.h"

namespace mg::ref {

// Writes elements [start, start + count) of v, in row-major order, contiguously to dst.
void gather(const RefValue& v, int64_t start, int64_t count, void* dst);

}  // namespace mg::ref
