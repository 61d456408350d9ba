// The symbolic rule sets: the tables of symbolic_*.cpp joined in the order they are tried.
#include "rewrite/symbolic.h"

#include "rewrite/symbolic_util.h"

#include <algorithm>
#include <cstdint>

namespace mg {

namespace sym {
namespace {
// A small set of nodes on the stack: open addressing over N slots (a power of two), filled to
// at most 3/4 (full() says when; callers stop there).
template <size_t N>
class NodeSet {
 public:
  bool has(const UOp* u) const {
    for (size_t i = slot(u);; i = (i + 1) & (N - 1)) {
      if (!s_[i]) return false;
      if (s_[i] == u) return true;
    }
  }
  bool add(const UOp* u) {  // false when already there
    for (size_t i = slot(u);; i = (i + 1) & (N - 1)) {
      if (s_[i] == u) return false;
      if (!s_[i]) { s_[i] = u; n_++; return true; }
    }
  }
  bool full() const { return n_ >= N * 3 / 4; }

 private:
  static size_t slot(const UOp* u) { return size_t((uintptr_t(u) >> 4) * 0x9e3779b97f4a7c15ull >> 40) & (N - 1); }
  const UOp* s_[N] = {};
  size_t n_ = 0;
};

// The region a rewrite can change is near the root: looking at most this many nodes deep keeps
// the check O(1) per rule, where whole-graph sizes made long chains quadratic. Anything past the
// budget counts against the candidate, so the check stays conservative.
constexpr size_t kRegion = 64;
constexpr size_t kSeen = 256;  // cand's nodes looked at (a set of twice kRegion and their sources)

// root's region, breadth first: each node's position in it, found by one hash probe, so that
// what the walks learn about a region node (covered, visited) is a flag by position.
class Region {
 public:
  explicit Region(const UOp* root) {
    add(root);
    for (size_t i = 0; i < n_ && n_ < kRegion; i++)
      for (const UOpRef& s : node_[i]->src)
        if (n_ < kRegion) add(s.get());
  }
  int pos(const UOp* u) const {  // -1: outside the region
    for (size_t i = slot(u);; i = (i + 1) & (kSlots - 1)) {
      if (key_[i] == u) return pos_[i];
      if (!key_[i]) return -1;
    }
  }
  size_t size() const { return n_; }
  const UOp* node(size_t i) const { return node_[i]; }

