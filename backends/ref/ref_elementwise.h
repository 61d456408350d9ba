// REF: elementwise evaluation. A kernel is a plain typed loop over contiguous arrays; the
// driver feeds it blocks of operands read through their views.
#pragma once
#include <span>

#include "backends/ref/ref_value.h"

namespace mg::ref {

struct AluCall {
  Ops op;
  DType out, in;  // in: the operands' dtype (WHERE: of the values, not the condition)
};
using Kernel = void (*)(const AluCall& call, int64_t n, void* out, const void* const* in);

Kernel pick_alu_kernel(Ops op, DType in);       // ref_alu_kernels.cpp
Kernel pick_cast_kernel(DType from, DType to);  // ref_cast_kernels.cpp

// A new contiguous value of call.out with `shape`, element i = kernel(srcs' elements i).
RefValue run_elementwise(Device& dev, Kernel k, const AluCall& call, std::span<const RefValue* const> srcs, const Shape& shape);

}  // namespace mg::ref
