// The symbolic rule sets: the tables of symbolic_*.cpp joined in the order they are tried.
#include "rewrite/symbolic.h"

#include "rewrite/symbolic_util.h"

#include <cstdint>

namespace mg {

namespace sym {
namespace {
// A small set of nodes on the stack: open addressing over 256 slots.
class NodeSet {
 public:
  bool has(const UOp* u) const {
    for (size_t i = slot(u);; i = (i + 1) & 255) {
      if (!s_[i]) return false;
      if (s_[i] == u) return true;
    }
  }
  bool add(const UOp* u) {  // false when already there
    for (size_t i = slot(u);; i = (i + 1) & 255) {
      if (s_[i] == u) return false;
      if (!s_[i]) { s_[i] = u; return true; }
    }
  }

 private:
  static size_t slot(const UOp* u) { return size_t((uintptr_t(u) >> 4) * 0x9e3779b97f4a7c15ull >> 56); }
  const UOp* s_[256] = {};
};

// The region a rewrite can change is near the root: looking at most this many nodes deep keeps
// the check O(1) per rule, where whole-graph sizes made long chains quadratic. Anything past the
// budget counts against the candidate, so the check stays conservative.
constexpr size_t kRegion = 64;
}  // namespace

// cand may replace root when the nodes only cand has are fewer than the nodes only root has,
// and no more than root's inner ones among those (so it is no larger even if every leaf root
// drops stays in use elsewhere).
bool smaller(const UOpRef& cand, const UOpRef& root) {
  // root's region, breadth first
  NodeSet in_root;
  std::vector<const UOp*> region{root.get()};
  in_root.add(root.get());
  for (size_t i = 0; i < region.size() && region.size() < kRegion; i++)
    for (const UOpRef& s : region[i]->src)
      if (region.size() < kRegion && in_root.add(s.get())) region.push_back(s.get());
  // nodes only cand has (outside root's region); where cand meets the region, it shares it
  NodeSet seen, covered;
  std::vector<const UOp*> stack{cand.get()}, frontier;
  seen.add(cand.get());
  size_t added = 0;
  while (!stack.empty()) {
    const UOp* u = stack.back();
    stack.pop_back();
    if (in_root.has(u)) { frontier.push_back(u); continue; }
    if (++added >= kRegion) return false;
    for (const UOpRef& s : u->src)
      if (seen.add(s.get())) stack.push_back(s.get());
  }
  // what cand still reaches through the shared nodes (within the region)
  for (const UOp* f : frontier) covered.add(f);
  while (!frontier.empty()) {
    const UOp* u = frontier.back();
    frontier.pop_back();
    for (const UOpRef& s : u->src)
      if (in_root.has(s.get()) && covered.add(s.get())) frontier.push_back(s.get());
  }
  // nodes only root has: inside the region and not reached from cand (past the region: unknown,
  // so not counted)
  size_t dropped = 0, dropped_inner = 0;
  NodeSet visited;
  stack.assign(1, root.get());
  visited.add(root.get());
  while (!stack.empty()) {
    const UOp* u = stack.back();
    stack.pop_back();
    if (covered.has(u) || !in_root.has(u)) continue;
    dropped++;
    dropped_inner += !u->src.empty();
    for (const UOpRef& s : u->src)
      if (visited.add(s.get())) stack.push_back(s.get());
  }
  return added < dropped && added <= dropped_inner;
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
