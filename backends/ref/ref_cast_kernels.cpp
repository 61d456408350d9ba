// REF: CAST loops, one per (from, to) pair, with exec_cast's rules (docs/semantics.md):
// float -> int truncates and saturates (NaN gives 0), int -> int keeps the low bits,
// anything -> bool is != 0, and a float result is rounded once from the exact source
// (float64 -> float16/bfloat16 and big ints -> float16/bfloat16 go through float32).
#include <cmath>
#include <limits>

#include "backends/ref/ref_elementwise.h"
#include "backends/ref/ref_types.h"

namespace mg::ref {

namespace {
template <class F, class T>
typename T::Store cast_one(typename F::Store s) {
  using TS = typename T::Store;
  const auto v = F::load(s);
  if constexpr (T::is_bool) {
    return T::store(v != 0);
  } else if constexpr (T::is_float) {
    if constexpr (T::kind == Scalar::Float64) return double(v);
    else return T::store(float(v));
  } else if constexpr (!F::is_float) {
    return TS(v);  // C++20 integer conversion is modular
  } else {
    const double d = std::trunc(double(v));
    if (std::isnan(d)) return 0;
    if (d <= double(std::numeric_limits<TS>::min())) return std::numeric_limits<TS>::min();
    if (d >= double(std::numeric_limits<TS>::max())) return std::numeric_limits<TS>::max();
    return TS(d);
  }
}

template <class F, class T>
void cast_loop(const AluCall&, int64_t n, void* out, const void* const* in) {
  typename T::Store* __restrict o = static_cast<typename T::Store*>(out);
  const typename F::Store* __restrict a = static_cast<const typename F::Store*>(in[0]);
  for (int64_t i = 0; i < n; i++) o[i] = cast_one<F, T>(a[i]);
}
}  // namespace

Kernel pick_cast_kernel(DType from, DType to) {
  return with_type(from, [&](auto f) {
    return with_type(to, [&](auto t) -> Kernel { return &cast_loop<decltype(f), decltype(t)>; });
  });
}

}  // namespace mg::ref
