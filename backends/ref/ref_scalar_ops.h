// REF: the scalar semantics of each ALU op, one functor per op, on a compute type C
// (see ref_types.h). These are the run-time counterparts of exec_alu (src/uop/exec_alu.cpp)
// and must agree with it bit for bit wherever it gives a value; tests/cpp/test_ref.cpp checks
// that. Where exec_alu gives none (C leaves the case undefined) they give the values that
// docs/ref.md lists, so nothing here can trap or be undefined behaviour.
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>

namespace mg::ref::op {

// Integer arithmetic goes through an unsigned type of at least int's width: there overflow
// wraps (C++20 makes the conversion back modular), and small types do not promote to a
// signed int whose overflow would be undefined.
template <class C>
using Wide = std::conditional_t<(sizeof(C) < sizeof(unsigned)), unsigned, std::make_unsigned_t<C>>;
template <class C> constexpr bool kFloat = std::is_floating_point_v<C>;
template <class C> constexpr bool kSigned = std::is_signed_v<C> && !kFloat<C>;
template <class C> constexpr int kBits = int(sizeof(C)) * 8;

template <class C> C wrap_mul(C a, C b) { return C(Wide<C>(a) * Wide<C>(b)); }
template <class C> bool shift_out_of_range(C b) {
  if constexpr (kSigned<C>)
    if (b < 0) return true;
  return b >= kBits<C>;
}

struct Neg { template <class C> static C f(C a) { if constexpr (kFloat<C>) return -a; else return C(Wide<C>(0) - Wide<C>(a)); } };
struct Exp2 { template <class C> static C f(C a) { return std::exp2(a); } };
struct Log2 { template <class C> static C f(C a) { return std::log2(a); } };
struct Sin { template <class C> static C f(C a) { return std::sin(a); } };
struct Sqrt { template <class C> static C f(C a) { return std::sqrt(a); } };
struct Recip { template <class C> static C f(C a) { return C(1) / a; } };
struct Trunc { template <class C> static C f(C a) { return std::trunc(a); } };

struct Add { template <class C> static C f(C a, C b) { if constexpr (kFloat<C>) return a + b; else return C(Wide<C>(a) + Wide<C>(b)); } };
struct Sub { template <class C> static C f(C a, C b) { if constexpr (kFloat<C>) return a - b; else return C(Wide<C>(a) - Wide<C>(b)); } };
struct Mul { template <class C> static C f(C a, C b) { if constexpr (kFloat<C>) return a * b; else return wrap_mul(a, b); } };
struct Fdiv { template <class C> static C f(C a, C b) { return a / b; } };

// C: truncating division. By zero: 0 (undefined in C). MIN / -1 wraps to MIN (exec_alu's value).
struct Idiv {
  template <class C> static C f(C a, C b) {
    if (b == 0) return 0;
    if constexpr (kSigned<C>) if (b == -1) return C(Wide<C>(0) - Wide<C>(a));
    return C(a / b);
  }
};
// Float: fmod. Integers: sign of the dividend; by zero: 0 (undefined in C); x % -1 is 0.
struct Mod {
  template <class C> static C f(C a, C b) {
    if constexpr (kFloat<C>) return std::fmod(a, b);
    else {
      if (b == 0) return 0;
      if constexpr (kSigned<C>) if (b == -1) return 0;
      return C(a % b);
    }
  }
};
// NaN in, NaN out (torch.maximum); the NaN is the default quiet one, as exec_alu makes.
struct Max {
  template <class C> static C f(C a, C b) {
    if constexpr (kFloat<C>)
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
    return a > b ? a : b;
  }
};
// Integers: exact square-and-multiply with wrap-around; negative exponents as exec_alu, and
// 0 ** negative (undefined) is 0.
struct Pow {
  template <class C> static C f(C a, C b) {
    if constexpr (kFloat<C>) return std::pow(a, b);
    else {
      if constexpr (kSigned<C>)
        if (b < 0) return a == 1 ? C(1) : a == -1 ? C((b & 1) ? -1 : 1) : C(0);
      C r = 1;
      for (; b > 0; b = C(b >> 1), a = wrap_mul(a, a))
        if (b & 1) r = wrap_mul(r, a);
      return r;
    }
  }
};
struct CmpLt { template <class C> static bool f(C a, C b) { return a < b; } };
struct CmpNe { template <class C> static bool f(C a, C b) { return a != b; } };
struct CmpEq { template <class C> static bool f(C a, C b) { return a == b; } };
struct And { template <class C> static C f(C a, C b) { return C(a & b); } };
struct Or { template <class C> static C f(C a, C b) { return C(a | b); } };
struct Xor { template <class C> static C f(C a, C b) { return C(a ^ b); } };
// Shifts by a negative amount or by the width or more (undefined in C) shift every bit out:
// SHL gives 0, SHR gives 0, or -1 for a negative signed value (its sign fills the result).
struct Shl {
  template <class C> static C f(C a, C b) {
    if (shift_out_of_range(b)) return 0;
    return C(Wide<C>(a) << int(b));
  }
};
struct Shr {
  template <class C> static C f(C a, C b) {
    if (shift_out_of_range(b)) {
      if constexpr (kSigned<C>) return a < 0 ? C(-1) : C(0);
      else return 0;
    }
    return C(a >> int(b));
  }
};

}  // namespace mg::ref::op
