// The REF backend: every op against values written by hand, its typed loops against exec_alu,
// views against a naive copy-per-step model, and its memory and error behaviour.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/ref/ref_device.h"
#include "tensor/tensor.h"
#include "uop/error.h"
#include "uop/exec_alu.h"

using namespace mg;

namespace {

// A tensor handle released when it goes out of scope.
struct H {
  mg_tensor* p = nullptr;
  H() = default;
  explicit H(mg_tensor* t) : p(t) {}
  H(const H& o) : p(o.p) { if (p) tensor::retain(p); }
  H(H&& o) noexcept : p(o.p) { o.p = nullptr; }
  H& operator=(H o) { std::swap(p, o.p); return *this; }
  ~H() { tensor::release(p); }
};

struct Ctx {
  Engine e{HostAllocator{}};
  Device* ref;
  Ctx() {
    e.runtime.add_device(make_ref_device(e.runtime));
    ref = e.runtime.device("REF");
    e.default_device = ref;
  }

  template <class X>
  H make(const std::vector<X>& data, DType dt, Shape s = {}) {
    if (s.empty() && data.size() != 1) s = {int64_t(data.size())};
    REQUIRE(size_t(dt.itemsize()) == sizeof(X));
    return H(tensor::from_host(e, data.data(), dt, s, ref));
  }
  H f32(const std::vector<float>& d, Shape s = {}) { return make(d, dtypes::float32, s); }
  H i32(const std::vector<int32_t>& d, Shape s = {}) { return make(d, dtypes::int32, s); }

  H op(Ops o, const H& a) { mg_tensor* s[] = {a.p}; return H(tensor::alu(e, o, s)); }
  H op(Ops o, const H& a, const H& b) { mg_tensor* s[] = {a.p, b.p}; return H(tensor::alu(e, o, s)); }
  H op(Ops o, const H& a, const H& b, const H& c) { mg_tensor* s[] = {a.p, b.p, c.p}; return H(tensor::alu(e, o, s)); }
  H mv(Ops o, const H& a, std::vector<int64_t> arg) { return H(tensor::movement(e, o, a.p, std::move(arg))); }
  H red(Ops o, const H& a, std::vector<int64_t> axes) { return H(tensor::reduce(e, o, a.p, std::move(axes))); }
  H cast(const H& a, DType dt) { return H(tensor::cast(e, a.p, dt)); }
  H bitcast(const H& a, DType dt) { return H(tensor::bitcast(e, a.p, dt)); }
  H full(Arg v, DType dt, Shape s) { return H(tensor::full(e, v, dt, s, ref)); }

  template <class X>
  std::vector<X> get(const H& t) {
    REQUIRE(size_t(t.p->uop->dtype.itemsize()) == sizeof(X));
    std::vector<X> out(size_t(tensor::numel(tensor::shape(t.p))));
    tensor::copy_out(e, t.p, out.data(), out.size() * sizeof(X));
    return out;
  }
};

// Floats compared bit for bit: NaN equals NaN (of the same bits), -0 differs from +0.
template <class F>
std::vector<std::string> bitstr(const std::vector<F>& v) {
  std::vector<std::string> r;
  for (F f : v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g(%llx)", double(f), (unsigned long long)(std::bit_cast<std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>>(f)));
    r.push_back(buf);
  }
  return r;
}
#define CHECK_BITS(a, b) CHECK(bitstr(a) == bitstr(b))
constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<uint16_t> halves(std::initializer_list<float> fs, bool bf16 = false) {
  std::vector<uint16_t> r;
  for (float f : fs) r.push_back(bf16 ? float_to_bf16(f) : float_to_half(f));
  return r;
}
std::vector<float> from_halves(const std::vector<uint16_t>& hs, bool bf16 = false) {
  std::vector<float> r;
  for (uint16_t h : hs) r.push_back(bf16 ? bf16_to_float(h) : half_to_float(h));
  return r;
}

}  // namespace

TEST_CASE("ref: the device is REF, in host memory, and evaluates graphs") {
  Ctx c;
  CHECK(c.ref->name() == "REF");
  CHECK(c.ref->host_visible());
  CHECK(c.ref->evaluates_graphs());
  H a = c.f32({1, 2, 3});
  CHECK(c.get<float>(a) == std::vector<float>{1, 2, 3});
}

TEST_CASE("ref: float32 elementwise ops") {
  Ctx c;
  H a = c.f32({1.5f, -2.0f, 0.0f, 9.0f, kNaN}), b = c.f32({0.5f, 3.0f, -0.0f, 2.0f, 1.0f});
  CHECK_BITS(c.get<float>(c.op(Ops::ADD, a, b)), (std::vector<float>{2.0f, 1.0f, 0.0f, 11.0f, kNaN}));
  CHECK_BITS(c.get<float>(c.op(Ops::SUB, a, b)), (std::vector<float>{1.0f, -5.0f, 0.0f, 7.0f, kNaN}));
  CHECK_BITS(c.get<float>(c.op(Ops::MUL, a, b)), (std::vector<float>{0.75f, -6.0f, -0.0f, 18.0f, kNaN}));
  std::vector<float> q = c.get<float>(c.op(Ops::FDIV, a, b));
  CHECK(q[0] == 3.0f);
  CHECK(q[1] == -2.0f / 3.0f);
  CHECK(std::isnan(q[2]));  // 0 / -0
  CHECK(q[3] == 4.5f);
  // MAX propagates NaN from either side and returns the default quiet NaN
  CHECK_BITS(c.get<float>(c.op(Ops::MAX, a, b)), (std::vector<float>{1.5f, 3.0f, -0.0f, 9.0f, kNaN}));
  CHECK_BITS(c.get<float>(c.op(Ops::MAX, b, a)), (std::vector<float>{1.5f, 3.0f, 0.0f, 9.0f, kNaN}));
  CHECK(c.get<uint8_t>(c.op(Ops::CMPLT, a, b)) == std::vector<uint8_t>{0, 1, 0, 0, 0});
  CHECK(c.get<uint8_t>(c.op(Ops::CMPNE, a, b)) == std::vector<uint8_t>{1, 1, 0, 1, 1});  // NaN != x
  CHECK(c.get<uint8_t>(c.op(Ops::CMPEQ, a, b)) == std::vector<uint8_t>{0, 0, 1, 0, 0});  // 0 == -0
  CHECK_BITS(c.get<float>(c.op(Ops::NEG, a)), (std::vector<float>{-1.5f, 2.0f, -0.0f, -9.0f, -kNaN}));

  H u = c.f32({4.0f, 0.25f, -1.0f, 0.0f, -0.0f, kInf});
  CHECK_BITS(c.get<float>(c.op(Ops::SQRT, u)), (std::vector<float>{2.0f, 0.5f, std::sqrt(-1.0f), 0.0f, -0.0f, kInf}));
  CHECK_BITS(c.get<float>(c.op(Ops::RECIPROCAL, u)), (std::vector<float>{0.25f, 4.0f, -1.0f, kInf, -kInf, 0.0f}));
  CHECK_BITS(c.get<float>(c.op(Ops::LOG2, u)), (std::vector<float>{2.0f, -2.0f, std::log2(-1.0f), -kInf, -kInf, kInf}));
  CHECK_BITS(c.get<float>(c.op(Ops::EXP2, u)), (std::vector<float>{16.0f, std::exp2(0.25f), 0.5f, 1.0f, 1.0f, kInf}));
  CHECK_BITS(c.get<float>(c.op(Ops::SIN, u)), (std::vector<float>{std::sin(4.0f), std::sin(0.25f), std::sin(-1.0f), 0.0f, -0.0f, std::sin(kInf)}));
  H t = c.f32({2.7f, -2.7f, -0.5f, 1e30f});
  CHECK_BITS(c.get<float>(c.op(Ops::TRUNC, t)), (std::vector<float>{2.0f, -2.0f, -0.0f, 1e30f}));
  H m = c.f32({7.5f, -7.5f, 7.5f, 1.0f}), d = c.f32({2.0f, 2.0f, -2.0f, 0.0f});
  std::vector<float> mod = c.get<float>(c.op(Ops::MOD, m, d));  // fmod: sign of the dividend
  CHECK(mod[0] == 1.5f);
  CHECK(mod[1] == -1.5f);
  CHECK(mod[2] == 1.5f);
  CHECK(std::isnan(mod[3]));
  CHECK_BITS(c.get<float>(c.op(Ops::POW, m, d)), (std::vector<float>{56.25f, 56.25f, std::pow(7.5f, -2.0f), 1.0f}));
  H cond = c.make(std::vector<uint8_t>{1, 0, 2, 0}, dtypes::bool_);  // any nonzero byte is true
  CHECK(c.get<float>(c.op(Ops::WHERE, cond, m, d)) == std::vector<float>{7.5f, 2.0f, 7.5f, 0.0f});
}

