// Ring rules for integers and index: constants combine and move outward, like terms merge,
// negations cancel. Integer ADD, SUB, MUL and NEG wrap around modulo 2^bits, and every rule
// here is an identity of that ring, so none needs value ranges or a no-wrap check. Floats
// are never re-associated (rounding); bool arithmetic is not a ring (true+true is true).
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// c1 op c2 (bound names): inline, so each name lookup compares against a literal of known length
inline UOpRef k(Ops op, B& b, std::string_view c1, std::string_view c2) { return fold_consts(op, b[c1], b[c2]); }
// x op cst (cst: c1 cop c2, nullptr if undefined), made directly in the root's dtype: what
// keep(b, alu(op, {x, cst})) gives, without a node that keep would drop
UOpRef with_const(B& b, Ops op, UOpRef x, UOpRef cst) {
  if (!cst || x->dtype != b.root->dtype) return nullptr;
  UOpTable* t = x->table;
  const DType dt = x->dtype;
  return t->make(op, dt, {std::move(x), std::move(cst)});
}
UOpRef add_c1c2(B& b) { return with_const(b, Ops::ADD, b["x"], k(Ops::ADD, b, "c1", "c2")); }
UOpRef mul_c1c2(B& b) { return with_const(b, Ops::MUL, b["x"], k(Ops::MUL, b, "c1", "c2")); }
UOpRef add_c2_minus_c1(B& b) { return with_const(b, Ops::ADD, b["x"], k(Ops::SUB, b, "c2", "c1")); }
UOpRef add_c1_minus_c2(B& b) { return with_const(b, Ops::ADD, b["x"], k(Ops::SUB, b, "c1", "c2")); }
UOpRef sub_c1c2(B& b) { return with_const(b, Ops::SUB, b["x"], k(Ops::ADD, b, "c1", "c2")); }
UOpRef c1c2_sub_x(B& b) { UOpRef s = k(Ops::ADD, b, "c1", "c2"); return s ? keep(b, s - b["x"]) : nullptr; }
UOpRef c1_minus_c2_sub_x(B& b) { UOpRef s = k(Ops::SUB, b, "c1", "c2"); return s ? keep(b, s - b["x"]) : nullptr; }
UOpRef x_plus_c1_minus_c2(B& b) { return with_const(b, Ops::ADD, b["x"], k(Ops::SUB, b, "c1", "c2")); }
UOpRef neg_const(const UOpRef& c) { return fold_consts(Ops::SUB, const_like(c, int64_t(0)), c); }
UOpRef neg_c_sub_x(B& b) { UOpRef n = neg_const(b["c"]); return n ? keep(b, n - b["x"]) : nullptr; }
UOpRef mul_x(B& b, const UOpRef& coef) { return coef ? keep(b, b["x"] * coef) : nullptr; }
UOpRef merge_add(B& b) { return mul_x(b, k(Ops::ADD, b, "c1", "c2")); }
UOpRef merge_sub(B& b) { return mul_x(b, k(Ops::SUB, b, "c1", "c2")); }
UOpRef merge_plus_one(B& b) { return mul_x(b, fold_consts(Ops::ADD, b["c"], const_like(b["c"], int64_t(1)))); }
UOpRef merge_minus_one(B& b) { return mul_x(b, fold_consts(Ops::SUB, b["c"], const_like(b["c"], int64_t(1)))); }
UOpRef merge_one_minus(B& b) { return mul_x(b, fold_consts(Ops::SUB, const_like(b["c"], int64_t(1)), b["c"])); }
UOpRef mul_neg_c(B& b) { return mul_x(b, neg_const(b["c"])); }
UOpRef ret_x(B& b) { return keep(b, b["x"]); }
UOpRef ret_y(B& b) { return keep(b, b["y"]); }
UOpRef neg_y(B& b) { return keep(b, -b["y"]); }
UOpRef neg_x(B& b) { return keep(b, -b["x"]); }
UOpRef x_sub_y(B& b) { return keep(b, b["x"] - b["y"]); }
UOpRef x_add_y(B& b) { return keep(b, b["x"] + b["y"]); }
}  // namespace

std::vector<Rule> assoc_rules() {
  const UPat x = var("x"), c1 = cvar("c1"), c2 = cvar("c2"), C = cvar("c");
  // Every rule here makes the graph smaller where it applies. Same-size rewrites such as
  // (x+c)+y -> (x+y)+c are left out on purpose: they add a node whenever the inner node they
  // bypass is shared (docs/symbolic.md). The linear sum rule combines such constants when
  // that shrinks the sum, and the comparison rules look through sums for their constant.
  return {
      // constants combine
      {ints((x + c1) + c2), add_c1c2, "(x+c1)+c2 -> x+(c1+c2)"},
      {ints((x * c1) * c2), mul_c1c2, "(x*c1)*c2 -> x*(c1*c2)"},
      {ints((x - c1) + c2), add_c2_minus_c1, "(x-c1)+c2 -> x+(c2-c1)"},
      {ints((x + c1) - c2), add_c1_minus_c2, "(x+c1)-c2 -> x+(c1-c2)"},
      {ints((x - c1) - c2), sub_c1c2, "(x-c1)-c2 -> x-(c1+c2)"},
      {ints((c1 - x) + c2), c1c2_sub_x, "(c1-x)+c2 -> (c1+c2)-x"},
      {ints(c1 - (x + c2)), c1_minus_c2_sub_x, "c1-(x+c2) -> (c1-c2)-x"},
      {ints(c1 - (c2 - x)), x_plus_c1_minus_c2, "c1-(c2-x) -> x+(c1-c2)"},
      {ints(-(x + C)), neg_c_sub_x, "-(x+c) -> (-c)-x"},
      // like terms merge
      {ints(x * c1 + x * c2), merge_add, "x*c1+x*c2 -> x*(c1+c2)"},
      {ints(x * c1 - x * c2), merge_sub, "x*c1-x*c2 -> x*(c1-c2)"},
      {ints(x * C + x), merge_plus_one, "x*c+x -> x*(c+1)"},
      {ints(x * C - x), merge_minus_one, "x*c-x -> x*(c-1)"},
      {ints(x - x * C), merge_one_minus, "x-x*c -> x*(1-c)"},
      // terms cancel
      {ints((x + var("y")) - var("y")), ret_x, "(x+y)-y -> x"},
      {ints((x - var("y")) + var("y")), ret_x, "(x-y)+y -> x"},
      {ints(x - (x - var("y"))), ret_y, "x-(x-y) -> y"},
      {ints((x - var("y")) - x), neg_y, "(x-y)-x -> -y"},
      {ints(x - (x + var("y"))), neg_y, "x-(x+y) -> -y"},
      // negation
      {ints(x + (-var("y"))), x_sub_y, "x+(-y) -> x-y"},
      {ints(x - (-var("y"))), x_add_y, "x-(-y) -> x+y"},
      {ints(-(var("y") - x)), x_sub_y, "-(y-x) -> x-y"},
      {ints(x * -1), neg_x, "x*-1 -> -x"},
      {ints(-(x * C)), mul_neg_c, "-(x*c) -> x*(-c)"},
      {ints((-x) * C), mul_neg_c, "(-x)*c -> x*(-c)"},
      // any sum: rebuilt from sum(coef*term) + k when that is smaller
      {ints(UPat(OpSet{Ops::ADD, Ops::SUB, Ops::NEG})), fold_sum, "linear sum: merge like terms and constants"},
  };
}

}  // namespace mg::sym
