#include "uop/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace mg {

namespace {
struct ScalarInfo { const char* name; bool is_int, is_unsigned, is_float; };  // widths: kScalarBits (dtype.h)
constexpr ScalarInfo kInfo[kNumScalars] = {
    {"bool", false, false, false},     {"int8", true, false, false},
    {"uint8", true, true, false},      {"int16", true, false, false},
    {"uint16", true, true, false},     {"int32", true, false, false},
    {"uint32", true, true, false},     {"int64", true, false, false},
    {"uint64", true, true, false},     {"float16", false, false, true},
    {"bfloat16", false, false, true},  {"float32", false, false, true},
    {"float64", false, false, true},   {"index", true, false, false},
    {"void", false, false, false},
};
const ScalarInfo& info(Scalar s) { return kInfo[int(s)]; }

// DType's inline predicates (bit masks in dtype.h) agree with this table.
constexpr bool predicates_agree() {
  for (int i = 0; i < kNumScalars; i++) {
    DType d{Scalar(i)};
    if (d.is_int() != kInfo[i].is_int || d.is_unsigned() != kInfo[i].is_unsigned || d.is_float() != kInfo[i].is_float) return false;
  }
  return true;
}
static_assert(predicates_agree());

// Immediate parents in the promotion lattice.
uint32_t parents_of(Scalar s) {
  auto bit = [](Scalar x) { return 1u << int(x); };
  switch (s) {
    case Scalar::Bool: return bit(Scalar::Int8) | bit(Scalar::UInt8);
    case Scalar::Int8: return bit(Scalar::Int16);
    case Scalar::Int16: return bit(Scalar::Int32);
    case Scalar::Int32: return bit(Scalar::Int64);
    case Scalar::Int64: case Scalar::UInt64: return bit(Scalar::Float16) | bit(Scalar::BFloat16);
    case Scalar::UInt8: return bit(Scalar::Int16) | bit(Scalar::UInt16);
    case Scalar::UInt16: return bit(Scalar::Int32) | bit(Scalar::UInt32);
    case Scalar::UInt32: return bit(Scalar::Int64) | bit(Scalar::UInt64);
    case Scalar::Float16: case Scalar::BFloat16: return bit(Scalar::Float32);
    case Scalar::Float32: return bit(Scalar::Float64);
    default: return 0;
  }
}
uint32_t ancestors_of(Scalar s) {
  uint32_t out = 1u << int(s), p = parents_of(s);
  for (int i = 0; i < kNumScalars; i++)
    if (p & (1u << i)) out |= ancestors_of(Scalar(i));
  return out;
}
}  // namespace

const char* scalar_name(Scalar s) { return info(s).name; }

std::optional<Scalar> scalar_from_name(const std::string& name) {
  for (int i = 0; i < kNumScalars; i++)
    if (name == kInfo[i].name) return Scalar(i);
  return std::nullopt;
}

int DType::itemsize() const {
  if (is_ptr()) return 8;
  return scalar_bits(scalar) / 8 * count;
}

std::string DType::name() const {
  std::string n = scalar_name(scalar);
  if (count > 1) n += "x" + std::to_string(count);
  if (is_ptr()) {
    static constexpr const char* spaces[] = {"", "", ".local", ".reg"};
    n += std::string("*") + spaces[int(addr)];
    if (ptr_size >= 0) n += "[" + std::to_string(ptr_size) + "]";
  }
  return n;
}

DType least_upper_dtype(DType a, DType b) {
  if (a == b) return a;
  uint32_t common = ancestors_of(a.scalar) & ancestors_of(b.scalar);
  for (int i = 0; i < kNumScalars; i++)  // lowest priority first
    if (common & (1u << i)) return DType{Scalar(i), a.count};
  return dtypes::void_;
}


uint16_t float_to_half(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));  // inf, nan
  if (mag >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504: inf
  if (mag < 0x38800000u) {  // subnormal half (or zero): scale into the integer grid, round to even
    float a = std::bit_cast<float>(mag) * 16777216.0f;   // * 2^24: the half subnormal unit becomes 1
    return uint16_t(sign | uint32_t(std::nearbyint(a)));
  }
  uint32_t e = ((mag >> 23) - 112) << 10, m = mag & 0x7fffffu;
  uint32_t h = e | (m >> 13);
  uint32_t rest = m & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;
  return uint16_t(sign | h);
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0) {
    float v = float(m) / 16777216.0f;  // m * 2^-24
    return sign ? -v : v;
  }
  if (e == 31) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
  return std::bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t float_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // keep nan a nan
  x += 0x7fffu + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

}  // namespace mg