TEST_CASE("ref: float64 elementwise ops compute in double") {
  Ctx c;
  H a = c.make(std::vector<double>{0.1, 1.0, 2.0}, dtypes::float64), b = c.make(std::vector<double>{0.2, 3.0, 0.5}, dtypes::float64);
  std::vector<double> s = c.get<double>(c.op(Ops::ADD, a, b));
  CHECK(s[0] == 0.30000000000000004);
  CHECK(c.get<double>(c.op(Ops::FDIV, a, b))[1] == 1.0 / 3.0);
  CHECK(c.get<double>(c.op(Ops::SQRT, b))[0] == std::sqrt(0.2));
  CHECK(c.get<double>(c.op(Ops::POW, b, a))[2] == std::pow(0.5, 2.0));
}

TEST_CASE("ref: float16 and bfloat16 compute in float32 and round to nearest even") {
  Ctx c;
  // float16: 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even gives 1.
  H a = c.make(halves({1.0f, 2048.0f, 65504.0f, 0.1f}), dtypes::float16);
  H b = c.make(halves({0.00048828125f, 1.0f, 8.0f, 0.2f}), dtypes::float16);
  std::vector<float> s = from_halves(c.get<uint16_t>(c.op(Ops::ADD, a, b)));
  CHECK(s[0] == 1.0f);
  CHECK(s[1] == 2048.0f);   // 2049 is not a float16; ties to even
  CHECK(s[2] == 65504.0f);  // 65512 rounds down: below the overflow threshold 65520
  CHECK(s[3] == half_to_float(float_to_half(half_to_float(float_to_half(0.1f)) + half_to_float(float_to_half(0.2f)))));
  H big = c.make(halves({65504.0f}), dtypes::float16), two = c.make(halves({2.0f}), dtypes::float16);
  CHECK(from_halves(c.get<uint16_t>(c.op(Ops::MUL, big, two)))[0] == kInf);
  // bfloat16 keeps 8 significant bits: 1 + 2^-8 ties to 1, 1 + 3*2^-8 rounds up to 1 + 2^-6
  H x = c.make(halves({1.0f, 1.0f}, true), dtypes::bfloat16), y = c.make(halves({0.00390625f, 0.01171875f}, true), dtypes::bfloat16);
  std::vector<float> r = from_halves(c.get<uint16_t>(c.op(Ops::ADD, x, y)), true);
  CHECK(r[0] == 1.0f);
  CHECK(r[1] == 1.015625f);
  std::vector<float> q = from_halves(c.get<uint16_t>(c.op(Ops::SQRT, c.make(halves({2.0f}, true), dtypes::bfloat16))), true);
  CHECK(q[0] == bf16_to_float(float_to_bf16(std::sqrt(2.0f))));
}

TEST_CASE("ref: int8 and uint8 wrap around") {
  Ctx c;
  H a = c.make(std::vector<int8_t>{127, -128, 100, -100}, dtypes::int8), b = c.make(std::vector<int8_t>{1, -1, 100, 3}, dtypes::int8);
  CHECK(c.get<int8_t>(c.op(Ops::ADD, a, b)) == std::vector<int8_t>{-128, 127, -56, -97});
  CHECK(c.get<int8_t>(c.op(Ops::SUB, a, b)) == std::vector<int8_t>{126, -127, 0, -103});
  CHECK(c.get<int8_t>(c.op(Ops::MUL, a, b)) == std::vector<int8_t>{127, -128, 16, -44});
  CHECK(c.get<int8_t>(c.op(Ops::NEG, a)) == std::vector<int8_t>{-127, -128, -100, 100});
  CHECK(c.get<int8_t>(c.op(Ops::IDIV, a, b)) == std::vector<int8_t>{127, -128, 1, -33});  // -128 / -1 wraps
  CHECK(c.get<int8_t>(c.op(Ops::MOD, a, b)) == std::vector<int8_t>{0, 0, 0, -1});
  CHECK(c.get<int8_t>(c.op(Ops::MAX, a, b)) == std::vector<int8_t>{127, -1, 100, 3});
  H u = c.make(std::vector<uint8_t>{255, 0, 200, 7}, dtypes::uint8), v = c.make(std::vector<uint8_t>{1, 1, 100, 2}, dtypes::uint8);
  CHECK(c.get<uint8_t>(c.op(Ops::ADD, u, v)) == std::vector<uint8_t>{0, 1, 44, 9});
  CHECK(c.get<uint8_t>(c.op(Ops::SUB, u, v)) == std::vector<uint8_t>{254, 255, 100, 5});
  CHECK(c.get<uint8_t>(c.op(Ops::MUL, u, v)) == std::vector<uint8_t>{255, 0, 32, 14});
  CHECK(c.get<uint8_t>(c.op(Ops::NEG, u)) == std::vector<uint8_t>{1, 0, 56, 249});
  CHECK(c.get<uint8_t>(c.op(Ops::CMPLT, u, v)) == std::vector<uint8_t>{0, 1, 0, 0});
  CHECK(c.get<uint8_t>(c.op(Ops::SHL, u, v)) == std::vector<uint8_t>{254, 0, 0, 28});  // 200 << 100: out of range -> 0
  CHECK(c.get<uint8_t>(c.op(Ops::SHR, u, v)) == std::vector<uint8_t>{127, 0, 0, 1});
  CHECK(c.get<uint8_t>(c.op(Ops::POW, v, c.make(std::vector<uint8_t>{3, 8, 2, 4}, dtypes::uint8))) == std::vector<uint8_t>{1, 1, 16, 16});
}

TEST_CASE("ref: int32 division and modulo truncate toward zero, as C") {
  Ctx c;
  H a = c.i32({-7, 7, -7, 7, INT32_MIN, INT32_MIN, 5, 0}), b = c.i32({2, -2, -2, 2, -1, 1, 7, 3});
  CHECK(c.get<int32_t>(c.op(Ops::IDIV, a, b)) == std::vector<int32_t>{-3, -3, 3, 3, INT32_MIN, INT32_MIN, 0, 0});
  CHECK(c.get<int32_t>(c.op(Ops::MOD, a, b)) == std::vector<int32_t>{-1, 1, -1, 1, 0, 0, 5, 0});
  H x = c.i32({INT32_MAX, INT32_MIN, 65536, -3}), y = c.i32({1, -1, 65536, 5});
  CHECK(c.get<int32_t>(c.op(Ops::ADD, x, y)) == std::vector<int32_t>{INT32_MIN, INT32_MAX, 131072, 2});
  CHECK(c.get<int32_t>(c.op(Ops::MUL, x, y)) == std::vector<int32_t>{INT32_MAX, INT32_MIN, 0, -15});
  CHECK(c.get<int32_t>(c.op(Ops::AND, x, y)) == std::vector<int32_t>{1, INT32_MIN, 65536, 5});
  CHECK(c.get<int32_t>(c.op(Ops::OR, x, y)) == std::vector<int32_t>{INT32_MAX, -1, 65536, -3});
  CHECK(c.get<int32_t>(c.op(Ops::XOR, x, y)) == std::vector<int32_t>{INT32_MAX - 1, INT32_MAX, 0, -8});
  CHECK(c.get<int32_t>(c.op(Ops::POW, c.i32({3, -2, 2, -1, -1, 1, 5, 0}), c.i32({4, 3, 31, -3, -4, -5, -1, 0}))) ==
        std::vector<int32_t>{81, -8, INT32_MIN, -1, 1, 1, 0, 1});
}

