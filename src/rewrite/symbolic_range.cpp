// Rules that use value ranges (vmin/vmax) of integer, index and bool expressions.
// A range is sound even where arithmetic wrapped (a node that may wrap gets its dtype's whole
// range), so folding by range needs no wrap check. Rules that rewrite an inequality through
// an ADD, MUL or NEG rely on that op being exact, and check !may_wrap() on it.
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// (asked of ALU ops and CAST only: never of a CONST)
bool range_is_single(const UOp& u) { return intlike_scalar(u) && u.vmin() == u.vmax(); }
i128 absmax(const UOp* u) { return std::max(u->vmin() < 0 ? -u->vmin() : u->vmin(), u->vmax() < 0 ? -u->vmax() : u->vmax()); }
bool is_low_mask(i128 c) { return c >= 0 && ((c + 1) & c) == 0; }  // 2^k - 1

UOpRef range_const(B& b) { return int_const(b.root, b.root->vmin()); }
UOpRef max_by_range(B& b) { return b["x"]->vmin() >= b["y"]->vmax() ? keep(b, b["x"]) : nullptr; }
// |x| < y: C's x%y is x (the quotient truncates to 0)
UOpRef mod_by_range(B& b) {
  UOpRef x = b["x"], y = b["y"];
  return y->vmin() > 0 && absmax(x.get()) < y->vmin() ? keep(b, x) : nullptr;
}
UOpRef and_by_range(B& b) {
  UOpRef x = b["x"];
  i128 c = cval(b["c"]);
  return is_low_mask(c) && x->vmin() >= 0 && x->vmax() <= c ? keep(b, x) : nullptr;
}

// Inequalities: `x op c < d` becomes `x < d'` (and `d < x op c` becomes `d' < x`) when op is
// exact. `d'` must fit x's dtype. `x_left` says on which side of CMPLT the term stands.
UOpRef cmp(const UOpRef& x, i128 bound, bool x_left) {
  UOpRef k = int_const(x.get(), bound);
  if (!k) return nullptr;
  return x_left ? lt(x, k) : lt(k, x);
}
UOpRef lt_add(B& b, bool x_left) {  // x+c < d  <=>  x < d-c
  if (b["s"]->may_wrap()) return nullptr;
  return cmp(b["x"], cval(b["d"]) - cval(b["c"]), x_left);
}
UOpRef lt_sub(B& b, bool x_left) {  // x-c < d  <=>  x < d+c
  if (b["s"]->may_wrap()) return nullptr;
  return cmp(b["x"], cval(b["d"]) + cval(b["c"]), x_left);
}
UOpRef lt_mul(B& b, bool x_left) {  // c>0: x*c < d <=> x < ceil(d/c);  d < x*c <=> floor(d/c) < x
  i128 c = cval(b["c"]), d = cval(b["d"]);
  if (c <= 0 || b["s"]->may_wrap()) return nullptr;
  return cmp(b["x"], x_left ? ceil_div(d, c) : floor_div(d, c), x_left);
}
// c>0, truncating division: x//c < d <=> x < (d>0 ? d*c : d*c-c+1);  d < x//c <=> (d>=0 ? (d+1)*c-1 : d*c) < x
UOpRef lt_div(B& b, bool x_left) {
  i128 c = cval(b["c"]), d = cval(b["d"]);
  if (c <= 0 || !small(c) || !small(d)) return nullptr;
  i128 bound = x_left ? (d > 0 ? d * c : d * c - c + 1) : (d >= 0 ? (d + 1) * c - 1 : d * c);
  return cmp(b["x"], bound, x_left);
}
UOpRef lt_neg(B& b, bool x_left) {  // -x < d <=> -d < x
  if (b["s"]->may_wrap()) return nullptr;
  return cmp(b["x"], -cval(b["d"]), !x_left);
}
UOpRef lt_self_plus(B& b, bool x_left) {  // x < x+c <=> 0 < c;  x+c < x <=> c < 0
  if (b["s"]->may_wrap()) return nullptr;
  i128 c = cval(b["c"]);
  return bool_const(b.root, x_left ? 0 < c : c < 0);
}
template <UOpRef (*F)(B&, bool), bool Left>
UOpRef side(B& b) { return F(b, Left); }

