// REF: evaluating a tensor-level graph, node by node, into new buffers of the REF device.
#pragma once
#include <span>
#include <vector>

#include "runtime/device.h"

namespace mg::ref {

std::vector<BufferRef> evaluate_graph(Device& dev, std::span<const UOpRef> roots);

}  // namespace mg::ref
