// The symbolic rule sets: the tables of symbolic_*.cpp joined in the order they are tried.
#include "rewrite/symbolic.h"

#include "rewrite/symbolic_util.h"

#include <unordered_set>

namespace mg {

namespace sym {
size_t graph_size(const UOpRef& u) { return u->toposort().size(); }

bool smaller(const UOpRef& cand, const UOpRef& root) {
  const std::vector<UOp*>& r = root->toposort();
  std::unordered_set<const UOp*> in_root(r.begin(), r.end());
  size_t root_inner = 0, cand_cost = 0;
  for (const UOp* u : r) root_inner += !u->src.empty();
  for (const UOp* u : cand->toposort()) cand_cost += !u->src.empty() || !in_root.count(u);
  return cand->toposort().size() < r.size() && cand_cost <= root_inner;
}
}  // namespace sym

namespace {
std::vector<Rule> join(std::initializer_list<std::vector<Rule>> tables) {
  std::vector<Rule> all;
  for (const std::vector<Rule>& t : tables) all.insert(all.end(), t.begin(), t.end());
  return all;
}
}  // namespace

const PatternMatcher& symbolic_simple() {
  static const PatternMatcher pm(join({sym::fold_rules(), sym::identity_rules()}));
  return pm;
}

const PatternMatcher& symbolic() {
  static const PatternMatcher pm(
      join({sym::fold_rules(), sym::identity_rules(), sym::range_rules(), sym::divmod_rules(), sym::assoc_rules()}));
  return pm;
}

// Parents first (bottom_up = true: a node, then its sources): a parent sees idioms such as
// (x//c)*c + x%c before the rules for x//c and x%c rewrite them into forms it no longer
// recognizes. The result is a fixed point either way; this way it is smaller.
UOpRef simplify(const UOpRef& x) { return graph_rewrite(x, symbolic(), nullptr, {.name = "symbolic", .bottom_up = true}); }

}  // namespace mg
