// Division and modulo by constants, with C semantics: IDIV truncates toward zero, MOD takes
// the dividend's sign. The general rule writes the dividend as a sum of terms with constant
// coefficients and pulls out what the divisor divides; it relies on exact arithmetic, so it
// requires !may_wrap() on the dividend and on what it builds, and it only answers with a
// graph smaller than the one it replaces.
#include <algorithm>

#include "rewrite/symbolic.h"
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// x == c*Q + R with Q = sum(q*v) + qk, R = sum(r*v) + rk; R's range from the terms' ranges.
struct Split {
  Coefs q, r;
  i128 qk = 0, rk = 0, rmin = 0, rmax = 0;
};
// floor: remainders in [0, c); trunc: remainders with their coefficient's sign.
Split split(const Linear& l, i128 c, bool floor) {
  Split s;
  auto quot = [&](i128 a) { return floor ? floor_div(a, c) : a / c; };
  for (size_t i = 0; i < l.v.size(); i++) {
    i128 q = quot(l.coef[i]), r = l.coef[i] - q * c;
    s.q.push_back(q);
    s.r.push_back(r);
    i128 lo = r * l.v[i]->vmin(), hi = r * l.v[i]->vmax();
    s.rmin += std::min(lo, hi);
    s.rmax += std::max(lo, hi);
  }
  s.qk = quot(l.k);
  s.rk = l.k - s.qk * c;
  s.rmin += s.rk;
  s.rmax += s.rk;
  return s;
}

bool small_ranges(const Linear& l) {
  for (const UOpRef& v : l.v)
    if (!small(v->vmin()) || !small(v->vmax())) return false;
  return true;
}

// m with x//c == Q + m for every x in its range, when there is one.
std::optional<i128> quotient_shift(const Split& s, i128 c, i128 xmin, i128 xmax) {
  if (xmin >= 0 && floor_div(s.rmin, c) == floor_div(s.rmax, c)) return floor_div(s.rmin, c);  // floor
  if (xmax <= 0 && ceil_div(s.rmin, c) == ceil_div(s.rmax, c)) return ceil_div(s.rmin, c);      // ceil
  if (s.rmin == s.rmax && s.rmin % c == 0) return s.rmin / c;                                   // exact
  return std::nullopt;
}

// x//c or x%c from one linear form of x, if one of the three ways below applies and
// `accept`s it (smaller, and cannot wrap).
template <class Accept>
UOpRef divmod_of(const UOp* root, const Linear& l, i128 c, bool is_mod, i128 xmin, i128 xmax, Accept accept) {
  // 1. The remainder part stays within one multiple of c: x//c = Q + m, x%c = R - m*c.
  for (bool floor : {true, false}) {
    Split s = split(l, c, floor);
    std::optional<i128> m = quotient_shift(s, c, xmin, xmax);
    if (!m) continue;
    UOpRef cand = is_mod ? build(root, l, s.r, s.rk - *m * c) : build(root, l, s.q, s.qk + *m);
    if (accept(cand)) return cand;
  }
  // 2. Everything nonnegative: x//c = Q + R//c and x%c = R%c (floor and truncation agree).
  if (Split s = split(l, c, true); xmin >= 0 && s.rmin >= 0) {
    bool no_q = s.qk == 0 && std::all_of(s.q.begin(), s.q.end(), [](i128 q) { return q == 0; });
    UOpRef rest = build(root, l, s.r, s.rk), kc = int_const(root, c), q = no_q ? nullptr : build(root, l, s.q, s.qk);
    UOpRef cand = !rest || !kc || (!no_q && !q) ? nullptr : is_mod ? rest % kc : no_q ? rest / kc : q + rest / kc;
    if (accept(cand)) return cand;
  }
  // 3. A factor g common to c and the whole dividend: x//c = (x/g)//(c/g), x%c = ((x/g)%(c/g))*g.
  i128 g = c;
  for (i128 a : l.coef) g = gcd(g, a);
  g = gcd(g, l.k);
  if (g > 1) {
    Coefs coef;
    for (i128 a : l.coef) coef.push_back(a / g);
    UOpRef xg = build(root, l, coef, l.k / g), cg = int_const(root, c / g), gc = int_const(root, g);
    UOpRef cand = !xg || !cg || !gc ? nullptr : is_mod ? (xg % cg) * gc : xg / cg;
    if (accept(cand)) return cand;
  }
  return nullptr;
}

UOpRef fold_divmod(B& b, bool is_mod) {
  const UOp* root = b.root;
  UOpRef x = b["x"];
  i128 c = cval(b["c"]);
  if (c <= 1 || !small(c) || x->may_wrap() || !(x->dtype == root->dtype)) return nullptr;
  Linear l;
  if (!linearize(x, l)) return nullptr;
  // x as written, and with (y//d)*d + y%d pairs recombined (the idiom may sit inside x).
  std::vector<Linear> forms = divmod_forms(l, x->dtype, false);
  for (Linear& f : forms) f.materialize();  // split reads every term's range
  forms.insert(forms.begin(), std::move(l));
  UOpRef best(const_cast<UOp*>(root));
  auto accept = [&](const UOpRef& cand) { return cand && !cand->may_wrap() && smaller(cand, best); };
  for (Linear& f : forms) {
    if (!small_ranges(f) || !small(f.k)) continue;
    if (UOpRef cand = divmod_of(root, f, c, is_mod, x->vmin(), x->vmax(), accept)) best = cand;
  }
  return best == root ? nullptr : best;
}
UOpRef fold_div(B& b) { return fold_divmod(b, false); }
UOpRef fold_mod(B& b) { return fold_divmod(b, true); }

