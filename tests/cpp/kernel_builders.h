// Hand-built kernel ASTs for the codegen and backend tests, as the scheduler makes them.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "uop/uop.h"

namespace mg::test {

// A kernel input: parameter k of n elements, viewed as shape s.
inline UOpRef input(UOpTable& t, int64_t k, const Shape& s, DType dt = dtypes::float32) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  UOpRef b = t.make(Ops::BUFFER, dt, {t.make(Ops::DEFINE_GLOBAL, dt.ptr(n), {}, k)}, n);
  return s.size() == 1 ? b : t.make(Ops::RESHAPE, dt, {b}, s);
}

// A realized tensor-level input, as the tensor layer makes them (UNIQUE, DEVICE), float32 on CPU.
inline UOpRef tensor_input(UOpTable& t, int64_t unique, const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  UOpRef b = t.make(Ops::BUFFER, dtypes::float32, {t.make(Ops::UNIQUE, dtypes::void_, {}, unique), t.make(Ops::DEVICE, dtypes::void_, {}, std::string("CPU"))}, n);
  return s.size() == 1 ? b : t.make(Ops::RESHAPE, dtypes::float32, {b}, s);
}

inline UOpRef mv(Ops op, const UOpRef& x, std::vector<int64_t> arg) { return x->table->make(op, x->dtype, {x}, std::move(arg)); }

// op over the given axes, which stay as size 1.
inline UOpRef reduce(const UOpRef& x, Ops op, std::vector<int64_t> axes) {
  return x->table->make(Ops::REDUCE_AXIS, x->dtype, {x}, ReduceArg{op, std::move(axes)});
}

// SINK(STORE(output parameter 0, value)).
inline UOpRef kernel_ast(const UOpRef& value) {
  UOpTable& t = *value->table;
  int64_t n = 1;
  for (int64_t d : *value->shape()) n *= d;
  UOpRef out = t.make(Ops::BUFFER, value->dtype, {t.make(Ops::DEFINE_GLOBAL, value->dtype.ptr(n), {}, int64_t(0))}, n);
  return sink({t.make(Ops::STORE, dtypes::void_, {out, value})});
}

}  // namespace mg::test
