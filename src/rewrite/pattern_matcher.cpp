#include "rewrite/pattern_matcher.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "uop/error.h"

namespace mg {

namespace {
[[noreturn]] void rule_error(const Rule& r, const std::string& why) {
  fail(ErrorKind::Invalid, "rule '" + r.name + "' (" + r.where() + "): " + why);
}

// Malformed patterns are rejected when the table is built, not when they fail to match.
void check_pattern(const Rule& r, const UPat& p, std::map<std::string, OpSet>& names) {
  const UPatNode& n = p.node();
  if (!n.any_op && n.ops.empty()) rule_error(r, "a pattern matches no op");
  if (n.value && (n.any_op || !(n.ops == OpSet{Ops::CONST}))) rule_error(r, "a constant value on a pattern that is not CONST");
  if (n.src_kind == UPatNode::Src::Repeat && n.src.size() != 1) rule_error(r, "a repeated source needs exactly one pattern");
  if (n.src_kind == UPatNode::Src::Permuted && n.src.size() > 5) rule_error(r, "more than 5 permuted sources");
  if (n.is_any && n.alts.empty()) rule_error(r, "UPat::any with no alternatives matches nothing");
  if (n.is_any && (!n.any_op || n.src_kind != UPatNode::Src::Any)) rule_error(r, "UPat::any takes no op or sources of its own");
  if (!n.name.empty() && !n.any_op) {
    auto [it, fresh] = names.emplace(n.name, n.ops);
    if (!fresh && !(it->second.lo & n.ops.lo) && !(it->second.hi & n.ops.hi))
      rule_error(r, "name '" + n.name + "' is bound to patterns of different ops, so it can never match");
  }
  for (const UPat& s : n.src) check_pattern(r, s, names);
  for (const UPat& a : n.alts) {  // alternatives exclude each other: each may reuse a name its own way
    std::map<std::string, OpSet> alt_names = names;
    check_pattern(r, a, alt_names);
  }
}

// The ops a node matching n may have.
OpSet pattern_ops(const UPatNode& n) {
  if (!n.is_any) return n.any_op ? OpSet::all() : n.ops;
  OpSet out;
  for (const UPat& a : n.alts) out = out | (a.node().is_any ? OpSet::all() : pattern_ops(a.node()));
  return out;
}

OpSet required_src_ops(const UPatNode& n) {
  OpSet need;
  if (n.src_kind == UPatNode::Src::Any || n.src_kind == UPatNode::Src::Repeat) return need;
  for (const UPat& s : n.src)
    if (!s.node().any_op && s.node().ops.count() == 1) need = need | s.node().ops;
  return need;
}
}  // namespace

// ---- bindings ----
void Bindings::unbound(std::string_view name) const {
  fail(ErrorKind::Invalid, "rule '" + (rule ? rule->name : std::string("?")) + "' (" + (rule ? rule->where() : "") +
                               "): asked for '" + std::string(name) + "', which its pattern does not bind");
}
bool Bindings::has(std::string_view name) const {
  const int i = slot(name);
  return i >= 0 && slots_[i];
}

Rule::Rule(UPat p, RuleFn f, std::string n, std::source_location l)
    : pat(std::move(p)), fn(std::move(f)), name(std::move(n)), loc(l) {
  if (name.empty()) name = pat.str();
  // In a braced table the default location is the table's closing line; the pattern knows its own.
  const std::source_location& pl = pat.node().loc;
  if (pl.line() > 0 && std::string_view(pl.file_name()) == loc.file_name()) loc = pl;
}
std::string Rule::where() const {
  std::string f = loc.file_name();
  while (f.starts_with("../") || f.starts_with("./")) f = f.substr(f.find('/') + 1);  // built from build/
  return f + ":" + std::to_string(loc.line());
}

// ---- matching ----
namespace {
bool dtype_ok(const PatNode& q, const DType& dt) {
  if ((q.scalars >> int(dt.scalar)) & 1) return true;  // dt or its scalar is listed as a scalar
  if (!q.other_dtypes) return false;
  const std::vector<DType>& l = q.pat->dtypes;
  return std::find(l.begin(), l.end(), dt) != l.end();
}

// The checks of q on u itself (not its sources nor its name) beyond its op.
bool other_checks_ok(const PatNode& q, const UOp* u) {
  if ((q.checks & PatNode::kDtype) && !dtype_ok(q, u->dtype)) return false;
  if ((q.checks & PatNode::kValue) && !u->is_const(q.value)) return false;
  if ((q.checks & PatNode::kArg) && !arg_equal(*q.pat->arg, u->arg)) return false;
  if ((q.checks & PatNode::kArgPred) && !q.pat->arg_pred(u->arg)) return false;
  if ((q.checks & PatNode::kPredFn) && !q.pred_fn(*u)) return false;
  if ((q.checks & PatNode::kPred) && !q.pat->pred(*u)) return false;
  return true;
}
// A node's checks beyond its op; a lone plain-function predicate (the usual case) is called directly.
[[gnu::always_inline]] inline bool checks_ok(const PatNode& q, const UOp* u) {
  if (!q.checks) return true;
  return q.checks == PatNode::kPredFn ? q.pred_fn(*u) : other_checks_ok(q, u);
}
[[gnu::always_inline]] inline bool own_ok(const PatNode& q, const UOp* u) { return q.ops.has(u->op) && checks_ok(q, u); }
}  // namespace

bool MatchState::attempt(const Rule& r, RulePtr fn, const PatProgram& p, UOp* u) {
  b.rule = &r;
  fn_ = fn;
  b.names_ = p.names.data();
  b.keys_ = p.name_keys;
  b.n_names_ = p.names.size();
  if (p.flat) return match_flat(p, u);  // it binds every name, whatever the slots held
  for (size_t i = 0; i < b.n_names_; i++) b.slots_[i] = nullptr;  // the general matcher binds a null slot
  prog_ = &p;
  todo_.clear();
  return match(p.nodes[0], u);
}

// The pattern's nodes in preorder, each matched against the source its parent (and the
// parent's permutation) picks. A failure, or a callback returning nothing, backtracks to the
// latest permuted node and tries its next permutation: the order continuation passing gives.
// A name is bound by its first node in preorder, which every pass through the later nodes
// meets first, so nothing is unbound on the way back (nor cleared before).
[[gnu::always_inline]] inline bool MatchState::match_flat(const PatProgram& p, UOp* root) {
  constexpr size_t N = PatProgram::kMaxFlat;
  UOp* at[N];           // the node each pattern node matched
  uint8_t perm[N][5];   // permuted nodes: which source each pattern source takes
  uint16_t choice[N];   // the permuted nodes matched, in order
  size_t n_choice = 0;
  const size_t n = p.n_flat;
  const PatNode* nodes = p.nodes.data();
  UOp** slots = b.slots_;
  // Node s's sources, repeated leaves and name; then its sources are the next nodes'.
  auto enter = [&](const PatNode& q, UOp* u, size_t s) __attribute__((always_inline)) {
    if (q.kind != UPatNode::Src::Any) {
      const size_t ns = u->src.size();
      if (size_t(ns - q.min_src) > size_t(q.src_span)) return false;
      if (q.kind == UPatNode::Src::Repeat) {
        const PatNode& leaf = nodes[p.kids[q.kids]];
        for (size_t i = 0; i < ns; i++)
          if (!own_ok(leaf, u->src[i].get())) return false;
      }
    }
    if (q.slot >= 0) {
      if (!q.bound_before) slots[q.slot] = u;
      else if (slots[q.slot] != u) return false;
    }
    at[s] = u;
    if (q.choice) {
      perm[s][0] = 0;
      perm[s][1] = 1;
      for (uint8_t i = 2; i < q.n_src; i++) perm[s][i] = i;
      choice[n_choice++] = uint16_t(s);
    }
    return true;
  };
  // The root's op is one its rule is listed under; the root is never come back to.
  if (!checks_ok(nodes[0], root) || !enter(nodes[0], root, 0)) return false;
  size_t s = 1;
  for (;;) {
    for (; s < n; s++) {
      const PatNode& q = nodes[s];
      UOp* u = at[q.parent]->src[q.parent_permuted ? perm[q.parent][q.pos] : q.pos].get();
      if (!own_ok(q, u) || !enter(q, u, s)) break;
    }
    if (s == n && fire(root)) return true;
    // nodes [0, s) matched and node s did not (or the callback declined)
    for (;;) {
      if (n_choice == 0) return false;
      const size_t j = choice[n_choice - 1];
      uint8_t* pj = perm[j];
      const bool more = nodes[j].n_src == 2 ? pj[0] == 0 && (pj[0] = 1, pj[1] = 0, true) : std::next_permutation(pj, pj + nodes[j].n_src);
      if (more) { s = j + 1; break; }
      n_choice--;
    }
  }
}

bool MatchState::solve() {
  if (todo_.empty()) return fire(b.root);
  auto pr = todo_.back();
  todo_.pop_back();
  if (match(prog_->nodes[pr.first], pr.second)) return true;
  todo_.push_back(pr);
  return false;
}

bool MatchState::match(const PatNode& q, UOp* u) {
  if (!own_ok(q, u)) return false;
  bool fresh = false;
  if (q.slot >= 0) {
    UOp*& bound = b.slots_[q.slot];
    if (!bound) { bound = u; fresh = true; }
    else if (bound != u) return false;
  }
  if (matched_rest(q, u)) return true;
  if (fresh) b.slots_[q.slot] = nullptr;
  return false;
}

bool MatchState::matched_rest(const PatNode& q, UOp* u) {
  const uint16_t* kids = prog_->kids.data();
  if (q.n_alts) {
    for (size_t i = 0; i < q.n_alts; i++)
      if (match(prog_->nodes[kids[q.alts + i]], u)) return true;
    return false;
  }
  const size_t n = q.n_src, base = todo_.size();
  switch (q.kind) {
    case UPatNode::Src::Any: return solve();
    case UPatNode::Src::Ordered:
    case UPatNode::Src::Prefix:
      if (q.kind == UPatNode::Src::Ordered ? u->src.size() != n : u->src.size() < n) return false;
      for (size_t i = n; i-- > 0;) todo_.push_back({kids[q.kids + i], u->src[i].get()});
      break;
    case UPatNode::Src::Repeat:
      for (size_t i = u->src.size(); i-- > 0;) todo_.push_back({kids[q.kids], u->src[i].get()});
      break;
    case UPatNode::Src::Permuted: {
      if (u->src.size() != n) return false;
      size_t perm[5];
      std::iota(perm, perm + n, 0);
      do {
        for (size_t i = n; i-- > 0;) todo_.push_back({kids[q.kids + i], u->src[perm[i]].get()});
        if (solve()) return true;
        truncate(base);
      } while (std::next_permutation(perm, perm + n));
      return false;
    }
  }
  if (solve()) return true;
  truncate(base);
  return false;
}

// ---- the matcher ----
PatternMatcher::PatternMatcher(std::vector<Rule> rules) {
  for (const Rule& r : rules) {
    if (!r.fn) rule_error(r, "no callback");
    std::map<std::string, OpSet> names;
    check_pattern(r, r.pat, names);
  }
  auto progs = std::make_shared<std::vector<PatProgram>>(rules.size());
  for (size_t i = 0; i < rules.size(); i++)
    if (std::string why = compile_pattern(rules[i].pat, (*progs)[i]); !why.empty()) rule_error(rules[i], why);
  rules_ = std::make_shared<const std::vector<Rule>>(std::move(rules));
  progs_ = std::move(progs);
  index();
}

// A name bound under each of a two-source root's sources, as the source or one of its sources.
void PatternMatcher::find_twin(const PatProgram& p, Entry& e) {
  const PatNode& root = p.nodes[0];
  if (!p.flat || root.n_src != 2 || (root.kind != UPatNode::Src::Ordered && root.kind != UPatNode::Src::Permuted)) return;
  int side_of[PatProgram::kMaxNames][2];  // per slot and side: -1 none, 0 the source, 1 a source of it
  for (auto& s : side_of) s[0] = s[1] = -1;
  for (size_t i = 1; i < p.n_flat; i++) {  // the flat nodes: no alternatives, so every name is bound
    const PatNode& q = p.nodes[i];
    if (q.slot < 0) continue;
    int side = -1, deep = 0;
    if (q.parent == 0) side = q.pos;
    else if (p.nodes[q.parent].parent == 0) side = p.nodes[q.parent].pos, deep = 1;
    if (side < 0) continue;
    int& d = side_of[q.slot][side];
    if (d < 0 || deep < d) d = deep;  // the source itself is the narrower test
    if (side_of[q.slot][0] >= 0 && side_of[q.slot][1] >= 0) {
      e.twin = true;
      e.twin_deep[0] = side_of[q.slot][0];
      e.twin_deep[1] = side_of[q.slot][1];
      e.has_src_checks = true;
      return;
    }
  }
}

void PatternMatcher::index() {
  for (size_t ri = 0; ri < rules_->size(); ri++) {
    const Rule& r = (*rules_)[ri];
    const UPatNode& n = r.pat.node();
    // A rule lists under every op its pattern can match; patterns of alternatives
    // contribute each alternative's ops.
    OpSet ops = n.any_op ? OpSet::all() : n.ops;
    if (n.is_any) {
      ops = OpSet();
      for (const UPat& a : n.alts) ops = ops | (a.node().any_op || a.node().is_any ? OpSet::all() : a.node().ops);
    }
    Entry e;
    e.rule = &r;
    e.prog = &(*progs_)[ri];
    if (const PatNode& root = e.prog->nodes[0];
        e.prog->flat && e.prog->n_flat == 1 && root.kind == UPatNode::Src::Any && root.checks == PatNode::kPredFn) {
      e.lone_pred = root.pred_fn;
      e.lone_nameless = e.prog->names.empty();
    }
    if (const RulePtr* f = r.fn.target<RulePtr>()) e.fn = *f;
    e.needs_src_ops = n.is_any ? OpSet() : required_src_ops(n);
    if (!n.is_any && n.src.size() <= 3) {
      using S = UPatNode::Src;
      e.n_src = uint8_t(n.src.size());
      for (size_t i = 0; i < n.src.size(); i++) {
        const UPatNode& sn = n.src[i].node();
        e.src_ops[i] = pattern_ops(sn);
        if (sn.value && !sn.is_any) { e.src_value[i] = &*sn.value; e.has_src_checks = true; }
        // src_ops[i] is {CONST} here, so the predicate is only asked of constants. It runs before
        // the root's checks and the leaf's own dtype or arg checks would: only where there are
        // none, so it never sees a node the pattern's other checks would have turned away.
        const bool pred_alone = sn.dtypes.empty() && !sn.arg && !sn.arg_pred && n.dtypes.empty() && !n.arg && !n.arg_pred && !n.pred;
        if (sn.pred_fn && pred_alone && !sn.is_any && !sn.any_op && sn.ops == OpSet{Ops::CONST}) { e.src_pred[i] = sn.pred_fn; e.has_src_checks = true; }
      }
      find_twin(*e.prog, e);
      if (n.src.size() == 2 && (n.src_kind == S::Ordered || n.src_kind == S::Permuted))
        for (size_t i = 0; i < 2; i++)
          if (!n.src[i].node().is_any && !(e.src_needs[i] = required_src_ops(n.src[i].node())).empty()) e.has_src_needs = true;
      if (n.src_kind == S::Ordered) e.srcs = Entry::Srcs::Ordered;
      else if (n.src_kind == S::Prefix) e.srcs = Entry::Srcs::Prefix;
      else if (n.src_kind == S::Permuted && n.src.size() == 2) e.srcs = Entry::Srcs::Permuted2;
      else if (n.src_kind == S::Repeat) e.srcs = Entry::Srcs::Every;
    }
    for (int i = 0; i < kNumOps; i++)
      if (ops.has(Ops(i))) by_op_[i].push_back(e);
  }
  for (int op = 0; op < kNumOps; op++)
    if (!by_op_[op].empty()) by_op2_[op] = make_dispatch2(by_op_[op]);
}

std::shared_ptr<const PatternMatcher::Dispatch2> PatternMatcher::make_dispatch2(const std::vector<Entry>& entries) {
  // The source op sets the entries test; two ops in every one of them or in none are alike.
  std::vector<OpSet> sets;
  for (const Entry& e : entries) {
    for (int i = 0; i < kNumOps; i++)
      if (e.needs_src_ops.has(Ops(i))) sets.push_back(OpSet{Ops(i)});
    if (e.srcs != Entry::Srcs::Any)
      for (size_t i = 0; i < e.n_src; i++) sets.push_back(e.src_ops[i]);
  }
  auto d = std::make_shared<Dispatch2>();
  std::map<std::vector<bool>, uint8_t> classes;
  Ops rep[kNumOps];  // an op of each class
  for (int o = 0; o < kNumOps; o++) {
    std::vector<bool> key;
    key.reserve(sets.size());
    for (const OpSet& s : sets) key.push_back(s.has(Ops(o)));
    auto [it, fresh] = classes.emplace(std::move(key), uint8_t(classes.size()));
    if (fresh) rep[it->second] = Ops(o);
    d->col[o] = it->second;
  }
  const size_t n_cls = classes.size();
  for (int o = 0; o < kNumOps; o++) d->row[o] = uint16_t(d->col[o] * n_cls);
  std::vector<size_t> bound{0};  // the cells' bounds as offsets, while cand grows
  for (size_t a = 0; a < n_cls; a++)
    for (size_t b = 0; b < n_cls; b++) {
      for (size_t i = 0; i < entries.size(); i++)
        if (entries[i].may_match_ops(rep[a], rep[b])) {
          Entry e = entries[i];
          e.orient = uint8_t((e.src_ops[0].has(rep[a]) && e.src_ops[1].has(rep[b])) | (e.src_ops[0].has(rep[b]) && e.src_ops[1].has(rep[a])) << 1);
          d->cand.push_back(e);
        }
      bound.push_back(d->cand.size());
    }
  for (size_t k : bound) d->cell.push_back(d->cand.data() + k);
  return d;
}

PatternMatcher PatternMatcher::operator+(const PatternMatcher& other) const {
  std::vector<Rule> all(*rules_);
  all.insert(all.end(), other.rules_->begin(), other.rules_->end());
  return PatternMatcher(std::move(all));
}

Fired PatternMatcher::rewrite(UOp* u, void* ctx) const {
  MatchState st;
  return rewrite(u, ctx, st);
}

Fired PatternMatcher::rewrite(UOp* u, void* ctx, MatchState& st) const {
  const Dispatch2* d = by_op2_[int(u->op)].get();
  if (!d) return {};  // no rule for the op
  st.b.root = u;
  st.b.ctx = ctx;
  auto attempt = [&](const Entry& e) __attribute__((always_inline)) {
    if (e.lone_nameless) {  // lone_pred passed: the pattern matched, with nothing to bind
      st.b.rule = e.rule;
      st.b.n_names_ = 0;  // slots_ may hold an earlier rule's bindings: no name reaches them
      st.fn_ = e.fn;
      if (!st.fire(u)) return false;
    } else if (!st.attempt(*e.rule, e.fn, *e.prog, u)) {
      return false;
    }
    if (!(st.result->dtype == u->dtype))
      rule_error(*e.rule, "rewrote " + node_str(u) + " into " + node_str(st.result.get()) + ": the dtype must not change");
    return true;
  };
  if (u->src.size() == 2) {  // the candidates of the sources' op classes: their ops are known to fit
    const size_t c = d->row[int(u->src[0]->op)] + d->col[int(u->src[1]->op)];
    for (const Entry *e_at = d->cell[c], *end = d->cell[c + 1]; e_at != end; e_at++) {
      const Entry& e = *e_at;
      if ((e.has_src_checks && !e.sources_may_match2(u)) || (e.has_src_needs && !e.src_needs_ok(u)) || (e.lone_pred && !e.lone_pred(*u))) continue;
      if (attempt(e)) return {std::move(st.result), e.rule};
    }
    return {};
  }
  OpSet src_ops;
  for (const UOpRef& s : u->src) src_ops.add(s->op);
  for (const Entry& e : by_op_[int(u->op)]) {
    if (!src_ops.contains_all(e.needs_src_ops) || !e.sources_may_match(u) || (e.has_src_needs && !e.src_needs_ok(u)) ||
        (e.lone_pred && !e.lone_pred(*u)))
      continue;
    if (attempt(e)) return {std::move(st.result), e.rule};
  }
  return {};
}

}  // namespace mg
