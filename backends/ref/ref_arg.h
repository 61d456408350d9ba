// REF: one element in memory <-> a constant Arg (exec_alu's form: int64_t for bools and
// integers, uint64 as its bit pattern, double for floats). Used for CONST nodes and for ops
// that have no typed loop, which go through exec_alu one element at a time.
#pragma once
#include "uop/arg.h"
#include "uop/dtype.h"

namespace mg::ref {

Arg load_arg(DType dt, const void* p);
void store_arg(DType dt, const Arg& v, void* p);  // wraps integers, rounds floats to dt

}  // namespace mg::ref
