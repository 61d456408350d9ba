// The symbolic rule sets: the tables of symbolic_*.cpp joined in the order they are tried.
#include "rewrite/symbolic.h"

#include "rewrite/symbolic_util.h"

#include <algorithm>
#include <cstdint>

namespace mg {

namespace sym {
namespace {
// The region a rewrite can change is near the root: looking at most this many nodes deep keeps
// the check O(1) per rule, where whole-graph sizes made long chains quadratic. Anything past the
// budget counts against the candidate, so the check stays conservative.
constexpr size_t kRegion = 64;
constexpr size_t kSeen = 256;  // cand's nodes looked at (twice kRegion and their sources)
constexpr size_t kSeenMax = kSeen * 3 / 4;  // past this many, cand is too big to tell
}  // namespace

// cand may replace root when the nodes only cand has are fewer than the nodes only root has,
// and no more than root's inner ones among those (so it is no larger even if every leaf root
// drops stays in use elsewhere). The walks' sets are flags on the nodes (NodeMarks).
bool smaller(const UOpRef& cand, const UOpRef& root) {
  if (cand == root) return false;
  enum : uint16_t { kIn = 1, kCovered = 2, kSeenFlag = 8 };
  NodeMarks m(*root->table);
  // root's region, breadth first (a node marked here has kIn alone so far)
  const UOp* region[kRegion];
  size_t n_region = 1;
  region[0] = root.get();
  m.set(root.get(), kIn);
  for (size_t i = 0; i < n_region && n_region < kRegion; i++)
    for (const UOpRef& s : region[i]->src) {
      const UOp* x = s.get();
      if (m.is(x, kIn, kIn)) continue;
      m.set(x, kIn);
      region[n_region++] = x;
      if (n_region == kRegion) break;
    }
  // A node under root: all its nodes are root's, and root is not among them.
  if (m.is(cand.get(), kIn, kIn)) return true;
  // nodes only cand has (outside root's region); where cand meets the region, it shares it
  const UOp* stack[kSeen];
  const UOp* frontier[kRegion];  // region nodes reached from cand (covered), sources not yet looked at
  size_t top = 0, n_frontier = 0, n_seen = 1, added = 0, n_covered = 0;
  stack[top++] = cand.get();
  m.add(cand.get(), kSeenFlag);
  while (top > 0) {
    const UOp* u = stack[--top];
    if (m.is(u, kIn, kIn)) {  // (each node is pushed once: not covered yet)
      m.set(u, kIn | kSeenFlag | kCovered);
      frontier[n_frontier++] = u;
      n_covered++;
      continue;
    }
    if (++added >= kRegion) return false;
    for (const UOpRef& s : u->src) {
      if (n_seen >= kSeenMax) return false;  // nodes with many sources: too big to tell
      const UOp* x = s.get();
      if (m.add(x, kSeenFlag)) {
        n_seen++;
        stack[top++] = x;
      }
    }
  }
  // what cand still reaches through the shared nodes (within the region; a region node not
  // covered yet was not met by cand's walk, so it has kIn alone)
  while (n_frontier > 0)
    for (const UOpRef& s : frontier[--n_frontier]->src) {
      const UOp* x = s.get();
      if (!m.is(x, kIn | kCovered, kIn)) continue;
      m.set(x, kIn | kCovered);
      frontier[n_frontier++] = x;
      n_covered++;
    }
  // nodes only root has: inside the region and not reached from cand (past the region: unknown,
  // so not counted). Covering spreads along every edge inside the region and each region node
  // hangs from root by one, so these are the region's nodes not covered (none if root is).
  const size_t dropped = n_region - n_covered;
  if (added >= dropped) return false;
  size_t dropped_inner = 0;
  for (size_t i = 0; i < n_region && dropped_inner < added; i++)
    dropped_inner += !region[i]->src.empty() && !m.is(region[i], kCovered, kCovered);
  return added <= dropped_inner;
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
  constexpr size_t kMax = 128;      // cand's walk
  constexpr size_t kKnownMax = 192;  // root's nodes named above: past this many, not shown
  // (kInner: one of nodes.inner, which root drops unless cand keeps it; those made after term_id
  // are counted as they are marked, and as they get kept, instead of in a pass at the end)
  enum : uint16_t { kKnown = 1, kSeenFlag = 2, kKept = 4, kInner = 8 };
  NodeMarks m(*root->table);
  // (n_known only grows: checked once after all are marked, the answer is the same)
  size_t n_known = 0;
  auto know = [&](const UOp* u) {  // (a node marked so far has kKnown alone, or with kInner)
    n_known += !m.is(u, kKnown, kKnown);
    m.set(u, kKnown);
  };
  const size_t n_inner = nodes.n_inner, n_consts = nodes.n_consts;  // (held: a mark stored could alias them)
  uint64_t term_id = 0;  // the largest id of a term with sources
  for (const UOpRef& t : terms) {
    if (!t) return false;
    know(t.get());
    if (!t->src.empty()) term_id = std::max(term_id, t->id);
    for (const UOpRef& s : t->src)
      if (s->is_const()) know(s.get());
  }
  // The inner nodes are distinct, and none is a term or a constant (a sum op under root is
  // looked through or taken as a term by what it is, the same way everywhere).
  size_t late_inner = 0, kept_late = 0;  // inner nodes made after term_id; of them, kept
  for (size_t i = 0; i < n_inner; i++) {
    m.set(nodes.inner[i], kKnown | kInner);
    late_inner += nodes.inner[i]->id > term_id;
  }
  n_known += n_inner;
  for (size_t i = 0; i < n_consts; i++) know(nodes.consts[i]);
  if (n_known >= kKnownMax) return false;
  const UOp* stack[kMax];
  size_t top = 0;
  // cand's nodes not known (added), and the known ones it reaches (kept, with what lies under
  // them). Only this walk keeps nodes so far, and only nodes it sees: a node not yet seen is
  // known or not, nothing else.
  const UOp* todo[kKnownMax];  // kept inner nodes whose sources are not yet kept (at most all known ones)
  size_t added = 0, n_todo = 0, n_seen = 0;
  stack[top++] = cand.get();
  while (top > 0) {
    const UOp* u = stack[--top];
    const uint16_t f = m.flags(u);
    if (f & kSeenFlag) continue;
    if (++n_seen >= kMax * 3 / 4) return false;
    if (f & kKnown) {
      m.set(u, f | kSeenFlag | kKept);
      if (u->id > term_id) {
        kept_late += (f & kInner) != 0;
        if (is_sum_op(u)) todo[n_todo++] = u;
      }
      continue;
    }
    m.set(u, kSeenFlag);
    if (++added >= kMax / 2) return false;
    for (const UOpRef& s : u->src) {
      if (top == kMax) return false;
      stack[top++] = s.get();
    }
  }
  // under a kept inner node, its known sources are kept too (a term that is a sum op is taken
  // for an inner node: that keeps more, which only errs toward "not shown"). A known node not
  // kept was not seen: it has kKnown alone, or with kInner. Only nodes made after term_id are
  // counted below, and what lies under a node was made before it: the spreading stops at the
  // others.
  while (n_todo > 0)
    for (const UOpRef& s : todo[--n_todo]->src) {
      const UOp* x = s.get();
      if (x->id <= term_id) continue;
      const uint16_t f = m.flags(x);
      if ((f & (kKnown | kKept)) != kKnown) continue;
      m.set(x, f | kKept);
      kept_late += (f & kInner) != 0;
      if (is_sum_op(x)) todo[n_todo++] = x;
    }
  const size_t dropped_inner = late_inner - kept_late;
  if (added > dropped_inner) return false;
  // added < dropped: the constants dropped, each once (a counted one is marked kept), until
  // there are enough
  size_t dropped = dropped_inner;
  for (size_t i = 0; i < n_consts && dropped <= added; i++) {
    const UOp* c = nodes.consts[i];
    if (c->id <= term_id || m.has(c, kKept)) continue;
    m.set(c, kKnown | kKept);  // (known, not kept: not seen either)
    dropped++;
  }
  return added < dropped;
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
