#include "backends/ref/ref_arg.h"

#include <cstring>

#include "backends/ref/ref_types.h"
#include "uop/exec_alu.h"

namespace mg::ref {

Arg load_arg(DType dt, const void* p) {
  return with_type(dt, [&](auto t) -> Arg {
    using T = decltype(t);
    typename T::Store s;
    std::memcpy(&s, p, sizeof s);
    if constexpr (T::is_float) return double(T::load(s));
    else return int64_t(T::load(s));  // uint64: its bit pattern, as exec_alu expects
  });
}

void store_arg(DType dt, const Arg& v, void* p) {
  with_type(dt, [&](auto t) {
    using T = decltype(t);
    typename T::Store s;
    if constexpr (T::is_float) s = T::store(typename T::Compute(const_as_double(dt.scalar, v)));
    else if constexpr (T::is_bool) s = T::store(const_as_int(dt.scalar, v) != 0);
    else s = typename T::Store(const_as_int(dt.scalar, v));  // modular: keeps the low bits
    std::memcpy(p, &s, sizeof s);
  });
}

}  // namespace mg::ref
