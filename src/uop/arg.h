// Arg: the small payload of a UOp (a constant, a shape, a name, a reduce op...).
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "uop/ops.h"

namespace mg {

// DEFINE_VAR: a named integer with inclusive bounds.
struct VarArg {
  std::string name;
  int64_t lo = 0, hi = 0;
  friend bool operator==(const VarArg&, const VarArg&) = default;
};

// REDUCE_AXIS: the reduction op and the (0-based) axes it reduces.
struct ReduceArg {
  Ops op = Ops::ADD;
  std::vector<int64_t> axes;
  friend bool operator==(const ReduceArg&, const ReduceArg&) = default;
};

// CONST values: integers and bools as int64_t (uint64 as its bit pattern), floats as double.
using Arg = std::variant<std::monostate, int64_t, double, std::string, std::vector<int64_t>, Ops, VarArg, ReduceArg>;

// Doubles compare and hash by bit pattern, so NaN constants intern and -0.0 stays apart from 0.0.
bool arg_equal(const Arg& a, const Arg& b);
uint64_t arg_hash(const Arg& a);
std::string arg_str(const Arg& a);

// Stable 64-bit mixing (no pointers, no std::hash): equal graphs hash equal in every process.
constexpr uint64_t hash_mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= h >> 31; h *= 0xbf58476d1ce4e5b9ull; h ^= h >> 27;
  return h;
}
uint64_t hash_bytes(const void* data, size_t n, uint64_t seed = 0);

}  // namespace mg
