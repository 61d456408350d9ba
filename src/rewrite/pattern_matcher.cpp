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
UOpRef Bindings::operator[](std::string_view name) const {
  for (auto& [k, v] : items_)
    if (k == name) return UOpRef(v);
  fail(ErrorKind::Invalid, "rule '" + (rule ? rule->name : std::string("?")) + "' (" + (rule ? rule->where() : "") +
                               "): asked for '" + std::string(name) + "', which its pattern does not bind");
}
bool Bindings::has(std::string_view name) const {
  for (auto& [k, v] : items_)
    if (k == name) return true;
  return false;
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

// ---- matching: continuation passing, so a later source's failure backtracks into the
// choices (permutations, alternatives) an earlier one made, and a callback returning
// nothing lets the next way of matching try.
bool MatchState::solve() {
  if (todo.empty()) {
    result = b.rule->fn(b);
    return result && result.get() != b.root;
  }
  auto pr = todo.back();
  todo.pop_back();
  if (match(*pr.first, pr.second)) return true;
  todo.push_back(pr);
  return false;
}

bool MatchState::match(const UPatNode& p, UOp* u) {
  if (!p.any_op && !p.ops.has(u->op)) return false;
  if (!p.dtypes.empty() && std::find(p.dtypes.begin(), p.dtypes.end(), u->dtype) == p.dtypes.end() &&
      std::find(p.dtypes.begin(), p.dtypes.end(), u->dtype.scalar_type()) == p.dtypes.end())
    return false;
  if (p.value && !u->is_const(*p.value)) return false;
  if (p.arg && !arg_equal(*p.arg, u->arg)) return false;
  if (p.arg_pred && !p.arg_pred(u->arg)) return false;
  if (p.pred_fn ? !p.pred_fn(*u) : (p.pred && !p.pred(*u))) return false;
  size_t mark = b.items_.size();
  if (!p.name.empty()) {
    auto it = std::find_if(b.items_.begin(), b.items_.end(), [&](auto& kv) { return kv.first == p.name; });
    if (it != b.items_.end()) {
      if (it->second != u) return false;
    } else {
      b.items_.push_back({p.name, u});
    }
  }
  if (matched_rest(p, u)) return true;
  b.items_.resize(mark);
  return false;
}

bool MatchState::matched_rest(const UPatNode& p, UOp* u) {
  if (p.is_any) {
    for (const UPat& a : p.alts)
      if (match(a.node(), u)) return true;
    return false;
  }
  const size_t n = p.src.size(), base = todo.size();
  switch (p.src_kind) {
    case UPatNode::Src::Any: return solve();
    case UPatNode::Src::Ordered:
    case UPatNode::Src::Prefix:
      if (p.src_kind == UPatNode::Src::Ordered ? u->src.size() != n : u->src.size() < n) return false;
      for (size_t i = n; i-- > 0;) todo.push_back({&p.src[i].node(), u->src[i].get()});
      break;
    case UPatNode::Src::Repeat:
      for (size_t i = u->src.size(); i-- > 0;) todo.push_back({&p.src[0].node(), u->src[i].get()});
      break;
    case UPatNode::Src::Permuted: {
      if (u->src.size() != n) return false;
      size_t perm[5];
      std::iota(perm, perm + n, 0);
      do {
        for (size_t i = n; i-- > 0;) todo.push_back({&p.src[i].node(), u->src[perm[i]].get()});
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
  rules_ = std::make_shared<const std::vector<Rule>>(std::move(rules));
  index();
}

void PatternMatcher::index() {
  for (const Rule& r : *rules_) {
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
    e.needs_src_ops = n.is_any ? OpSet() : required_src_ops(n);
    if (!n.is_any && n.src.size() <= 3) {
      using S = UPatNode::Src;
      e.n_src = uint8_t(n.src.size());
      for (size_t i = 0; i < n.src.size(); i++) {
        const UPatNode& sn = n.src[i].node();
        e.src_ops[i] = pattern_ops(sn);
        if (sn.value && !sn.is_any) { e.src_value[i] = &*sn.value; e.has_value = true; }
      }
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
    d->cls[o] = it->second;
  }
  d->n_cls = classes.size();
  d->cell.push_back(0);
  for (size_t a = 0; a < d->n_cls; a++)
    for (size_t b = 0; b < d->n_cls; b++) {
      for (size_t i = 0; i < entries.size(); i++)
        if (entries[i].may_match_ops(rep[a], rep[b])) d->idx.push_back(uint32_t(i));
      d->cell.push_back(uint32_t(d->idx.size()));
    }
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
  const std::vector<Entry>& entries = by_op_[int(u->op)];
  if (entries.empty()) return {};
  st.b.items_.clear();
  st.todo.clear();
  st.b.root = u;
  st.b.ctx = ctx;
  auto attempt = [&](const Entry& e) {
    st.b.rule = e.rule;
    if (!st.match(e.rule->pat.node(), u)) return false;
    if (!(st.result->dtype == u->dtype))
      rule_error(*e.rule, "rewrote " + node_str(u) + " into " + node_str(st.result.get()) + ": the dtype must not change");
    return true;
  };
  if (u->src.size() == 2) {  // the candidates of the sources' op classes: their ops are known to fit
    const Dispatch2& d = *by_op2_[int(u->op)];
    const size_t c = d.cls[int(u->src[0]->op)] * d.n_cls + d.cls[int(u->src[1]->op)];
    for (uint32_t k = d.cell[c], end = d.cell[c + 1]; k < end; k++) {
      const Entry& e = entries[d.idx[k]];
      if (e.has_value && !e.sources_may_match(u)) continue;
      if (attempt(e)) return {std::move(st.result), e.rule};
    }
    return {};
  }
  OpSet src_ops;
  for (const UOpRef& s : u->src) src_ops.add(s->op);
  for (const Entry& e : entries) {
    if (!src_ops.contains_all(e.needs_src_ops) || !e.sources_may_match(u)) continue;
    if (attempt(e)) return {std::move(st.result), e.rule};
  }
  return {};
}

}  // namespace mg
