// REF: REDUCE_AXIS (sum, prod, max over some axes, keeping them as size 1).
#pragma once
#include "backends/ref/ref_value.h"

namespace mg::ref {

RefValue run_reduce(Device& dev, const RefValue& x, const ReduceArg& arg, const Shape& out_shape);

}  // namespace mg::ref
