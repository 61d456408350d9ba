#include "uop/exec_alu.h"

#include <bit>
#include <cmath>
#include <limits>

namespace mg {

namespace {
using u128 = unsigned __int128;

i128 wrap(Scalar s, i128 v) {
  if (s == Scalar::Bool) return v != 0;
  int bits = scalar_bits(s);
  u128 mask = bits >= 128 ? ~u128(0) : (u128(1) << bits) - 1;
  u128 u = u128(v) & mask;
  if (int_min(s) < 0 && (u >> (bits - 1)) & 1) return i128(u) - (i128(1) << bits);
  return i128(u);
}

double round_to(Scalar s, double v) {
  switch (s) {
    case Scalar::Float32: return double(float(v));
    case Scalar::Float16: return double(half_to_float(float_to_half(float(v))));
    case Scalar::BFloat16: return double(bf16_to_float(float_to_bf16(float(v))));
    default: return v;
  }
}

bool is_intlike(Scalar s) { return s == Scalar::Bool || DType{s}.is_int(); }

std::optional<i128> int_op(Ops op, Scalar s, std::span<const i128> v) {
  const int bits = scalar_bits(s);
  switch (op) {
    case Ops::NEG: return -v[0];
    case Ops::ADD: return v[0] + v[1];
    case Ops::SUB: return v[0] - v[1];
    case Ops::MUL: return i128(u128(v[0]) * u128(v[1]));  // low bits are all that survive wrap
    case Ops::IDIV: if (v[1] == 0) return std::nullopt; return v[0] / v[1];
    case Ops::MOD: if (v[1] == 0) return std::nullopt; return v[0] % v[1];
    case Ops::MAX: return v[0] > v[1] ? v[0] : v[1];
    case Ops::CMPLT: return v[0] < v[1];
    case Ops::CMPNE: return v[0] != v[1];
    case Ops::CMPEQ: return v[0] == v[1];
    case Ops::AND: return v[0] & v[1];
    case Ops::OR: return v[0] | v[1];
    case Ops::XOR: return v[0] ^ v[1];
    case Ops::SHL: if (v[1] < 0 || v[1] >= bits) return std::nullopt; return i128(u128(v[0]) << int(v[1]));
    case Ops::SHR: if (v[1] < 0 || v[1] >= bits) return std::nullopt; return v[0] >> int(v[1]);
    case Ops::MULACC: return i128(u128(v[0]) * u128(v[1]) + u128(v[2]));
    case Ops::POW: {
      i128 base = v[0], e = v[1];
      if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : (base == 0 ? std::optional<i128>() : 0);
      i128 r = 1;
      for (; e > 0; e >>= 1, base = wrap(s, i128(u128(base) * u128(base))))
        if (e & 1) r = wrap(s, i128(u128(r) * u128(base)));
      return r;
    }
    default: return std::nullopt;
  }
}

template <class T>
std::optional<double> float_op(Ops op, std::span<const double> d) {
  T a = T(d[0]), b = d.size() > 1 ? T(d[1]) : T(0), c = d.size() > 2 ? T(d[2]) : T(0);
  switch (op) {
    case Ops::EXP2: return std::exp2(a);
    case Ops::LOG2: return std::log2(a);
    case Ops::SIN: return std::sin(a);
    case Ops::SQRT: return std::sqrt(a);
    case Ops::RECIPROCAL: return T(1) / a;
    case Ops::NEG: return -a;
    case Ops::TRUNC: return std::trunc(a);
    case Ops::ADD: return a + b;
    case Ops::SUB: return a - b;
    case Ops::MUL: return a * b;
    case Ops::FDIV: return a / b;
    case Ops::MOD: return std::fmod(a, b);
    case Ops::POW: return std::pow(a, b);
    case Ops::MAX: return (std::isnan(a) || std::isnan(b)) ? std::numeric_limits<T>::quiet_NaN() : (a > b ? a : b);
    case Ops::CMPLT: return double(a < b);
    case Ops::CMPNE: return double(a != b);
    case Ops::CMPEQ: return double(a == b);
    case Ops::MULACC: return a * b + c;
    default: return std::nullopt;
  }
}
}  // namespace

Arg make_const(DType dt, i128 v) {
  if (dt.is_float()) return round_to(dt.scalar, double(v));
  return int64_t(wrap(dt.scalar, v));
}

Arg make_const(DType dt, double v) {
  if (dt.is_float()) return round_to(dt.scalar, v);
  return exec_cast(Arg(v), dtypes::float64, dt.scalar_type());
}

i128 const_as_int(Scalar s, const Arg& v) {
  if (auto* d = std::get_if<double>(&v)) return i128(*d);
  int64_t i = std::get<int64_t>(v);
  return s == Scalar::UInt64 ? i128(uint64_t(i)) : i128(i);
}

double const_as_double(Scalar s, const Arg& v) {
  if (auto* d = std::get_if<double>(&v)) return *d;
  int64_t i = std::get<int64_t>(v);
  return s == Scalar::UInt64 ? double(uint64_t(i)) : double(i);
}

std::optional<Arg> exec_alu(Ops op, DType out_dt, DType in_dt, std::span<const Arg> vals) {
  if (op == Ops::WHERE) {
    if (vals.size() != 3) return std::nullopt;
    bool c = const_as_double(Scalar::Bool, vals[0]) != 0;
    return vals[c ? 1 : 2];
  }
  Scalar s = in_dt.scalar;
  if (is_intlike(s)) {
    i128 v[3] = {};
    for (size_t i = 0; i < vals.size() && i < 3; i++) v[i] = const_as_int(s, vals[i]);
    std::optional<i128> r = int_op(op, s, std::span<const i128>(v, vals.size()));
    if (!r) return std::nullopt;
    return make_const(out_dt, *r);
  }
  if (!in_dt.is_float()) return std::nullopt;
  double d[3] = {};
  for (size_t i = 0; i < vals.size() && i < 3; i++) d[i] = const_as_double(s, vals[i]);
  std::span<const double> ds(d, vals.size());
  std::optional<double> r = s == Scalar::Float64 ? float_op<double>(op, ds) : float_op<float>(op, ds);
  if (!r) return std::nullopt;
  return make_const(out_dt, *r);
}

Arg exec_cast(const Arg& v, DType from, DType to) {
  if (to.is_float()) {
    if (from.is_float()) return round_to(to.scalar, const_as_double(from.scalar, v));
    i128 i = const_as_int(from.scalar, v);
    // one rounding: straight from the integer to float or double
    double d = to.scalar == Scalar::Float64 ? double(i) : double(float(i));
    return round_to(to.scalar, d);
  }
  if (to.is_bool()) return int64_t(const_as_double(from.scalar, v) != 0);
  if (!from.is_float()) return int64_t(wrap(to.scalar, const_as_int(from.scalar, v)));
  double d = std::trunc(const_as_double(from.scalar, v));
  if (std::isnan(d)) return int64_t(0);
  double lo = double(int_min(to.scalar)), hi = double(int_max(to.scalar));
  if (d <= lo) return int64_t(wrap(to.scalar, int_min(to.scalar)));
  if (d >= hi) return int64_t(wrap(to.scalar, int_max(to.scalar)));
  return int64_t(wrap(to.scalar, i128(d)));
}

std::optional<Arg> exec_bitcast(const Arg& v, DType from, DType to) {
  if (from.itemsize() != to.itemsize()) return std::nullopt;
  uint64_t bits;
  switch (from.scalar) {
    case Scalar::Float64: bits = std::bit_cast<uint64_t>(const_as_double(from.scalar, v)); break;
    case Scalar::Float32: bits = std::bit_cast<uint32_t>(float(const_as_double(from.scalar, v))); break;
    case Scalar::Float16: bits = float_to_half(float(const_as_double(from.scalar, v))); break;
    case Scalar::BFloat16: bits = float_to_bf16(float(const_as_double(from.scalar, v))); break;
    default: bits = uint64_t(std::get<int64_t>(v));
  }
  switch (to.scalar) {
    case Scalar::Float64: return std::bit_cast<double>(bits);
    case Scalar::Float32: return double(std::bit_cast<float>(uint32_t(bits)));
    case Scalar::Float16: return double(half_to_float(uint16_t(bits)));
    case Scalar::BFloat16: return double(bf16_to_float(uint16_t(bits)));
    default: return int64_t(wrap(to.scalar, i128(bits)));
  }
}

}  // namespace mg
