// Linearization (the last codegen pass): see linearize.cpp.
#pragma once
#include "codegen/codegen.h"

namespace mg::codegen {

// lane: the upcast axis (not a loop), or nullptr. outer_range: the first output loop (the one split across threads), nullptr when none.
// flops: ALU ops executed per run (each op times its loops' trip counts).
std::vector<LinItem> linearize(const UOpRef& sink, const UOp* lane, const UOp*& outer_range, double& flops);

}  // namespace mg::codegen