TEST_CASE("ref: run-time cases C leaves undefined have defined values (docs/ref.md)") {
  Ctx c;
  // division and modulo by zero give 0
  H a = c.i32({7, -7, 0, INT32_MIN}), z = c.i32({0, 0, 0, 0});
  CHECK(c.get<int32_t>(c.op(Ops::IDIV, a, z)) == std::vector<int32_t>{0, 0, 0, 0});
  CHECK(c.get<int32_t>(c.op(Ops::MOD, a, z)) == std::vector<int32_t>{0, 0, 0, 0});
  H u = c.make(std::vector<uint64_t>{7, 0}, dtypes::uint64), uz = c.make(std::vector<uint64_t>{0, 0}, dtypes::uint64);
  CHECK(c.get<uint64_t>(c.op(Ops::IDIV, u, uz)) == std::vector<uint64_t>{0, 0});
  // shifts by a negative amount or by the width or more shift every bit out
  H s = c.i32({-8, 8, -8, 8, -8, 1}), n = c.i32({32, 32, -1, -1, 100, 31});
  CHECK(c.get<int32_t>(c.op(Ops::SHL, s, n)) == std::vector<int32_t>{0, 0, 0, 0, 0, INT32_MIN});
  CHECK(c.get<int32_t>(c.op(Ops::SHR, s, n)) == std::vector<int32_t>{-1, 0, -1, 0, -1, 0});
  H i8 = c.make(std::vector<int8_t>{-128, 64, 1}, dtypes::int8), k8 = c.make(std::vector<int8_t>{8, 1, 7}, dtypes::int8);
  CHECK(c.get<int8_t>(c.op(Ops::SHL, i8, k8)) == std::vector<int8_t>{0, -128, -128});
  CHECK(c.get<int8_t>(c.op(Ops::SHR, i8, k8)) == std::vector<int8_t>{-1, 32, 0});
  // integer 0 ** negative gives 0
  CHECK(c.get<int32_t>(c.op(Ops::POW, c.i32({0}), c.i32({-1})))[0] == 0);
}

TEST_CASE("ref: int64 and uint64 keep their full width") {
  Ctx c;
  H a = c.make(std::vector<int64_t>{INT64_MAX, INT64_MIN, 1LL << 40, -9}, dtypes::int64);
  H b = c.make(std::vector<int64_t>{1, -1, 1LL << 30, 4}, dtypes::int64);
  CHECK(c.get<int64_t>(c.op(Ops::ADD, a, b)) == std::vector<int64_t>{INT64_MIN, INT64_MAX, (1LL << 40) + (1LL << 30), -5});
  CHECK(c.get<int64_t>(c.op(Ops::MUL, a, b)) == std::vector<int64_t>{INT64_MAX, INT64_MIN, 0, -36});  // 2^70 wraps to 0
  CHECK(c.get<int64_t>(c.op(Ops::IDIV, a, b)) == std::vector<int64_t>{INT64_MAX, INT64_MIN, 1024, -2});
  CHECK(c.get<int64_t>(c.op(Ops::SHR, a, c.make(std::vector<int64_t>{62, 63, 40, 1}, dtypes::int64))) ==
        std::vector<int64_t>{1, -1, 1, -5});
  const uint64_t big = 0xfffffffffffffff0ull;
  H u = c.make(std::vector<uint64_t>{big, big, 1ull << 63, 3}, dtypes::uint64);
  H v = c.make(std::vector<uint64_t>{0x20, 3, 1ull << 63, big}, dtypes::uint64);
  CHECK(c.get<uint64_t>(c.op(Ops::ADD, u, v)) == std::vector<uint64_t>{0x10, big + 3, 0, big + 3});
  CHECK(c.get<uint64_t>(c.op(Ops::IDIV, u, v)) == std::vector<uint64_t>{big / 0x20, big / 3, 1, 0});
  CHECK(c.get<uint64_t>(c.op(Ops::MOD, u, v)) == std::vector<uint64_t>{big % 0x20, big % 3, 0, 3});
  CHECK(c.get<uint8_t>(c.op(Ops::CMPLT, u, v)) == std::vector<uint8_t>{0, 0, 0, 1});  // unsigned compare
  CHECK(c.get<uint64_t>(c.op(Ops::MAX, u, v)) == std::vector<uint64_t>{big, big, 1ull << 63, big});
  CHECK(c.get<uint64_t>(c.op(Ops::SHR, u, c.make(std::vector<uint64_t>{60, 64, 63, 1}, dtypes::uint64))) ==
        std::vector<uint64_t>{15, 0, 1, 1});  // logical shift
}

TEST_CASE("ref: bool ops") {
  Ctx c;
  H a = c.make(std::vector<uint8_t>{0, 0, 1, 1}, dtypes::bool_), b = c.make(std::vector<uint8_t>{0, 1, 0, 1}, dtypes::bool_);
  CHECK(c.get<uint8_t>(c.op(Ops::AND, a, b)) == std::vector<uint8_t>{0, 0, 0, 1});
  CHECK(c.get<uint8_t>(c.op(Ops::OR, a, b)) == std::vector<uint8_t>{0, 1, 1, 1});
  CHECK(c.get<uint8_t>(c.op(Ops::XOR, a, b)) == std::vector<uint8_t>{0, 1, 1, 0});
  CHECK(c.get<uint8_t>(c.op(Ops::ADD, a, b)) == std::vector<uint8_t>{0, 1, 1, 1});
  CHECK(c.get<uint8_t>(c.op(Ops::MUL, a, b)) == std::vector<uint8_t>{0, 0, 0, 1});
  CHECK(c.get<uint8_t>(c.op(Ops::MAX, a, b)) == std::vector<uint8_t>{0, 1, 1, 1});
  CHECK(c.get<uint8_t>(c.op(Ops::CMPLT, a, b)) == std::vector<uint8_t>{0, 1, 0, 0});
  CHECK(c.get<uint8_t>(c.op(Ops::CMPNE, a, b)) == std::vector<uint8_t>{0, 1, 1, 0});
  CHECK(c.get<uint8_t>(c.op(Ops::CMPEQ, a, b)) == std::vector<uint8_t>{1, 0, 0, 1});
  CHECK(c.get<uint8_t>(c.op(Ops::WHERE, a, a, b)) == std::vector<uint8_t>{0, 1, 1, 1});
  // bytes other than 0 and 1 read as true and results are 0 or 1
  H odd = c.make(std::vector<uint8_t>{2, 0, 255, 0}, dtypes::bool_);
  CHECK(c.get<uint8_t>(c.op(Ops::AND, odd, b)) == std::vector<uint8_t>{0, 0, 0, 0});
  CHECK(c.get<uint8_t>(c.op(Ops::AND, odd, a)) == std::vector<uint8_t>{0, 0, 1, 0});
}

