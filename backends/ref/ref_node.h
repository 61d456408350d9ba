// REF: the value of one node from the values of its sources (the op-by-op step of ref_eval).
#pragma once
#include <span>

#include "backends/ref/ref_value.h"

namespace mg::ref {

// How many of u's sources are values (DEVICE and UNIQUE nodes are not).
size_t value_src_count(const UOp* u);

RefValue eval_node(Device& dev, const UOp* u, std::span<const RefValue* const> srcs);

// The value copied into a new contiguous buffer of dev.
RefValue materialize(Device& dev, const RefValue& v);

}  // namespace mg::ref
