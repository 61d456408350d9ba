#include "uop/arg.h"

#include <bit>
#include <cstring>
#include <sstream>

namespace mg {

namespace {
template <class... F> struct overloaded : F... { using F::operator()...; };
template <class... F> overloaded(F...) -> overloaded<F...>;

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); i++) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}
uint64_t ints_hash(const std::vector<int64_t>& v, uint64_t h) {
  for (int64_t x : v) h = hash_mix(h, uint64_t(x));
  return hash_mix(h, v.size());
}
}  // namespace

uint64_t hash_bytes(const void* data, size_t n, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return hash_mix(h, n);
}

bool arg_equal(const Arg& a, const Arg& b) {
  if (a.index() != b.index()) return false;
  if (auto* da = std::get_if<double>(&a)) return std::bit_cast<uint64_t>(*da) == std::bit_cast<uint64_t>(std::get<double>(b));
  return a == b;
}

uint64_t arg_hash(const Arg& a) {
  uint64_t h = hash_mix(0x51ed27, a.index());
  return std::visit(overloaded{
      [&](std::monostate) { return h; },
      [&](int64_t v) { return hash_mix(h, uint64_t(v)); },
      [&](double v) { return hash_mix(h, std::bit_cast<uint64_t>(v)); },
      [&](const std::string& s) { return hash_bytes(s.data(), s.size(), h); },
      [&](const std::vector<int64_t>& v) { return ints_hash(v, h); },
      [&](Ops o) { return hash_mix(h, uint64_t(o)); },
      [&](const VarArg& v) { return hash_mix(hash_mix(hash_bytes(v.name.data(), v.name.size(), h), uint64_t(v.lo)), uint64_t(v.hi)); },
      [&](const ReduceArg& r) { return ints_hash(r.axes, hash_mix(h, uint64_t(r.op))); },
  }, a);
}

std::string arg_str(const Arg& a) {
  return std::visit(overloaded{
      [](std::monostate) { return std::string(); },
      [](int64_t v) { return std::to_string(v); },
      [](double v) {
        std::ostringstream os;
        os.precision(9);
        os << v;
        std::string s = os.str();
        if (s.find_first_of(".eni") == std::string::npos) s += ".0";
        return s;
      },
      [](const std::string& s) { return "'" + s + "'"; },
      [](const std::vector<int64_t>& v) { return ints_str(v); },
      [](Ops o) { return std::string(op_name(o)); },
      [](const VarArg& v) { return "('" + v.name + "', " + std::to_string(v.lo) + ", " + std::to_string(v.hi) + ")"; },
      [](const ReduceArg& r) { return std::string("(") + op_name(r.op) + ", " + ints_str(r.axes) + ")"; },
  }, a);
}

}  // namespace mg