TEST_CASE("ref: casts truncate, saturate, wrap and round as exec_cast") {
  Ctx c;
  H f = c.f32({1e10f, -1e10f, kNaN, -1.7f, 2.9f, -0.0f, 300.0f, -5.0f});
  CHECK(c.get<int32_t>(c.cast(f, dtypes::int32)) == std::vector<int32_t>{INT32_MAX, INT32_MIN, 0, -1, 2, 0, 300, -5});
  CHECK(c.get<uint8_t>(c.cast(f, dtypes::uint8)) == std::vector<uint8_t>{255, 0, 0, 0, 2, 0, 255, 0});
  CHECK(c.get<int8_t>(c.cast(f, dtypes::int8)) == std::vector<int8_t>{127, -128, 0, -1, 2, 0, 127, -5});
  CHECK(c.get<uint64_t>(c.cast(f, dtypes::uint64)) == std::vector<uint64_t>{10000000000ull, 0, 0, 0, 2, 0, 300, 0});
  CHECK(c.get<int64_t>(c.cast(c.f32({1e30f, -1e30f, kInf, -kInf}), dtypes::int64)) == std::vector<int64_t>{INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN});
  CHECK(c.get<uint8_t>(c.cast(f, dtypes::bool_)) == std::vector<uint8_t>{1, 1, 1, 1, 1, 0, 1, 1});  // NaN is true, -0 false
  // int -> int keeps the low bits
  H i = c.i32({300, -1, 128, -129, 65535});
  CHECK(c.get<int8_t>(c.cast(i, dtypes::int8)) == std::vector<int8_t>{44, -1, -128, 127, -1});
  CHECK(c.get<uint8_t>(c.cast(i, dtypes::uint8)) == std::vector<uint8_t>{44, 255, 128, 127, 255});
  CHECK(c.get<uint16_t>(c.cast(i, dtypes::uint16)) == std::vector<uint16_t>{300, 65535, 128, 65407, 65535});
  CHECK(c.get<uint64_t>(c.cast(i, dtypes::uint64)) == std::vector<uint64_t>{300, UINT64_MAX, 128, uint64_t(-129), 65535});
  CHECK(c.get<int64_t>(c.cast(c.make(std::vector<uint32_t>{4294967295u}, dtypes::uint32), dtypes::int64))[0] == 4294967295LL);
  // int -> float rounds once; bool -> number is 0 or 1
  CHECK(c.get<float>(c.cast(c.i32({16777217, -16777217, 7}), dtypes::float32)) == std::vector<float>{16777216.0f, -16777216.0f, 7.0f});
  CHECK(c.get<float>(c.cast(c.make(std::vector<uint64_t>{UINT64_MAX}, dtypes::uint64), dtypes::float32))[0] == 18446744073709551616.0f);
  CHECK(c.get<double>(c.cast(c.make(std::vector<int64_t>{(1LL << 53) + 1}, dtypes::int64), dtypes::float64))[0] == 9007199254740992.0);
  CHECK(from_halves(c.get<uint16_t>(c.cast(c.i32({2049, 70000, -3}), dtypes::float16))) == std::vector<float>{2048.0f, kInf, -3.0f});
  CHECK(c.get<int32_t>(c.cast(c.make(std::vector<uint8_t>{0, 1, 7}, dtypes::bool_), dtypes::int32)) == std::vector<int32_t>{0, 1, 1});
  CHECK(c.get<float>(c.cast(c.make(std::vector<uint8_t>{0, 1}, dtypes::bool_), dtypes::float32)) == std::vector<float>{0.0f, 1.0f});
  // float -> float: to float16 and bfloat16 round to nearest even; float64 goes through float32
  H d = c.make(std::vector<double>{0.1, 1.0 + 1e-9, 1e300, 65519.0}, dtypes::float64);
  CHECK(c.get<float>(c.cast(d, dtypes::float32)) == std::vector<float>{0.1f, 1.0f, kInf, 65519.0f});
  CHECK(from_halves(c.get<uint16_t>(c.cast(d, dtypes::float16))) == std::vector<float>{half_to_float(float_to_half(0.1f)), 1.0f, kInf, 65504.0f});
  CHECK(from_halves(c.get<uint16_t>(c.cast(c.f32({1.00390625f, 1.01171875f}), dtypes::bfloat16)), true) == std::vector<float>{1.0f, 1.015625f});
  CHECK(c.get<double>(c.cast(c.make(halves({0.1f}), dtypes::float16), dtypes::float64))[0] == double(half_to_float(float_to_half(0.1f))));
  CHECK(from_halves(c.get<uint16_t>(c.cast(c.make(halves({3.140625f}), dtypes::float16), dtypes::bfloat16)), true)[0] == 3.140625f);
  CHECK(c.get<int16_t>(c.cast(c.make(halves({-65504.0f, 2.5f}), dtypes::float16), dtypes::int16)) == std::vector<int16_t>{-32768, 2});
}

TEST_CASE("ref: bitcast keeps the bits") {
  Ctx c;
  H f = c.f32({1.0f, -2.0f, 0.0f, -0.0f});
  CHECK(c.get<int32_t>(c.bitcast(f, dtypes::int32)) == std::vector<int32_t>{0x3f800000, int32_t(0xc0000000u), 0, INT32_MIN});
  CHECK(c.get<float>(c.bitcast(c.i32({0x40490fdb}), dtypes::float32))[0] == 3.14159274f);
  CHECK(c.get<uint16_t>(c.bitcast(c.make(halves({1.0f}), dtypes::float16), dtypes::uint16))[0] == 0x3c00);
  CHECK(c.get<uint16_t>(c.bitcast(c.make(halves({1.0f}, true), dtypes::bfloat16), dtypes::uint16))[0] == 0x3f80);
  CHECK(c.get<double>(c.bitcast(c.make(std::vector<int64_t>{0x3ff8000000000000LL}, dtypes::int64), dtypes::float64))[0] == 1.5);
  // a NaN with a payload passes through untouched, and padding is zero bits in any type
  H n = c.make(std::vector<uint32_t>{0x7fa00001u}, dtypes::uint32, {1});
  H p = c.mv(Ops::PAD, c.bitcast(n, dtypes::float32), {1, 1});
  CHECK(c.get<uint32_t>(c.bitcast(p, dtypes::uint32)) == std::vector<uint32_t>{0, 0x7fa00001u, 0});
  CHECK(c.get<int8_t>(c.bitcast(c.make(std::vector<uint8_t>{255, 128}, dtypes::uint8), dtypes::int8)) == std::vector<int8_t>{-1, -128});
}

namespace {
// The value set each dtype is checked on: edges, signs, NaN and infinities, shift amounts.
std::vector<Arg> sample_values(DType dt) {
  std::vector<Arg> out;
  if (dt.is_float()) {
    for (double d : {0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -3.75, 1e-3, 3.0, 100.0, 65504.0, 70000.0, 1e10, -1e30, 1e-40, 1e300,
                     double(kInf), -double(kInf), std::nan("")})
      out.push_back(make_const(dt, d));
  } else {
    for (i128 v : {i128(0), i128(1), i128(-1), i128(2), i128(-2), i128(3), i128(7), i128(-7), i128(8), i128(16), i128(31),
                   i128(32), i128(63), i128(64), i128(100), int_min(dt.scalar), int_max(dt.scalar), int_min(dt.scalar) + 1,
                   int_max(dt.scalar) - 1})
      out.push_back(make_const(dt, v));
  }
  return out;
}

// Test-side conversions between one element and exec_alu's Arg, written apart from REF's own.
void write_arg(DType dt, const Arg& v, unsigned char* p) {
  switch (dt.scalar) {
    case Scalar::Float64: { double d = std::get<double>(v); std::memcpy(p, &d, 8); return; }
    case Scalar::Float32: { float f = float(std::get<double>(v)); std::memcpy(p, &f, 4); return; }
    case Scalar::Float16: { uint16_t h = float_to_half(float(std::get<double>(v))); std::memcpy(p, &h, 2); return; }
    case Scalar::BFloat16: { uint16_t h = float_to_bf16(float(std::get<double>(v))); std::memcpy(p, &h, 2); return; }
    case Scalar::Bool: p[0] = std::get<int64_t>(v) != 0; return;
    default: { int64_t i = std::get<int64_t>(v); std::memcpy(p, &i, size_t(dt.itemsize())); return; }  // little-endian low bytes
  }
}
Arg read_arg(DType dt, const unsigned char* p) {
  switch (dt.scalar) {
    case Scalar::Float64: { double d; std::memcpy(&d, p, 8); return d; }
    case Scalar::Float32: { float f; std::memcpy(&f, p, 4); return double(f); }
    case Scalar::Float16: { uint16_t h; std::memcpy(&h, p, 2); return double(half_to_float(h)); }
    case Scalar::BFloat16: { uint16_t h; std::memcpy(&h, p, 2); return double(bf16_to_float(h)); }
    case Scalar::Bool: return int64_t(p[0] != 0);
    case Scalar::Int8: return int64_t(int8_t(p[0]));
    case Scalar::UInt8: return int64_t(p[0]);
    case Scalar::Int16: { int16_t x; std::memcpy(&x, p, 2); return int64_t(x); }
    case Scalar::UInt16: { uint16_t x; std::memcpy(&x, p, 2); return int64_t(x); }
    case Scalar::Int32: { int32_t x; std::memcpy(&x, p, 4); return int64_t(x); }
    case Scalar::UInt32: { uint32_t x; std::memcpy(&x, p, 4); return int64_t(x); }
    default: { int64_t x; std::memcpy(&x, p, 8); return x; }
  }
}

const DType kAllTypes[] = {dtypes::bool_, dtypes::int8, dtypes::uint8, dtypes::int16, dtypes::uint16, dtypes::int32, dtypes::uint32,
                           dtypes::int64, dtypes::uint64, dtypes::float16, dtypes::bfloat16, dtypes::float32, dtypes::float64};

H from_args(Ctx& c, DType dt, const std::vector<Arg>& vals) {
  std::vector<unsigned char> bytes(vals.size() * size_t(dt.itemsize()));
  for (size_t i = 0; i < vals.size(); i++) write_arg(dt, vals[i], bytes.data() + i * size_t(dt.itemsize()));
  return H(tensor::from_host(c.e, bytes.data(), dt, {int64_t(vals.size())}, c.ref));
}
std::vector<unsigned char> raw(Ctx& c, const H& t) {
  std::vector<unsigned char> out(size_t(tensor::numel(tensor::shape(t.p))) * size_t(t.p->uop->dtype.itemsize()));
  tensor::copy_out(c.e, t.p, out.data(), out.size());
  return out;
}
}  // namespace

