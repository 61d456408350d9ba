// Integer sums as linear forms: sum(coef * term) + k. The division rules read the dividend
// this way, and the sum rule rebuilds a sum from it when that makes the graph smaller,
// which merges like terms and constants however the sum is associated.
#include "rewrite/symbolic_util.h"

namespace mg::sym {

bool linearize(const UOpRef& x, Linear& out) {
  std::vector<std::pair<UOp*, i128>> stack{{x.get(), 1}};
  for (int visited = 0; !stack.empty(); visited++) {
    auto [u, s] = stack.back();
    stack.pop_back();
    if (visited > 64 || !small(s)) return false;
    const std::vector<UOpRef>& src = u->src;
    if (u->op == Ops::ADD) { stack.push_back({src[1].get(), s}); stack.push_back({src[0].get(), s}); }
    else if (u->op == Ops::SUB) { stack.push_back({src[1].get(), -s}); stack.push_back({src[0].get(), s}); }
    else if (u->op == Ops::NEG) stack.push_back({src[0].get(), -s});
    else if (u->op == Ops::MUL && src[1]->is_const()) stack.push_back({src[0].get(), s * cval(src[1])});
    else if (u->op == Ops::MUL && src[0]->is_const()) stack.push_back({src[1].get(), s * cval(src[0])});
    else if (u->op == Ops::CONST) { out.k += s * cval(*u); if (!small(out.k)) return false; }
    else {
      size_t i = 0;
      while (i < out.v.size() && out.v[i].get() != u) i++;
      if (i == out.v.size()) { out.v.push_back(UOpRef(u)); out.coef.push_back(0); }
      out.coef[i] += s;
    }
  }
  for (i128 c : out.coef)
    if (!small(c)) return false;
  return true;
}

UOpRef build(const UOp* like, const Linear& l, const std::vector<i128>& coef, i128 k) {
  UOpRef acc;
  for (size_t i = 0; i < l.v.size(); i++) {
    if (coef[i] == 0) continue;
    UOpRef t = l.v[i];
    if (coef[i] == -1) t = -t;
    else if (coef[i] != 1) {
      UOpRef c = int_const(like, coef[i]);
      if (!c) return nullptr;
      t = t * c;
    }
    acc = acc ? acc + t : t;
  }
  if (k == 0 && acc) return acc;
  UOpRef kc = int_const(like, k);
  if (!kc) return nullptr;
  return acc ? acc + kc : kc;
}

UOpRef fold_sum(B& b) {
  const UOpRef root(const_cast<UOp*>(b.root));
  Linear l;
  if (!linearize(root, l)) return nullptr;
  // In the ring, coefficients and the constant may be taken modulo 2^bits: bring them into the
  // dtype's range (int8: 300*x is 44*x).
  const DType dt = root->dtype;
  auto wrap = [&](i128 v) { return const_as_int(dt.scalar, make_const(dt, v)); };
  for (i128& c : l.coef) c = wrap(c);
  UOpRef cand = build(root.get(), l, l.coef, wrap(l.k));
  return cand && graph_size(cand) < graph_size(root) ? cand : nullptr;
}

}  // namespace mg::sym