// (x%c1)%c2 -> x%c2 when c2 divides c1: x%c1 keeps x's residue mod c2 and x's sign, and C's
// x%c2 depends on nothing else. No exactness needed.
UOpRef mod_mod(B& b) {
  i128 c1 = cval(b["c1"]), c2 = cval(b["c2"]);
  return c1 > 0 && c2 > 0 && c1 % c2 == 0 ? keep(b, b["x"] % b["c2"]) : nullptr;
}
// (x//c1)//c2 -> x//(c1*c2) for c1, c2 > 0 (true of truncation as of floor).
UOpRef div_div(B& b) {
  i128 c1 = cval(b["c1"]), c2 = cval(b["c2"]);
  if (c1 <= 0 || c2 <= 0 || !small(c1) || !small(c2)) return nullptr;
  UOpRef k = int_const(b.root, c1 * c2);
  return k ? keep(b, b["x"] / k) : nullptr;
}
// x >= 0: (x//c1)%c2 -> (x%(c1*c2))//c1, taken when that simplifies to something smaller (an
// index read through two reshapes, x = 25*w - 24 + ..., whose x%25 is a constant).
UOpRef div_mod(B& b) {
  i128 c1 = cval(b["c1"]), c2 = cval(b["c2"]);
  const UOpRef& x = b["x"];
  if (c1 <= 0 || c2 <= 0 || !small(c1) || !small(c2) || x->vmin() < 0 || x->may_wrap()) return nullptr;
  UOpRef k = int_const(b.root, c1 * c2);
  if (!k) return nullptr;
  UOpRef cand = simplify(simplify(x % k) / b["c1"]);
  return smaller(cand, b.root->ref()) ? keep(b, cand) : nullptr;
}
// c1 > 0 divides c2 and x*c1 is exact: (x*c1)//c2 -> x//(c2/c1), and since (x*c1)%c2 is
// c1*(x%(c2/c1)), ((x*c1)%c2)//c1 -> x%(c2/c1). Truncation or floor alike.
UOpRef mul_div(B& b, Ops op) {
  i128 c1 = cval(b["c1"]), c2 = cval(b["c2"]);
  if (c1 <= 0 || c2 <= 0 || c2 % c1 != 0 || b["m"]->may_wrap()) return nullptr;
  // x//1 is x and x%1 is 0: answered here rather than by a node the next rule removes
  if (c2 == c1) return op == Ops::IDIV ? keep(b, b["x"]) : int_const(b.root, 0);
  UOpRef k = int_const(b.root, c2 / c1);
  return k ? keep(b, alu(op, {b["x"], k})) : nullptr;
}
// x >= 0, 0 <= y < c and x*c+y exact: (x*c+y)//c -> x and (x*c+y)%c -> y. The general rules
// below find these too, by splitting the sum and rebuilding the quotient; this is the common
// case of index arithmetic, answered with nodes already there.
UOpRef split_exact(B& b, bool is_mod) {
  UOpRef x = b["x"], y = b["y"];
  i128 c = cval(b["c"]);
  if (c <= 0 || x->vmin() < 0 || y->vmin() < 0 || y->vmax() >= c || b["s"]->may_wrap()) return nullptr;
  return keep(b, is_mod ? y : x);
}
bool nonzero(const UOpRef& y) { return y->vmin() > 0 || y->vmax() < 0; }
UOpRef recombine(B& b) { return nonzero(b["y"]) ? keep(b, b["x"]) : nullptr; }
UOpRef x_mod_y(B& b) { return nonzero(b["y"]) ? keep(b, b["x"] % b["y"]) : nullptr; }
}  // namespace

std::vector<Rule> divmod_rules() {
  const UPat x = var("x"), C = cvar("c"), c1 = cvar("c1"), c2 = cvar("c2");
  return {
      {ints((x % c1) % c2), mod_mod, "(x%c1)%c2 -> x%c2 when c2 | c1"},
      {ints((x / c1) / c2), div_div, "(x//c1)//c2 -> x//(c1*c2)"},
      {ints((x / c1) % c2), div_mod, "(x//c1)%c2 -> (x%(c1*c2))//c1 when x >= 0 and that is smaller"},
      {ints((x * c1).named("m") / c2), [](B& b) { return mul_div(b, Ops::IDIV); }, "(x*c1)//c2 -> x//(c2/c1)"},
      {ints(((x * c1).named("m") % c2) / c1), [](B& b) { return mul_div(b, Ops::MOD); }, "((x*c1)%c2)//c1 -> x%(c2/c1)"},
      // C's definition of %: x == (x//y)*y + x%y, in the ring, for every x and y != 0
      {ints((x / var("y")) * var("y") + x % var("y")), recombine, "(x//y)*y + x%y -> x"},
      {ints(x - (x / var("y")) * var("y")), x_mod_y, "x - (x//y)*y -> x%y"},
      {ints((x * C + var("y")).named("s") / C), [](B& b) { return split_exact(b, false); }, "(x*c+y)//c -> x when 0 <= y < c"},
      {ints((x * C + var("y")).named("s") % C), [](B& b) { return split_exact(b, true); }, "(x*c+y)%c -> y when 0 <= y < c"},
      {ints(x / C), fold_div, "x//c: split the sum, pull out multiples of c"},
      {ints(x % C), fold_mod, "x%c: split the sum, drop multiples of c"},
  };
}

}  // namespace mg::sym