TEST_CASE("ref: every typed loop agrees bit for bit with exec_alu") {
  Ctx c;
  const Ops unary[] = {Ops::EXP2, Ops::LOG2, Ops::SIN, Ops::SQRT, Ops::RECIPROCAL, Ops::NEG, Ops::TRUNC};
  const Ops binary[] = {Ops::ADD, Ops::SUB, Ops::MUL, Ops::FDIV, Ops::IDIV, Ops::MOD, Ops::MAX, Ops::POW, Ops::CMPLT,
                        Ops::CMPNE, Ops::CMPEQ, Ops::AND, Ops::OR, Ops::XOR, Ops::SHL, Ops::SHR};
  int checked = 0;
  for (DType dt : kAllTypes) {
    std::vector<Arg> vals = sample_values(dt), as, bs;
    for (const Arg& a : vals)
      for (const Arg& b : vals) as.push_back(a), bs.push_back(b);
    H ta = from_args(c, dt, as), tb = from_args(c, dt, bs), tv = from_args(c, dt, vals);
    auto check_op = [&](Ops op, const std::vector<mg_tensor*>& srcs, const std::vector<Arg>& a, const std::vector<Arg>* b) {
      H r;
      try {
        r = H(tensor::alu(c.e, op, srcs));
      } catch (const Error&) {
        return;  // not defined for this dtype at the tensor level
      }
      DType odt = r.p->uop->dtype;
      std::vector<unsigned char> got = raw(c, r), want(size_t(odt.itemsize()));
      for (size_t i = 0; i < a.size(); i++) {
        std::vector<Arg> in{a[i]};
        if (b) in.push_back((*b)[i]);
        std::optional<Arg> e = exec_alu(op, odt, dt, in);
        if (!e) continue;  // undefined in C: checked by hand elsewhere
        write_arg(odt, *e, want.data());
        const bool same = std::memcmp(want.data(), got.data() + i * want.size(), want.size()) == 0;
        if (!same)
          FAIL_CHECK(op_name(op) << " " << dt.name() << " on " << arg_str(in[0]) << (b ? ", " + arg_str(in[1]) : "") << ": REF "
                                 << arg_str(read_arg(odt, got.data() + i * want.size())) << ", exec_alu " << arg_str(*e));
        checked++;
      }
    };
    for (Ops op : unary) check_op(op, {tv.p}, vals, nullptr);
    for (Ops op : binary) check_op(op, {ta.p, tb.p}, as, &bs);
  }
  CHECK(checked > 20000);
}

TEST_CASE("ref: casts between every pair of dtypes agree with exec_cast; bitcasts keep bytes") {
  Ctx c;
  for (DType from : kAllTypes) {
    std::vector<Arg> vals = sample_values(from);
    H t = from_args(c, from, vals);
    std::vector<unsigned char> src = raw(c, t);
    for (DType to : kAllTypes) {
      std::vector<unsigned char> got = raw(c, c.cast(t, to)), want(size_t(to.itemsize()));
      for (size_t i = 0; i < vals.size(); i++) {
        Arg v = read_arg(from, src.data() + i * size_t(from.itemsize()));
        write_arg(to, exec_cast(v, from, to), want.data());
        if (std::memcmp(want.data(), got.data() + i * want.size(), want.size()) != 0)
          FAIL_CHECK("cast " << from.name() << " -> " << to.name() << " of " << arg_str(v) << ": REF "
                             << arg_str(read_arg(to, got.data() + i * want.size())) << ", exec_cast " << arg_str(exec_cast(v, from, to)));
      }
      if (to.itemsize() == from.itemsize() && !to.is_bool() && !from.is_bool()) CHECK(raw(c, c.bitcast(t, to)) == src);
    }
  }
}

namespace {
std::vector<float> iota_f(int n, float start = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) v[size_t(i)] = start + float(i);
  return v;
}
}  // namespace

TEST_CASE("ref: movement ops one at a time") {
  Ctx c;
  H x = c.f32(iota_f(6), {2, 3});  // [[0 1 2] [3 4 5]]
  CHECK(c.get<float>(c.mv(Ops::RESHAPE, x, {3, 2})) == iota_f(6));
  CHECK(c.get<float>(c.mv(Ops::PERMUTE, x, {1, 0})) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(c.get<float>(c.mv(Ops::EXPAND, c.mv(Ops::RESHAPE, x, {2, 1, 3}), {2, 2, 3})) ==
        std::vector<float>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5});
  CHECK(c.get<float>(c.mv(Ops::PAD, x, {1, 0, 0, 2})) == std::vector<float>{0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 5, 0, 0});
  CHECK(c.get<float>(c.mv(Ops::SHRINK, x, {1, 2, 0, 2})) == std::vector<float>{3, 4});
  CHECK(c.get<float>(c.mv(Ops::FLIP, x, {1})) == std::vector<float>{2, 1, 0, 5, 4, 3});
  CHECK(c.get<float>(c.mv(Ops::FLIP, x, {0, 1})) == std::vector<float>{5, 4, 3, 2, 1, 0});
  // bool pads with false, ints with 0
  H b = c.make(std::vector<uint8_t>{1, 1}, dtypes::bool_);
  CHECK(c.get<uint8_t>(c.mv(Ops::PAD, b, {1, 1})) == std::vector<uint8_t>{0, 1, 1, 0});
  CHECK(c.get<int64_t>(c.mv(Ops::PAD, c.make(std::vector<int64_t>{-1}, dtypes::int64, {1}), {2, 0})) == std::vector<int64_t>{0, 0, -1});
}