// A sum s (no wrap) against a constant: its constant term k moves to the other side and a
// factor g common to its terms divides out. s < d <=> s' < ceil((d-k)/g); d < s <=>
// floor((d-k)/g) < s', with s = g*s' + k. Taken when the result is smaller.
UOpRef lt_sum(B& b, bool s_left) {
  UOpRef s = b["s"];
  Linear l;
  if (s->may_wrap() || !linearize(s, l)) return nullptr;
  i128 g = 0;
  for (i128 c : l.coef) g = gcd(g, c);
  if (g == 0 || (l.k == 0 && g == 1)) return nullptr;
  Coefs coef;
  for (i128 c : l.coef) coef.push_back(c / g);
  i128 rest = cval(b["d"]) - l.k;
  UOpRef lhs = build(s.get(), l, coef, 0);
  UOpRef cand = lhs ? cmp(lhs, s_left ? ceil_div(rest, g) : floor_div(rest, g), s_left) : nullptr;
  return cand && !lhs->may_wrap() && smaller(cand, UOpRef(b.root)) ? cand : nullptr;
}

UOpRef ne_shift(B& b) {  // x+c != d <=> x != d-c in the ring, for any wrap
  UOpRef k = fold_consts(Ops::SUB, b["d"], b["c"]);
  return k ? alu(b.root->op, {b["x"], k}) : nullptr;
}
UOpRef ne_shift_sub(B& b) {  // x-c != d <=> x != d+c
  UOpRef k = fold_consts(Ops::ADD, b["d"], b["c"]);
  return k ? alu(b.root->op, {b["x"], k}) : nullptr;
}
}  // namespace

std::vector<Rule> range_rules() {
  const UPat x = var("x"), C = cvar("c"), D = cvar("d");
  const UPat add = ints(x + C).named("s"), sub = ints(x - C).named("s"), mul = ints(x * C).named("s");
  const UPat div = ints(x / C), neg = ints(-x).named("s");
  return {
      {UPat(alu_ops() | OpSet{Ops::CAST}).where(range_is_single), range_const, "value range is one value"},
      {ints(maximum(x, var("y"))), max_by_range, "max(x,y) -> x when x >= y"},
      {ints(x % var("y")), mod_by_range, "x%y -> x when |x| < y"},
      {ints(x & C), and_by_range, "x&(2^k-1) -> x when 0 <= x <= 2^k-1"},
      // inequalities
      {lt(add, D), side<lt_add, true>, "x+c<d -> x<d-c"},
      {lt(D, add), side<lt_add, false>, "d<x+c -> d-c<x"},
      {lt(sub, D), side<lt_sub, true>, "x-c<d -> x<d+c"},
      {lt(D, sub), side<lt_sub, false>, "d<x-c -> d+c<x"},
      {lt(mul, D), side<lt_mul, true>, "x*c<d -> x<ceil(d/c)"},
      {lt(D, mul), side<lt_mul, false>, "d<x*c -> floor(d/c)<x"},
      {lt(div, D), side<lt_div, true>, "x//c<d -> x<d*c (truncating)"},
      {lt(D, div), side<lt_div, false>, "d<x//c -> (d+1)*c-1<x (truncating)"},
      {lt(neg, D), side<lt_neg, true>, "-x<d -> -d<x"},
      {lt(D, neg), side<lt_neg, false>, "d<-x -> x<-d"},
      {lt(ints(UPat(OpSet{Ops::ADD, Ops::SUB})).named("s"), D), side<lt_sum, true>, "s+k<d -> s<d-k, common factors out"},
      {lt(D, ints(UPat(OpSet{Ops::ADD, Ops::SUB})).named("s")), side<lt_sum, false>, "d<s+k -> d-k<s, common factors out"},
      {lt(x, ints(x + C).named("s")), side<lt_self_plus, true>, "x<x+c -> 0<c"},
      {lt(ints(x + C).named("s"), x), side<lt_self_plus, false>, "x+c<x -> c<0"},
      // (in)equalities: exact in the ring
      {ne(ints(x + C), D), ne_shift, "x+c!=d -> x!=d-c"},
      {eq(ints(x + C), D), ne_shift, "x+c==d -> x==d-c"},
      {ne(ints(x - C), D), ne_shift_sub, "x-c!=d -> x!=d+c"},
      {eq(ints(x - C), D), ne_shift_sub, "x-c==d -> x==d+c"},
  };
}

}  // namespace mg::sym
