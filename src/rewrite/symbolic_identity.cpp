// Identities that need no value ranges: each returns a node the pattern already bound, or one
// new node in place of the root, so the graph never grows. Float rules are only those that
// are exact in IEEE arithmetic (x*1, x-(+0.0), x+(-0.0), max(x,x)): x*0, x-x and x+0.0 are not
// (NaN, inf, -0.0), and neither are comparisons of x with itself.
#include <cmath>

#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
bool is_float_zero(const UOp& c, bool negative) {
  return c.dtype.is_float() && c.const_float() == 0.0 && std::signbit(c.const_float()) == negative;
}
// 0 as an integer or bool (an int64_t arg, the usual case, read inline)
bool is_int_zero(const UOp& c) {
  if (const int64_t* i = std::get_if<int64_t>(&c.arg)) return *i == 0;
  return c.const_float() == 0.0;
}
// x+c == x for every x: 0 for integers and bool; only -0.0 for floats (-0.0 + +0.0 is +0.0).
bool adds_nothing(const UOp& c) { return c.dtype.is_float() ? is_float_zero(c, true) : is_int_zero(c); }
// x-c == x for every x: 0 for integers and bool; only +0.0 for floats.
bool subtracts_nothing(const UOp& c) { return c.dtype.is_float() ? is_float_zero(c, false) : is_int_zero(c); }
// Every bit set: true, -1, or the unsigned maximum.
bool all_ones(const UOp& c) {
  if (!(c.dtype.is_int() || c.dtype.is_bool())) return false;
  return cval(c) == (int_min(c.dtype.scalar) < 0 ? -1 : int_max(c.dtype.scalar));
}
bool same_dtype_as_src(const UOp& u) { return u.src.size() == 1 && u.src[0]->dtype == u.dtype; }

UOpRef ret_x(B& b) { return keep(b, b["x"]); }
UOpRef ret_z(B& b) { return keep(b, b["z"]); }
UOpRef ret_c(B& b) { return keep(b, b["c"]); }
UOpRef ret_a(B& b) { return keep(b, b["a"]); }
UOpRef zero(B& b) { return int_const(b.root, 0); }
UOpRef false_(B& b) { return bool_const(b.root, false); }
UOpRef true_(B& b) { return bool_const(b.root, true); }
UOpRef neg_x(B& b) { return keep(b, -b["x"]); }
UOpRef pick(B& b) { return keep(b, b["c"]->const_float() != 0 ? b["a"] : b["b"]); }
UOpRef where_cad(B& b) { return keep(b, where(b["c"], b["a"], b["d"])); }
}  // namespace

std::vector<Rule> identity_rules() {
  const UPat x = var("x"), F = UPat::cnst(0), T = UPat::cnst(1);
  const DType boolean = dtypes::bool_;
  return {
      // additive and multiplicative identities
      {x + cvar().where(adds_nothing), ret_x, "x+0 -> x"},
      {x - cvar().where(subtracts_nothing), ret_x, "x-0 -> x"},
      {x * 1, ret_x, "x*1 -> x"},
      {intlike(x * F.named("z")), ret_z, "x*0 -> 0 (ints, bool)"},
      {UPat(Ops::FDIV).src({x, T}), ret_x, "x/1.0 -> x"},
      {ints(x / 1), ret_x, "x//1 -> x"},
      {ints(x / -1), neg_x, "x//-1 -> -x"},
      {ints(x % 1), zero, "x%1 -> 0"},
      {ints(x % -1), zero, "x%-1 -> 0"},
      {intlike(x - x), zero, "x-x -> 0 (ints, bool)"},
      {ints(0 - x), neg_x, "0-x -> -x"},
      {-(-x), ret_x, "-(-x) -> x"},
      {UPat(Ops::CAST).src({x}).where(same_dtype_as_src), ret_x, "cast to its own dtype"},
      {UPat(Ops::SHL).src({x, F}), ret_x, "x<<0 -> x"},
      {UPat(Ops::SHR).src({x, F}), ret_x, "x>>0 -> x"},
      // idempotent and bitwise ops (bool: x&true, x&false, x|true, x|false, x^false)
      {x & x, ret_x, "x&x -> x"},
      {x | x, ret_x, "x|x -> x"},
      {maximum(x, x), ret_x, "max(x,x) -> x"},
      {intlike(x ^ x), zero, "x^x -> 0"},
      {intlike(x & F.named("z")), ret_z, "x&0 -> 0"},
      {intlike(x | 0), ret_x, "x|0 -> x"},
      {intlike(x ^ 0), ret_x, "x^0 -> x"},
      {intlike(x & cvar().where(all_ones)), ret_x, "x&-1 -> x"},
      {intlike(x | cvar("c").where(all_ones)), ret_c, "x|-1 -> -1"},
      // a value compared with itself (not floats: NaN)
      {lt(x.where(intlike_scalar), x), false_, "x<x -> false"},
      {ne(x.where(intlike_scalar), x), false_, "x!=x -> false"},
      {eq(x.where(intlike_scalar), x), true_, "x==x -> true"},
      {ne(ne(x.dtype(boolean), T), T), ret_x, "!!x -> x"},
      // where
      {where(cvar("c"), var("a"), var("b")), pick, "where(const,a,b)"},
      {where(var("c"), var("a"), var("a")), ret_a, "where(c,a,a) -> a"},
      {where(var("c"), T, F).dtype(boolean), ret_c, "where(c,true,false) -> c"},
      {where(ne(x, var("y")), F, T).dtype(boolean), [](B& b) { return eq(b["x"], b["y"]); }, "where(x!=y,false,true) -> x==y"},
      {where(eq(x, var("y")), F, T).dtype(boolean), [](B& b) { return ne(b["x"], b["y"]); }, "where(x==y,false,true) -> x!=y"},
      {where(var("c").dtype(boolean), F, T.named("t")).dtype(boolean), [](B& b) { return ne(b["c"], b["t"]); }, "where(c,false,true) -> c!=true"},
      {where(var("c"), where(var("c"), var("a"), var("b")), var("d")), where_cad, "where(c,where(c,a,b),d)"},
      {where(var("c"), var("a"), where(var("c"), var("b"), var("d"))), where_cad, "where(c,a,where(c,b,d))"},
  };
}

}  // namespace mg::sym