TEST_CASE("ref: movement compositions") {
  Ctx c;
  H x = c.f32(iota_f(6), {2, 3});
  // permute then reshape: the transposed order is what gets regrouped
  CHECK(c.get<float>(c.mv(Ops::RESHAPE, c.mv(Ops::PERMUTE, x, {1, 0}), {6})) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(c.get<float>(c.mv(Ops::RESHAPE, c.mv(Ops::PERMUTE, x, {1, 0}), {2, 3})) == std::vector<float>{0, 3, 1, 4, 2, 5});
  // pad then shrink back is the original; shrink across the padding keeps the zeros
  H p = c.mv(Ops::PAD, x, {1, 1, 2, 2});
  CHECK(c.get<float>(c.mv(Ops::SHRINK, p, {1, 3, 2, 5})) == iota_f(6));
  CHECK(c.get<float>(c.mv(Ops::SHRINK, p, {0, 2, 1, 4})) == std::vector<float>{0, 0, 0, 0, 0, 1});
  // pad then reshape (padding regrouped), flip then pad, expand then permute
  CHECK(c.get<float>(c.mv(Ops::RESHAPE, c.mv(Ops::PAD, x, {0, 0, 0, 1}), {4, 2})) == std::vector<float>{0, 1, 2, 0, 3, 4, 5, 0});
  CHECK(c.get<float>(c.mv(Ops::PAD, c.mv(Ops::FLIP, x, {0}), {0, 0, 1, 0})) == std::vector<float>{0, 3, 4, 5, 0, 0, 1, 2});
  H col = c.f32({1, 2}, {2, 1});
  CHECK(c.get<float>(c.mv(Ops::PERMUTE, c.mv(Ops::EXPAND, col, {2, 3}), {1, 0})) == std::vector<float>{1, 2, 1, 2, 1, 2});
  // an expanded view reshaped: splitting a broadcast dim needs no copy, merging it does
  CHECK(c.get<float>(c.mv(Ops::RESHAPE, c.mv(Ops::EXPAND, col, {2, 4}), {2, 2, 2})) == std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(c.get<float>(c.mv(Ops::RESHAPE, c.mv(Ops::EXPAND, c.f32({1, 2}, {1, 2}), {3, 2}), {6})) == std::vector<float>{1, 2, 1, 2, 1, 2});
  // ALU ops read their operands through views
  CHECK(c.get<float>(c.op(Ops::ADD, c.mv(Ops::PERMUTE, x, {1, 0}), c.mv(Ops::FLIP, c.mv(Ops::PERMUTE, x, {1, 0}), {0}))) ==
        std::vector<float>{2, 8, 2, 8, 2, 8});
  // a scalar expanded, a zero-size shrink, a movement of a realized tensor
  H e = c.mv(Ops::SHRINK, x, {1, 1, 0, 3});
  CHECK(tensor::shape(e.p) == Shape{0, 3});
  CHECK(c.get<float>(e).empty());
  H r = c.mv(Ops::PERMUTE, x, {1, 0});
  tensor::realize(c.e, std::span<mg_tensor* const>(&r.p, 1));
  CHECK(c.get<float>(c.mv(Ops::FLIP, r, {1})) == std::vector<float>{3, 0, 4, 1, 5, 2});
}

TEST_CASE("ref: CONST expanded to a shape, CONTIGUOUS, DETACH") {
  Ctx c;
  H k = c.full(Arg(3.5), dtypes::float32, {2, 3});
  CHECK(c.get<float>(k) == std::vector<float>(6, 3.5f));
  CHECK(c.get<float>(c.op(Ops::MUL, k, c.f32(iota_f(6), {2, 3}))) == std::vector<float>{0, 3.5f, 7, 10.5f, 14, 17.5f});
  CHECK(c.get<int8_t>(c.full(Arg(int64_t(-3)), dtypes::int8, {4})) == std::vector<int8_t>(4, -3));
  CHECK(c.get<uint64_t>(c.full(Arg(int64_t(-1)), dtypes::uint64, {2})) == std::vector<uint64_t>(2, UINT64_MAX));
  CHECK(from_halves(c.get<uint16_t>(c.full(Arg(0.1), dtypes::float16, {2}))) == std::vector<float>(2, half_to_float(float_to_half(0.1f))));
  CHECK(c.get<uint8_t>(c.full(Arg(int64_t(1)), dtypes::bool_, {3})) == std::vector<uint8_t>(3, 1));
  CHECK(c.get<double>(c.full(Arg(2.5), dtypes::float64, {})) == std::vector<double>{2.5});
  CHECK(c.get<float>(c.full(Arg(1.0), dtypes::float32, {0, 4})).empty());
  H x = c.f32(iota_f(4), {2, 2});
  CHECK(c.get<float>(H(tensor::contiguous(c.e, c.mv(Ops::PERMUTE, x, {1, 0}).p))) == std::vector<float>{0, 2, 1, 3});
  CHECK(c.get<float>(H(tensor::detach(c.e, x.p))) == iota_f(4));
}

TEST_CASE("ref: reductions over one, several and all axes") {
  Ctx c;
  H x = c.f32(iota_f(24), {2, 3, 4});
  H s0 = c.red(Ops::ADD, x, {0});
  CHECK(tensor::shape(s0.p) == Shape{1, 3, 4});
  CHECK(c.get<float>(s0) == std::vector<float>{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  CHECK(c.get<float>(c.red(Ops::ADD, x, {2})) == std::vector<float>{6, 22, 38, 54, 70, 86});
  CHECK(c.get<float>(c.red(Ops::ADD, x, {0, 2})) == std::vector<float>{60, 92, 124});
  H all = c.red(Ops::ADD, x, {0, 1, 2});
  CHECK(tensor::shape(all.p) == Shape{1, 1, 1});
  CHECK(c.get<float>(all) == std::vector<float>{276});
  CHECK(c.get<float>(c.red(Ops::MAX, x, {1})) == std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(c.get<float>(c.red(Ops::MUL, c.f32({1, 2, 3, 4, 5, 6}, {2, 3}), {1})) == std::vector<float>{6, 120});
  CHECK(c.get<int32_t>(c.red(Ops::ADD, c.i32({1, 2, 3, 4, 5, 6}, {3, 2}), {0})) == std::vector<int32_t>{9, 12});
  CHECK(c.get<int32_t>(c.red(Ops::MAX, c.i32({-5, -2, -9}), {0})) == std::vector<int32_t>{-2});
  CHECK(c.get<uint8_t>(c.red(Ops::MAX, c.make(std::vector<uint8_t>{0, 1, 0, 0}, dtypes::bool_, {2, 2}), {1})) == std::vector<uint8_t>{1, 0});
  // through views: permuted, flipped, padded (the padding's zeros take part), expanded
  CHECK(c.get<float>(c.red(Ops::ADD, c.mv(Ops::PERMUTE, x, {2, 0, 1}), {1, 2})) == std::vector<float>{60, 66, 72, 78});
  CHECK(c.get<float>(c.red(Ops::MAX, c.mv(Ops::PAD, c.f32({-1, -2}), {1, 0}), {0})) == std::vector<float>{0});
  CHECK(c.get<float>(c.red(Ops::MUL, c.mv(Ops::PAD, c.f32({3, 2}), {0, 0}), {0})) == std::vector<float>{6});
  H col = c.f32({1, 2, 3}, {3, 1});
  CHECK(c.get<float>(c.red(Ops::ADD, c.mv(Ops::EXPAND, col, {3, 5}), {1})) == std::vector<float>{5, 10, 15});
  CHECK(c.get<float>(c.red(Ops::ADD, c.mv(Ops::EXPAND, col, {3, 5}), {0})) == std::vector<float>(5, 6));
  CHECK(c.get<float>(c.red(Ops::ADD, c.full(Arg(0.5), dtypes::float32, {1000, 3}), {0, 1})) == std::vector<float>{1500});
}

TEST_CASE("ref: reductions of empty tensors and zero-size dims give the identity") {
  Ctx c;
  H e = c.f32({}, {0, 3});
  CHECK(c.get<float>(c.red(Ops::ADD, e, {0})) == std::vector<float>{0, 0, 0});
  CHECK(c.get<float>(c.red(Ops::MUL, e, {0})) == std::vector<float>{1, 1, 1});
  CHECK(c.get<float>(c.red(Ops::MAX, e, {0})) == std::vector<float>(3, -kInf));
  H e1 = c.red(Ops::ADD, e, {1});
  CHECK(tensor::shape(e1.p) == Shape{0, 1});
  CHECK(c.get<float>(e1).empty());
  H mid = c.i32({}, {2, 0, 3});
  CHECK(c.get<int32_t>(c.red(Ops::ADD, mid, {1})) == std::vector<int32_t>(6, 0));
  CHECK(c.get<int32_t>(c.red(Ops::MAX, mid, {1})) == std::vector<int32_t>(6, INT32_MIN));
  CHECK(c.get<uint64_t>(c.red(Ops::MAX, c.make(std::vector<uint64_t>{}, dtypes::uint64, {0}), {0})) == std::vector<uint64_t>{0});
  CHECK(c.get<int8_t>(c.red(Ops::MAX, c.make(std::vector<int8_t>{}, dtypes::int8, {0}), {0})) == std::vector<int8_t>{-128});
  CHECK(c.get<uint8_t>(c.red(Ops::MAX, c.make(std::vector<uint8_t>{}, dtypes::bool_, {0}), {0})) == std::vector<uint8_t>{0});
  CHECK(c.get<uint16_t>(c.red(Ops::MAX, c.make(std::vector<uint16_t>{}, dtypes::float16, {0}), {0})) == std::vector<uint16_t>{0xfc00});
  CHECK(c.get<double>(c.red(Ops::MUL, c.make(std::vector<double>{}, dtypes::float64, {1, 0}), {0, 1})) == std::vector<double>{1});
}

TEST_CASE("ref: reductions accumulate in the dtype (wrapping) or in float32 for the short floats") {
  Ctx c;
  CHECK(c.get<int8_t>(c.red(Ops::ADD, c.make(std::vector<int8_t>{100, 100, 100}, dtypes::int8), {0})) == std::vector<int8_t>{44});
  CHECK(c.get<uint8_t>(c.red(Ops::MUL, c.make(std::vector<uint8_t>{16, 16, 3}, dtypes::uint8), {0})) == std::vector<uint8_t>{0});
  CHECK(c.get<int32_t>(c.red(Ops::ADD, c.i32({INT32_MAX, 1, 1}), {0})) == std::vector<int32_t>{INT32_MIN + 1});
  // float16 accumulating in float16 would stop at 2048; in float32 it reaches 4096 exactly
  std::vector<uint16_t> ones(4096, float_to_half(1.0f));
  CHECK(from_halves(c.get<uint16_t>(c.red(Ops::ADD, c.make(ones, dtypes::float16), {0}))) == std::vector<float>{4096});
  std::vector<uint16_t> bones(512, float_to_bf16(1.0f));
  CHECK(from_halves(c.get<uint16_t>(c.red(Ops::ADD, c.make(bones, dtypes::bfloat16), {0})), true) == std::vector<float>{512});
  // the single rounding at the end: 3 * 0.1 summed in float32, then rounded to float16
  std::vector<uint16_t> tenths(3, float_to_half(0.1f));
  float t = half_to_float(float_to_half(0.1f));
  CHECK(c.get<uint16_t>(c.red(Ops::ADD, c.make(tenths, dtypes::float16), {0}))[0] == float_to_half(t + t + t));
  // float32 adds in row-major order of the reduced axes: 1e8 + 1 + ... loses every 1
  std::vector<float> big{1e8f, 1, 1, 1, 1};
  CHECK(c.get<float>(c.red(Ops::ADD, c.f32(big), {0}))[0] == 1e8f);
  // MAX propagates NaN
  CHECK(std::isnan(c.get<float>(c.red(Ops::MAX, c.f32({1, kNaN, 3}), {0}))[0]));
}

namespace {
// A naive model of movement ops: every step copies into a fresh row-major array, so it shares
// nothing with REF's views. Values are small integers, so sums are exact in any order.
struct Naive {
  Shape s;
  std::vector<double> v;
};
std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = i % s[d];
    i /= s[d];
  }
  return idx;
}
int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t i = 0;
  for (size_t d = 0; d < s.size(); d++) i = i * s[d] + idx[d];
  return i;
}
// out[idx] = in[f(idx)], or 0 where f says the position is outside (padding)
template <class F>
Naive remap(const Naive& in, Shape out_shape, F f) {
  Naive out{out_shape, std::vector<double>(size_t(tensor::numel(out_shape)))};
  for (int64_t i = 0; i < int64_t(out.v.size()); i++) {
    std::vector<int64_t> idx = unravel(i, out_shape);
    out.v[size_t(i)] = f(idx) ? in.v[size_t(ravel(idx, in.s))] : 0.0;
  }
  return out;
}
Naive naive_move(const Naive& x, Ops op, const std::vector<int64_t>& arg) {
  switch (op) {
    case Ops::RESHAPE: return Naive{arg, x.v};
    case Ops::EXPAND: return remap(x, arg, [&](std::vector<int64_t>& i) { for (size_t d = 0; d < i.size(); d++) if (x.s[d] == 1) i[d] = 0; return true; });
    case Ops::PERMUTE: {
      Shape s(arg.size());
      for (size_t d = 0; d < arg.size(); d++) s[d] = x.s[size_t(arg[d])];
      return remap(x, s, [&](std::vector<int64_t>& i) { std::vector<int64_t> j(i.size()); for (size_t d = 0; d < i.size(); d++) j[size_t(arg[d])] = i[d]; i = j; return true; });
    }
    case Ops::PAD: case Ops::SHRINK: {
      Shape s = x.s;
      for (size_t d = 0; d < s.size(); d++) s[d] = op == Ops::PAD ? s[d] + arg[2 * d] + arg[2 * d + 1] : arg[2 * d + 1] - arg[2 * d];
      return remap(x, s, [&](std::vector<int64_t>& i) {
        for (size_t d = 0; d < i.size(); d++) {
          i[d] += op == Ops::PAD ? -arg[2 * d] : arg[2 * d];
          if (i[d] < 0 || i[d] >= x.s[d]) return false;
        }
        return true;
      });
    }
    case Ops::FLIP: return remap(x, x.s, [&](std::vector<int64_t>& i) { for (int64_t a : arg) i[size_t(a)] = x.s[size_t(a)] - 1 - i[size_t(a)]; return true; });
    default: FAIL("not a movement op"); return x;
  }
}
Naive naive_sum(const Naive& x, const std::vector<int64_t>& axes) {
  Shape s = x.s;
  for (int64_t a : axes) s[size_t(a)] = 1;
  Naive out{s, std::vector<double>(size_t(tensor::numel(s)))};
  for (int64_t i = 0; i < int64_t(x.v.size()); i++) {
    std::vector<int64_t> idx = unravel(i, x.s);
    for (int64_t a : axes) idx[size_t(a)] = 0;
    out.v[size_t(ravel(idx, s))] += x.v[size_t(i)];
  }
  return out;
}

// A random valid movement op for shape s.
std::pair<Ops, std::vector<int64_t>> random_move(std::mt19937& rng, const Shape& s) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const size_t nd = s.size();
  switch (pick(0, 5)) {
    case 0: {  // reshape: regroup the prime factors of numel into 1..4 dims, with stray 1s
      int64_t n = tensor::numel(s);
      if (n == 0) return {Ops::RESHAPE, {0, 2}};
      std::vector<int64_t> f;
      for (int64_t p = 2; n > 1; p++)
        while (n % p == 0) f.push_back(p), n /= p;
      std::shuffle(f.begin(), f.end(), rng);
      Shape out(size_t(pick(1, 4)), 1);
      for (int64_t p : f) out[size_t(pick(0, int64_t(out.size()) - 1))] *= p;
      return {Ops::RESHAPE, out};
    }
    case 1: {  // expand a size-1 dim, or add one first by reshaping
      Shape out = s;
      for (size_t d = 0; d < nd; d++)
        if (s[d] == 1) out[d] = pick(1, 3);
      return {Ops::EXPAND, out};
    }
    case 2: {
      std::vector<int64_t> order(nd);
      for (size_t d = 0; d < nd; d++) order[d] = int64_t(d);
      std::shuffle(order.begin(), order.end(), rng);
      return {Ops::PERMUTE, order};
    }
    case 3: {
      std::vector<int64_t> arg;
      for (size_t d = 0; d < nd; d++) arg.push_back(pick(0, 2)), arg.push_back(pick(0, 2));
      return {Ops::PAD, arg};
    }
    case 4: {
      std::vector<int64_t> arg;
      for (size_t d = 0; d < nd; d++) {
        int64_t b = pick(0, s[d]), e = pick(b, s[d]);
        if (pick(0, 3) == 0) b = 0, e = s[d];
        arg.push_back(b), arg.push_back(e);
      }
      return {Ops::SHRINK, arg};
    }
    default: {
      std::vector<int64_t> axes;
      for (size_t d = 0; d < nd; d++)
        if (pick(0, 1)) axes.push_back(int64_t(d));
      return {Ops::FLIP, axes};
    }
  }
}
}  // namespace

TEST_CASE("ref: random chains of movement ops match a copy-per-step model, read directly, by ALU and by reductions") {
  Ctx c;
  std::mt19937 rng(1234);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int iter = 0; iter < 400; iter++) {
    Shape s(size_t(pick(1, 4)));
    for (int64_t& d : s) d = pick(1, 4);
    Naive n{s, {}};
    for (int64_t i = 0; i < tensor::numel(s); i++) n.v.push_back(double(i + 1));
    std::vector<float> init(n.v.begin(), n.v.end());
    H t = c.f32(init, s);
    std::string trace = "start " + mg::shape_str(s);
    for (int64_t k = pick(1, 7); k > 0; k--) {
      if (tensor::numel(n.s) > 4000) break;
      auto [op, arg] = random_move(rng, n.s);
      trace += std::string(" ") + op_name(op) + mg::shape_str(arg);
      n = naive_move(n, op, arg);
      t = c.mv(op, t, arg);
    }
    INFO(trace);
    REQUIRE(tensor::shape(t.p) == n.s);
    std::vector<float> want(n.v.begin(), n.v.end());
    switch (iter % 3) {
      case 0: CHECK(c.get<float>(t) == want); break;
      case 1: {  // t + t * 2 reads t's view twice; a shared subgraph
        std::vector<float> w3;
        for (float x : want) w3.push_back(3 * x);
        CHECK(c.get<float>(c.op(Ops::ADD, t, c.op(Ops::MUL, t, c.full(Arg(2.0), dtypes::float32, n.s)))) == w3);
        break;
      }
      default: {
        std::vector<int64_t> axes;
        for (size_t d = 0; d < n.s.size(); d++)
          if (pick(0, 1)) axes.push_back(int64_t(d));
        if (axes.empty()) axes.push_back(0);
        Naive r = naive_sum(n, axes);
        CHECK(c.get<float>(c.red(Ops::ADD, t, axes)) == std::vector<float>(r.v.begin(), r.v.end()));
      }
    }
  }
}

