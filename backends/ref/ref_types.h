// REF: how each scalar dtype is stored in memory and what C type its arithmetic runs in.
// Every typed loop of the evaluator goes through these traits, so the storage and rounding
// rules (bool as a byte, float16/bfloat16 computed in float32) live in one place.
#pragma once
#include <cstdint>
#include <type_traits>

#include "uop/dtype.h"
#include "uop/error.h"

namespace mg::ref {

// S: the bytes in a buffer. C: the type ops compute in (exec_alu's choice: int for bool so
// that ADD/MUL/SUB of bools come out as OR/AND/XOR once stored as != 0, float for the short
// floats, the type itself otherwise).
template <Scalar K, class S, class C>
struct TypeBase {
  static constexpr Scalar kind = K;
  using Store = S;
  using Compute = C;
  static constexpr bool is_bool = K == Scalar::Bool;
  static constexpr bool is_float = std::is_floating_point_v<C>;
  static constexpr bool is_int = !is_bool && !is_float;
};

template <Scalar K> struct Ty;
template <> struct Ty<Scalar::Bool> : TypeBase<Scalar::Bool, uint8_t, int> {
  // Any nonzero byte reads as true: buffers filled by a host may hold other bytes than 0/1.
  static int load(uint8_t s) { return s != 0; }
  static uint8_t store(int c) { return c != 0; }
};
#define MG_REF_PLAIN(K, T)                              \
  template <> struct Ty<Scalar::K> : TypeBase<Scalar::K, T, T> { \
    static T load(T s) { return s; }                    \
    static T store(T c) { return c; }                   \
  };
MG_REF_PLAIN(Int8, int8_t)
MG_REF_PLAIN(UInt8, uint8_t)
MG_REF_PLAIN(Int16, int16_t)
MG_REF_PLAIN(UInt16, uint16_t)
MG_REF_PLAIN(Int32, int32_t)
MG_REF_PLAIN(UInt32, uint32_t)
MG_REF_PLAIN(Int64, int64_t)
MG_REF_PLAIN(UInt64, uint64_t)
MG_REF_PLAIN(Float32, float)
MG_REF_PLAIN(Float64, double)
#undef MG_REF_PLAIN
template <> struct Ty<Scalar::Float16> : TypeBase<Scalar::Float16, uint16_t, float> {
  static float load(uint16_t s) { return half_to_float(s); }
  static uint16_t store(float c) { return float_to_half(c); }
};
template <> struct Ty<Scalar::BFloat16> : TypeBase<Scalar::BFloat16, uint16_t, float> {
  static float load(uint16_t s) { return bf16_to_float(s); }
  static uint16_t store(float c) { return float_to_bf16(c); }
};

// Calls f(Ty<s>{}) for a scalar dtype; index, void, vectors and pointers have no storage here.
template <class F>
decltype(auto) with_type(DType dt, F&& f) {
  if (dt.is_ptr() || dt.is_vec()) fail(ErrorKind::Invalid, "REF: cannot evaluate values of dtype " + dt.name());
  switch (dt.scalar) {
    case Scalar::Bool: return f(Ty<Scalar::Bool>{});
    case Scalar::Int8: return f(Ty<Scalar::Int8>{});
    case Scalar::UInt8: return f(Ty<Scalar::UInt8>{});
    case Scalar::Int16: return f(Ty<Scalar::Int16>{});
    case Scalar::UInt16: return f(Ty<Scalar::UInt16>{});
    case Scalar::Int32: return f(Ty<Scalar::Int32>{});
    case Scalar::UInt32: return f(Ty<Scalar::UInt32>{});
    case Scalar::Int64: return f(Ty<Scalar::Int64>{});
    case Scalar::UInt64: return f(Ty<Scalar::UInt64>{});
    case Scalar::Float16: return f(Ty<Scalar::Float16>{});
    case Scalar::BFloat16: return f(Ty<Scalar::BFloat16>{});
    case Scalar::Float32: return f(Ty<Scalar::Float32>{});
    case Scalar::Float64: return f(Ty<Scalar::Float64>{});
    default: fail(ErrorKind::Invalid, "REF: cannot evaluate values of dtype " + dt.name());
  }
}

}  // namespace mg::ref