 private:
  static constexpr size_t kSlots = 2 * kRegion;  // at most half full
  static size_t slot(const UOp* u) { return size_t((uintptr_t(u) >> 4) * 0x9e3779b97f4a7c15ull >> 40) & (kSlots - 1); }
  void add(const UOp* u) {
    for (size_t i = slot(u);; i = (i + 1) & (kSlots - 1)) {
      if (key_[i] == u) return;
      if (!key_[i]) { key_[i] = u; pos_[i] = uint8_t(n_); node_[n_++] = u; return; }
    }
  }
  const UOp* key_[kSlots] = {};
  uint8_t pos_[kSlots];
  const UOp* node_[kRegion];
  size_t n_ = 0;
};
}  // namespace

// cand may replace root when the nodes only cand has are fewer than the nodes only root has,
// and no more than root's inner ones among those (so it is no larger even if every leaf root
// drops stays in use elsewhere).
bool smaller(const UOpRef& cand, const UOpRef& root) {
  if (cand == root) return false;
  const Region region(root.get());
  // A node under root: all its nodes are root's, and root is not among them.
  if (region.pos(cand.get()) >= 0) return true;
  // nodes only cand has (outside root's region); where cand meets the region, it shares it.
  // Each node on the stack is in `seen`, which stops at 3/4 full.
  NodeSet<kSeen> seen;
  bool covered[kRegion] = {};  // by position: reached from cand
  const UOp* stack[kSeen];
  uint8_t frontier[kRegion];
  size_t top = 0, n_frontier = 0;
  stack[top++] = cand.get();
  seen.add(cand.get());
  size_t added = 0;
  while (top > 0) {
    const UOp* u = stack[--top];
    if (const int p = region.pos(u); p >= 0) {
      covered[p] = true;
      frontier[n_frontier++] = uint8_t(p);
      continue;
    }
    if (++added >= kRegion) return false;
    for (const UOpRef& s : u->src) {
      if (seen.full()) return false;  // nodes with many sources: too big to tell
      if (seen.add(s.get())) stack[top++] = s.get();
    }
  }
  // what cand still reaches through the shared nodes (within the region)
  while (n_frontier > 0) {
    const UOp* u = region.node(frontier[--n_frontier]);
    for (const UOpRef& s : u->src)
      if (const int p = region.pos(s.get()); p >= 0 && !covered[p]) {
        covered[p] = true;
        frontier[n_frontier++] = uint8_t(p);
      }
  }
  // nodes only root has: inside the region and not reached from cand (past the region: unknown,
  // so not counted)
  size_t dropped = 0, dropped_inner = 0;
  bool visited[kRegion] = {};
  uint8_t todo[kRegion];
  size_t n_todo = 0;
  todo[n_todo++] = 0;  // root
  visited[0] = true;
  while (n_todo > 0) {
    const int p = todo[--n_todo];
    if (covered[p]) continue;
    const UOp* u = region.node(size_t(p));
    dropped++;
    dropped_inner += !u->src.empty();
    for (const UOpRef& s : u->src)
      if (const int q = region.pos(s.get()); q >= 0 && !visited[q]) {
        visited[q] = true;
        todo[n_todo++] = uint8_t(q);
      }
  }
  return added < dropped && added <= dropped_inner;
}

// The same question for a sum and a candidate built from its linear form, counted without a
// region: root's nodes known here are those linearize looks through (inner), the constants it
// meets and its terms (with their constant sources); cand's nodes are walked until they meet
// one of them. Counted over the whole graph: a node cand has that is not known here counts as
// added (it may be root's, deeper), and a node of root counts as dropped only if cand cannot
// reach it: not met by the walk, not under a node met, and made after every term that has
// sources (a node under a term was made before the term). false: not shown.
bool smaller_sum(const UOpRef& cand, const UOpRef& root, const SumNodes& nodes, std::span<const UOpRef> terms) {
  if (cand == root || !nodes.all) return false;
  constexpr size_t kMax = 128;  // cand's walk
  NodeSet<256> known;  // root's nodes named above
  auto know = [&](const UOp* u) { known.add(u); return !known.full(); };
  for (size_t i = 0; i < nodes.n_inner; i++)
    if (!know(nodes.inner[i])) return false;
  for (size_t i = 0; i < nodes.n_consts; i++)
    if (!know(nodes.consts[i])) return false;
  uint64_t term_id = 0;  // the largest id of a term with sources
  for (const UOpRef& t : terms) {
    if (!t || !know(t.get())) return false;
    if (!t->src.empty()) term_id = std::max(term_id, t->id);
    for (const UOpRef& s : t->src)
      if (s->is_const() && !know(s.get())) return false;
  }
  const UOp* stack[kMax];
  size_t top = 0;
  // cand's nodes not known (added), and the known ones it reaches (kept, with what lies under them)
  NodeSet<128> seen;
  NodeSet<256> kept;  // (known nodes only: never full)
  const UOp* todo[256];  // kept inner nodes whose sources are not yet kept (at most all known ones)
  size_t added = 0, n_todo = 0;
  stack[top++] = cand.get();
  while (top > 0) {
    const UOp* u = stack[--top];
    if (!seen.add(u)) continue;
    if (seen.full()) return false;
    if (known.has(u)) {
      if (kept.add(u) && is_sum_op(u)) todo[n_todo++] = u;
      continue;
    }
    if (++added >= kMax / 2) return false;
    for (const UOpRef& s : u->src) {
      if (top == kMax) return false;
      stack[top++] = s.get();
    }
  }
  // under a kept inner node, its known sources are kept too (a term that is a sum op is taken
  // for an inner node: that keeps more, which only errs toward "not shown")
  while (n_todo > 0)
    for (const UOpRef& s : todo[--n_todo]->src)
      if (known.has(s.get()) && kept.add(s.get()) && is_sum_op(s.get())) todo[n_todo++] = s.get();
  size_t dropped_inner = 0, dropped = 0;
  for (size_t i = 0; i < nodes.n_inner; i++) dropped_inner += !kept.has(nodes.inner[i]) && nodes.inner[i]->id > term_id;
  for (size_t i = 0; i < nodes.n_consts; i++)  // (each once: a counted one is marked kept)
    dropped += nodes.consts[i]->id > term_id && kept.add(nodes.consts[i]);
  dropped += dropped_inner;
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
