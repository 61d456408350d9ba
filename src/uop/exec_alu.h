// Scalar evaluation of ALU ops on constants, with C semantics in the node's dtype.
// Constant folding and the reference checks in tests share it.
//
// Conventions (documented in docs/semantics.md):
// - integers wrap around at their width (two's complement); IDIV truncates toward zero and MOD
//   takes the sign of the dividend, as in C; INT_MIN / -1 wraps to INT_MIN and INT_MIN % -1 is 0;
// - division or modulo by zero and shifts by a negative amount or by the width or more are left
//   unevaluated (nullopt): C leaves them undefined and moongrad does not fold them;
// - float -> int casts truncate toward zero and saturate at the target's bounds, NaN gives 0
//   (LLVM's fptosi.sat); MAX propagates NaN; float16/bfloat16 round to nearest even.
#pragma once
#include <optional>
#include <span>

#include "uop/arg.h"
#include "uop/dtype.h"

namespace mg {

// Constant values live in an Arg: int64_t for bools and integers (uint64 as its bit pattern),
// double for floats. These put a value in that form for dtype dt.
Arg make_const(DType dt, i128 v);
Arg make_const(DType dt, double v);
i128 const_as_int(Scalar s, const Arg& v);    // the exact integer value (uint64 unpacked)
double const_as_double(Scalar s, const Arg& v);

// op applied to vals whose dtypes are in_dt (WHERE: of the chosen operands), giving out_dt.
std::optional<Arg> exec_alu(Ops op, DType out_dt, DType in_dt, std::span<const Arg> vals);
Arg exec_cast(const Arg& v, DType from, DType to);
std::optional<Arg> exec_bitcast(const Arg& v, DType from, DType to);

}  // namespace mg
