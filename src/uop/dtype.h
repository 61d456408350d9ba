// DType: scalar kinds, vectors and pointers, with tinygrad's promotion lattice.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace mg {

using i128 = __int128;

// Order is the promotion priority (tinygrad's): lower wins among common parents.
enum class Scalar : uint8_t {
  Bool, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64,
  Float16, BFloat16, Float32, Float64,
  Index,  // integer index arithmetic in codegen; lowered to int32/int64 by a backend
  Void,
};
constexpr int kNumScalars = int(Scalar::Void) + 1;

// A set of scalar kinds as a bit mask.
constexpr uint32_t scalar_set(std::initializer_list<Scalar> l) {
  uint32_t m = 0;
  for (Scalar s : l) m |= 1u << int(s);
  return m;
}

enum class AddrSpace : uint8_t { None, Global, Local, Reg };

struct DType {
  Scalar scalar = Scalar::Void;
  uint16_t count = 1;                  // vector width (of the pointee for pointers)
  AddrSpace addr = AddrSpace::None;    // None: a value, not a pointer
  int64_t ptr_size = -1;               // pointers: element count, -1 when unknown

  constexpr bool is_ptr() const { return addr != AddrSpace::None; }
  constexpr bool is_vec() const { return count > 1; }
  bool is_bool() const { return !is_ptr() && scalar == Scalar::Bool; }
  // Inline (one mask test): the rewrite rules ask these of every node they look at.
  constexpr bool is_int() const { return !is_ptr() && in(kInts); }  // signed or unsigned integers and Index (not bool)
  constexpr bool is_unsigned() const { return !is_ptr() && in(kUnsigned); }
  constexpr bool is_float() const { return !is_ptr() && in(kFloats); }
  bool is_void() const { return scalar == Scalar::Void && !is_ptr(); }
  DType scalar_type() const { return DType{scalar}; }    // element of a vector, pointee's scalar
  DType base() const { return DType{scalar, count}; }     // what a pointer points to
  DType vec(int n) const { return DType{scalar, uint16_t(n), addr, ptr_size}; }
  DType ptr(int64_t size = -1, AddrSpace a = AddrSpace::Global) const { return DType{scalar, count, a, size}; }
  int itemsize() const;      // bytes of one value (pointers: 8)
  std::string name() const;  // "float32", "int32x4", "float32*[16]"

  friend bool operator==(const DType&, const DType&) = default;

 private:
  static constexpr uint32_t kUnsigned = scalar_set({Scalar::UInt8, Scalar::UInt16, Scalar::UInt32, Scalar::UInt64});
  static constexpr uint32_t kInts = kUnsigned | scalar_set({Scalar::Int8, Scalar::Int16, Scalar::Int32, Scalar::Int64, Scalar::Index});
  static constexpr uint32_t kFloats = scalar_set({Scalar::Float16, Scalar::BFloat16, Scalar::Float32, Scalar::Float64});
  constexpr bool in(uint32_t set) const { return (set >> int(scalar)) & 1; }
};

namespace dtypes {
inline constexpr DType void_{Scalar::Void}, bool_{Scalar::Bool}, int8{Scalar::Int8}, int16{Scalar::Int16},
    int32{Scalar::Int32}, int64{Scalar::Int64}, uint8{Scalar::UInt8}, uint16{Scalar::UInt16},
    uint32{Scalar::UInt32}, uint64{Scalar::UInt64}, float16{Scalar::Float16}, bfloat16{Scalar::BFloat16},
    float32{Scalar::Float32}, float64{Scalar::Float64}, index{Scalar::Index};
}

const char* scalar_name(Scalar s);
std::optional<Scalar> scalar_from_name(const std::string& name);

// Smallest type both promote to (tinygrad's lattice); only for scalar, non-pointer types.
DType least_upper_dtype(DType a, DType b);

// Bits of a scalar kind, and the value bounds of integer and bool types (exact, including
// uint64). Inline: rewrite rules and value ranges ask them of every integer node they look at.
constexpr int kScalarBits[kNumScalars] = {8, 8, 8, 16, 16, 32, 32, 64, 64, 16, 16, 32, 64, 64, 0};
constexpr int scalar_bits(Scalar s) { return kScalarBits[int(s)]; }
namespace detail {
constexpr i128 bound(Scalar s, bool hi) {
  const int bits = kScalarBits[int(s)];
  if (s == Scalar::Bool || bits == 0) return hi && bits ? 1 : 0;  // void: none
  if (DType{s}.is_unsigned()) return hi ? (i128(1) << bits) - 1 : 0;
  return hi ? (i128(1) << (bits - 1)) - 1 : -(i128(1) << (bits - 1));
}
template <bool Hi>
struct Bounds {
  i128 v[kNumScalars];
  constexpr Bounds() : v() { for (int i = 0; i < kNumScalars; i++) v[i] = bound(Scalar(i), Hi); }
};
inline constexpr Bounds<false> kIntMin;
inline constexpr Bounds<true> kIntMax;
}  // namespace detail
constexpr i128 int_min(Scalar s) { return detail::kIntMin.v[int(s)]; }
constexpr i128 int_max(Scalar s) { return detail::kIntMax.v[int(s)]; }

// float16 / bfloat16 bit conversions, round to nearest even.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t h);

}  // namespace mg
