// Reverse-mode gradients on the UOp graph: no tape, the graph is the tape. See docs/gradient.md.
#pragma once
#include <span>
#include <vector>

#include "tensor/tensor.h"

namespace mg::tensor {

// The gradients of `loss` (one element, a float dtype) with respect to each target, as lazy
// graphs; an empty UOpRef where loss does not depend on the target. The graph of each gradient
// shares the forward graph's nodes, so realizing forward and backward together computes shared
// values once.
std::vector<UOpRef> gradient(Engine& e, const mg_tensor* loss, std::span<mg_tensor* const> targets);

}  // namespace mg::tensor
