// PatternMatcher: a table of rules (UPat -> callback), indexed by op.
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rewrite/pattern_program.h"
#include "rewrite/upat.h"

namespace mg {

struct Rule;

// What a rule's callback sees: the nodes its pattern bound, by name, and the rewrite's ctx.
// Names are slots (numbered when the rule is compiled): a lookup compares against the rule's few names.
class Bindings {
 public:
  UOpRef operator[](std::string_view name) const {  // a name the pattern does not bind is an error
    const int i = slot(name);
    if (i >= 0 && slots_[i]) return UOpRef(slots_[i]);
    unbound(name);
  }
  bool has(std::string_view name) const;
  UOp* root = nullptr;          // the node being rewritten
  void* ctx = nullptr;          // graph_rewrite's ctx argument
  const Rule* rule = nullptr;
  template <class T> T& ctx_as() const { return *static_cast<T*>(ctx); }

 private:
  friend struct MatchState;
  friend class PatternMatcher;
  int slot(std::string_view name) const;  // -1: not a name of the rule
  [[noreturn]] void unbound(std::string_view name) const;
  const std::string* names_ = nullptr;    // the rule's names, by slot
  const uint64_t* keys_ = nullptr;        // and their name_key
  size_t n_names_ = 0;
  // null: not bound (a name of an alternative not taken). Past the rule's names, and after a
  // failed attempt, they hold what earlier attempts left: each attempt binds its names anew.
  UOp* slots_[PatProgram::kMaxNames] = {};
};
using B = Bindings;

// Inline, comparing words: callbacks look names up often, and names are short (a literal's
// key is worked out when the callback is compiled).
inline int Bindings::slot(std::string_view name) const {
  const uint64_t key = name_key(name);
  for (size_t i = 0; i < n_names_; i++)
    if (keys_[i] == key && (key != kLongName || names_[i] == name)) return int(i);
  return -1;
}

using RuleFn = std::function<UOpRef(B&)>;
using RulePtr = UOpRef (*)(B&);  // a callback that is a plain function (most are): called directly

struct Rule {
  UPat pat;
  RuleFn fn;
  std::string name;          // given, or the pattern's text
  std::source_location loc;  // where the rule is written

  Rule(UPat p, RuleFn f, std::string n = "", std::source_location l = std::source_location::current());
  std::string where() const;  // "file.cpp:123"
};

struct Fired {
  UOpRef out;
  const Rule* rule = nullptr;
  explicit operator bool() const { return rule != nullptr; }
};

// Matching scratch: graph_rewrite keeps one, so matching a node allocates nothing.
struct MatchState {
  Bindings b;
  UOpRef result;

 private:
  friend class PatternMatcher;
  // Binds b and calls the rule when u (of an op the rule is listed under) matches; true: it fired.
  bool attempt(const Rule& r, RulePtr fn, const PatProgram& p, UOp* u);
  // The rule's callback, through fn_ when it is a plain function; true: it returned a new node.
  bool fire(UOp* root) {
    result = fn_ ? fn_(b) : b.rule->fn(b);
    return result && result.get() != root;
  }
  RulePtr fn_ = nullptr;
  bool match_flat(const PatProgram& p, UOp* u);
  // Patterns with alternatives or repeated named patterns: continuation passing, so a later
  // source's failure backtracks into the choices (permutations, alternatives) an earlier one made.
  const PatProgram* prog_ = nullptr;
  std::vector<std::pair<uint16_t, UOp*>> todo_;  // (pattern node, node) pairs still to match
  bool solve();
  bool match(const PatNode& p, UOp* u);
  bool matched_rest(const PatNode& p, UOp* u);
  void truncate(size_t n) { while (todo_.size() > n) todo_.pop_back(); }
};

class PatternMatcher {
 public:
  PatternMatcher(std::vector<Rule> rules);  // checks every rule; a malformed one is an error naming it
  PatternMatcher operator+(const PatternMatcher& other) const;

  // The first rule (in table order) whose pattern matches u and whose callback returns a new
  // node; {} when none does.
  Fired rewrite(UOp* u, void* ctx = nullptr) const;
  Fired rewrite(UOp* u, void* ctx, MatchState& scratch) const;
  size_t size() const { return rules_->size(); }
  const std::vector<Rule>& rules() const { return *rules_; }