TEST_CASE("ref: large operands cross block boundaries correctly") {
  Ctx c;
  const int rows = 300, cols = 250;  // 75,000 elements: several 16K blocks, odd sizes
  std::vector<float> v = iota_f(rows * cols);
  H x = c.f32(v, {rows, cols});
  H xt = c.mv(Ops::PERMUTE, x, {1, 0});
  std::vector<float> got = c.get<float>(c.op(Ops::ADD, xt, c.mv(Ops::FLIP, xt, {0, 1})));
  bool ok = true;
  for (int i = 0; i < cols && ok; i++)
    for (int j = 0; j < rows && ok; j++)
      ok = got[size_t(i * rows + j)] == v[size_t(j * cols + i)] + v[size_t((rows - 1 - j) * cols + (cols - 1 - i))];
  CHECK(ok);
  std::vector<float> colsum = c.get<float>(c.red(Ops::ADD, x, {0}));
  double want0 = 0;
  for (int j = 0; j < rows; j++) want0 += double(v[size_t(j * cols)]);
  CHECK(colsum.size() == size_t(cols));
  CHECK(colsum[0] == float(want0));
}

TEST_CASE("ref: a node shared by many users is computed once") {
  Ctx c;
  // y(k+1) = y(k) + y(k), 80 levels: without sharing, 2^80 evaluations
  H y = c.f32({1, -0.5f});
  for (int i = 0; i < 80; i++) y = c.op(Ops::ADD, y, y);
  CHECK(c.get<float>(y) == std::vector<float>{std::ldexp(1.0f, 80), -std::ldexp(1.0f, 79)});
  // and its buffer exists once: x, 2x and the sum 2x + 2x are the only big buffers ever live
  Ctx d;
  const int64_t n = 1 << 16;
  H x = d.f32(std::vector<float>(size_t(n), 1.5f));
  H two = d.op(Ops::MUL, x, d.full(Arg(2.0), dtypes::float32, {n}));
  H sum = d.op(Ops::ADD, two, two);
  CHECK(d.get<float>(sum) == std::vector<float>(size_t(n), 6.0f));
  CHECK(d.e.runtime.peak_bytes() < size_t(n) * 4 * 3 + 1024);
}

TEST_CASE("ref: several roots realized together, sharing nodes and buffers") {
  Ctx c;
  H x = c.f32({1, 2, 3, 4}, {2, 2});
  H y = c.op(Ops::MUL, x, x);
  H z = c.op(Ops::ADD, y, x);
  H yt = c.mv(Ops::PERMUTE, y, {1, 0});
  H yr = c.mv(Ops::RESHAPE, y, {4});
  mg_tensor* all[] = {y.p, z.p, yt.p, yr.p, y.p};
  tensor::realize(c.e, all);
  CHECK(c.get<float>(y) == std::vector<float>{1, 4, 9, 16});
  CHECK(c.get<float>(z) == std::vector<float>{2, 6, 12, 20});
  CHECK(c.get<float>(yt) == std::vector<float>{1, 9, 4, 16});
  CHECK(c.get<float>(yr) == std::vector<float>{1, 4, 9, 16});
  // every root got its own buffer
  const void* py = tensor::host_ptr(c.e, y.p);
  CHECK(py != tensor::host_ptr(c.e, yr.p));
  CHECK(py != tensor::host_ptr(c.e, z.p));
}

TEST_CASE("ref: a deep chain of 5,000 ops evaluates without recursion") {
  Ctx c;
  H x = c.f32({0.0f, 1.0f, 2.0f});
  H one = c.full(Arg(1.0), dtypes::float32, {3});
  H y = x;
  for (int i = 0; i < 5000; i++) y = c.op(Ops::ADD, y, one);
  CHECK(c.get<float>(y) == std::vector<float>{5000, 5001, 5002});
  H m = c.f32(iota_f(6), {2, 3});
  for (int i = 0; i < 2500; i++) m = c.mv(i % 2 ? Ops::RESHAPE : Ops::PERMUTE, m, i % 2 ? std::vector<int64_t>{2, 3} : std::vector<int64_t>{1, 0});
  std::vector<float> want = iota_f(6);
  for (int i = 0; i < 1250; i++) want = {want[0], want[3], want[1], want[4], want[2], want[5]};  // one transpose of a 2x3
  CHECK(c.get<float>(m) == want);
}

TEST_CASE("ref: a graph reading a freed buffer raises Error(Freed) and everything else goes on") {
  Ctx c;
  const size_t start = c.e.runtime.bytes_in_use();
  {
    H x = c.f32({1, 2, 3});
    H y = c.op(Ops::ADD, x, c.f32({10, 20, 30}));
    tensor::free_buffer(c.e, x.p);
    ErrorKind kind = ErrorKind::Invalid;
    try {
      c.get<float>(y);
    } catch (const Error& err) {
      kind = err.kind;
    }
    CHECK(kind == ErrorKind::Freed);
    CHECK(c.get<float>(c.op(Ops::MUL, c.f32({2}), c.f32({3}))) == std::vector<float>{6});
  }
  CHECK(c.e.runtime.bytes_in_use() == start);
}

TEST_CASE("ref: memory in use returns to where it started once tensors are released") {
  Ctx c;
  const size_t start = c.e.runtime.bytes_in_use();
  {
    H x = c.f32(iota_f(1000), {10, 100});
    H y = c.red(Ops::ADD, c.op(Ops::MUL, c.mv(Ops::PERMUTE, x, {1, 0}), c.full(Arg(2.0), dtypes::float32, {100, 10})), {1});
    // {1, 2, 0, 0}, not {1, 1, 0, 0}: GCC 12.2 with -mavx512f miscompiles that constant to {1, 1, 1, 1}
    H z = c.mv(Ops::PAD, c.cast(y, dtypes::float16), {1, 2, 0, 0});
    mg_tensor* both[] = {y.p, z.p};
    tensor::realize(c.e, both);
    CHECK(c.e.runtime.bytes_in_use() > start);
    // only the inputs and the two results stay: no intermediate outlives its evaluation
    CHECK(c.e.runtime.bytes_in_use() - start == 1000 * 4 + 100 * 4 + 103 * 2);
    CHECK(c.get<float>(y)[0] == 2 * (0 + 100 + 200 + 300 + 400 + 500 + 600 + 700 + 800 + 900));
  }
  CHECK(c.e.runtime.bytes_in_use() == start);
}

namespace {
// A second host-memory device that cannot evaluate: REF must copy its buffers out.
struct OtherHost : Device {
  int copies_out = 0;
  explicit OtherHost(Runtime& rt) : Device("OTHER", rt) {}
  void* alloc(size_t n) override { return runtime().host().allocate(n); }
  void free(void* p, size_t) noexcept override { runtime().host().release(p); }
  void copy_in(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void copy_out(void* d, const void* s, size_t n) override { copies_out++; std::memcpy(d, s, n); }
};
}  // namespace

TEST_CASE("ref: COPY reads a buffer of another device through its copy_out") {
  Ctx c;
  c.e.runtime.add_device(std::make_unique<OtherHost>(c.e.runtime));
  auto* other = static_cast<OtherHost*>(c.e.runtime.device("OTHER"));
  std::vector<int32_t> v{5, 6, 7, 8};
  H x(tensor::from_host(c.e, v.data(), dtypes::int32, {2, 2}, other));
  H y(tensor::to_device(c.e, x.p, c.ref));
  H z = c.op(Ops::ADD, c.mv(Ops::PERMUTE, y, {1, 0}), c.i32({1, 1, 1, 1}, {2, 2}));
  CHECK(c.get<int32_t>(z) == std::vector<int32_t>{6, 8, 7, 9});
  CHECK(other->copies_out == 1);
  CHECK(z.p->device == c.ref);
}