 private:
  // The fields the early rejects read come first; aligned to a cache line, an entry is three
  // lines and is found by a shift.
  struct alignas(64) Entry {
    // the ops each source may have, for patterns with up to three sources
    enum class Srcs : uint8_t { Any, Ordered, Prefix, Permuted2, Every } srcs = Srcs::Any;
    uint8_t n_src = 0;
    bool has_src_checks = false;  // some src_value or src_pred is set, or twin
    bool has_src_needs = false;   // some src_needs is not empty
    // A name bound under both sources of a two-source root (x*c+x): the node's sources must
    // share a node, each side being the source itself or (deep) one of the source's sources.
    bool twin = false;
    bool twin_deep[2] = {};  // per pattern source
    // The pattern is its root's ops and lone_pred, and binds no name: once lone_pred passes,
    // the callback is all an attempt does.
    bool lone_nameless = false;
    // In a Dispatch2 cell, Permuted2: which ways round the sources' ops fit (1: as they are,
    // 2: swapped). Other kinds fit by their cell.
    uint8_t orient = 3;
    // The pattern is its root's ops and this plain predicate, nothing more: it is asked before
    // an attempt (the range rule's is asked of every integer node and nearly always fails).
    bool (*lone_pred)(const UOp&) = nullptr;
    OpSet src_ops[3];
    const double* src_value[3] = {};  // a source that must be a CONST of this value
    // or a CONST that passes this plain predicate (a test of its value, as cheap as the op test)
    bool (*src_pred[3])(const UOp&) = {};
    // Ops a source's own sources must include ((x+c1)+c2: the inner ADD needs a CONST), for
    // roots of two sources (Ordered or Permuted2).
    OpSet src_needs[2];
    OpSet needs_src_ops;  // early reject: ops the node's sources must include
    const Rule* rule = nullptr;
    const PatProgram* prog = nullptr;
    RulePtr fn = nullptr;  // rule->fn's target when that is a plain function
    bool src_needs_ok(const UOp* u) const;
    bool sources_may_match(const UOp* u) const;
    bool sources_may_match2(const UOp* u) const;  // the same, in a Dispatch2 cell: ops aside
    bool may_match_ops(Ops a, Ops b) const;  // a node of two sources of these ops (values aside)
  };
  // Nodes of two sources: the entries that may match, looked up once by the sources' ops. The
  // ops are grouped in classes that no entry tells apart (per op: the source op sets of its
  // entries), and each pair of classes lists its candidate entries in table order.
  struct Dispatch2 {
    // The cell of sources of ops a, b is row[a] + col[b]: col is the op's class, row its class * n_cls.
    uint16_t row[kNumOps] = {};
    uint8_t col[kNumOps] = {};
    std::vector<Entry> cand;           // the cells' entries, copied: a cell's lie side by side
    std::vector<const Entry*> cell;    // n_cls * n_cls + 1 bounds in cand
    Dispatch2() = default;
    Dispatch2(const Dispatch2&) = delete;  // cell points into cand
  };
  void index();
  static std::shared_ptr<const Dispatch2> make_dispatch2(const std::vector<Entry>& entries);
  static void find_twin(const PatProgram& p, Entry& e);
  std::shared_ptr<const std::vector<Rule>> rules_;
  std::shared_ptr<const std::vector<PatProgram>> progs_;  // rules_[i]'s pattern, compiled
  std::array<std::vector<Entry>, kNumOps> by_op_;
  std::array<std::shared_ptr<const Dispatch2>, kNumOps> by_op2_;  // null: none (no entries)
};

[[gnu::always_inline]] inline bool PatternMatcher::Entry::src_needs_ok(const UOp* u) const {
  auto has = [](const UOp* s, OpSet need) {
    if (need.empty()) return true;
    OpSet have;
    for (const UOpRef& x : s->src) have.add(x->op);
    return have.contains_all(need);
  };
  const UOp *a = u->src[0].get(), *b = u->src[1].get();
  return (has(a, src_needs[0]) && has(b, src_needs[1])) || (srcs == Srcs::Permuted2 && has(b, src_needs[0]) && has(a, src_needs[1]));
}

// Whether a (or, deep_a, one of a's sources) is b (or one of b's sources).
inline bool share_node(const UOp* a, bool deep_a, const UOp* b, bool deep_b) {
  if (deep_a && !deep_b) std::swap(a, b), std::swap(deep_a, deep_b);
  if (!deep_a) {
    if (!deep_b) return a == b;
    for (const UOpRef& y : b->src)
      if (y.get() == a) return true;
    return false;
  }
  for (const UOpRef& x : a->src)
    for (const UOpRef& y : b->src)
      if (x.get() == y.get()) return true;
  return false;
}

// Inline, forced: PatternMatcher::rewrite asks it of every rule listed under a node's op, and a call
// (saving registers) costs about what the test does.
[[gnu::always_inline]] inline bool PatternMatcher::Entry::sources_may_match(const UOp* u) const {
  const SrcList& src = u->src;
  auto ok = [&](size_t i, const UOp* s) {
    return src_ops[i].has(s->op) && (!src_value[i] || s->is_const(*src_value[i])) && (!src_pred[i] || src_pred[i](*s));
  };
  switch (srcs) {
    case Srcs::Any: return true;
    case Srcs::Ordered:
    case Srcs::Prefix:
      if (srcs == Srcs::Ordered ? src.size() != n_src : src.size() < n_src) return false;
      for (size_t i = 0; i < n_src; i++)
        if (!ok(i, src[i].get())) return false;
      return !twin || share_node(src[0].get(), twin_deep[0], src[1].get(), twin_deep[1]);  // twin: Ordered, two sources
    case Srcs::Permuted2: {
      if (src.size() != 2) return false;
      const UOp *a = src[0].get(), *b = src[1].get();
      if (!((ok(0, a) && ok(1, b)) || (ok(0, b) && ok(1, a)))) return false;
      // either source may take pattern source 0; the test is symmetric when both sides are alike
      return !twin || share_node(a, twin_deep[0], b, twin_deep[1]) ||
             (twin_deep[0] != twin_deep[1] && share_node(b, twin_deep[0], a, twin_deep[1]));
    }
    case Srcs::Every:
      for (const UOpRef& x : src)
        if (!ok(0, x.get())) return false;
      return true;
  }
  return true;
}

// For a node of two sources in a Dispatch2 cell, where the ops are known to fit (in the
// orientations `orient` lists), so only constant values, predicates and a twin are left.
[[gnu::always_inline]] inline bool PatternMatcher::Entry::sources_may_match2(const UOp* u) const {
  const UOp *a = u->src[0].get(), *b = u->src[1].get();
  auto ok = [&](size_t i, const UOp* s) { return (!src_value[i] || s->is_const(*src_value[i])) && (!src_pred[i] || src_pred[i](*s)); };
  switch (srcs) {
    case Srcs::Any: return true;
    case Srcs::Ordered:
    case Srcs::Prefix:
      return (n_src < 1 || ok(0, a)) && (n_src < 2 || ok(1, b)) && (!twin || share_node(a, twin_deep[0], b, twin_deep[1]));
    case Srcs::Permuted2:
      if (!(((orient & 1) && ok(0, a) && ok(1, b)) || ((orient & 2) && ok(0, b) && ok(1, a)))) return false;
      return !twin || share_node(a, twin_deep[0], b, twin_deep[1]) ||
             (twin_deep[0] != twin_deep[1] && share_node(b, twin_deep[0], a, twin_deep[1]));
    case Srcs::Every: return ok(0, a) && ok(0, b);
  }
  return true;
}

inline bool PatternMatcher::Entry::may_match_ops(Ops a, Ops b) const {
  OpSet have;
  have.add(a);
  have.add(b);
  if (!have.contains_all(needs_src_ops)) return false;
  switch (srcs) {
    case Srcs::Any: return true;
    case Srcs::Ordered:
    case Srcs::Prefix:
      if (srcs == Srcs::Ordered ? n_src != 2 : n_src > 2) return false;
      return (n_src < 1 || src_ops[0].has(a)) && (n_src < 2 || src_ops[1].has(b));
    case Srcs::Permuted2: return (src_ops[0].has(a) && src_ops[1].has(b)) || (src_ops[0].has(b) && src_ops[1].has(a));
    case Srcs::Every: return src_ops[0].has(a) && src_ops[0].has(b);
  }
  return true;
}

}  // namespace mg
