#include "rewrite/pattern_program.h"

#include <utility>

namespace mg {

namespace {
struct Compiler {
  PatProgram& out;
  std::vector<std::pair<uint16_t, const UPatNode*>> later;  // (node, its pattern): repeated leaves and alternatives
  std::string why;

  int slot_of(const std::string& name) {
    if (name.empty()) return -1;
    for (size_t i = 0; i < out.names.size(); i++)
      if (out.names[i] == name) return int(i);
    if (out.names.size() == PatProgram::kMaxNames) {
      why = "more than " + std::to_string(PatProgram::kMaxNames) + " names";
      return -1;
    }
    out.name_keys[out.names.size()] = name_key(name);
    out.names.push_back(name);
    return int(out.names.size() - 1);
  }

  // Appends n and (unless they wait in `later`) its sources, in preorder.
  uint16_t add(const UPatNode& n, uint16_t parent, uint8_t pos) {
    const uint16_t at = uint16_t(out.nodes.size());
    if (n.src.size() > 255 || n.alts.size() > 255 || at == UINT16_MAX) why = "a pattern too large to compile";
    PatNode q;
    q.ops = n.any_op ? OpSet::all() : n.ops;
    q.slot = int8_t(slot_of(n.name));
    q.kind = n.src_kind;
    q.n_src = uint8_t(n.src.size());
    q.n_alts = uint8_t(n.alts.size());
    q.parent = parent;
    q.pos = pos;
    q.parent_permuted = at != 0 && out.nodes[parent].kind == UPatNode::Src::Permuted;
    if (n.src_kind == UPatNode::Src::Ordered || n.src_kind == UPatNode::Src::Permuted) q.src_span = 0;
    q.choice = n.src_kind == UPatNode::Src::Permuted && n.src.size() >= 2;
    if (n.src_kind != UPatNode::Src::Any && n.src_kind != UPatNode::Src::Repeat) q.min_src = q.n_src;
    q.pat = &n;
    if (!n.dtypes.empty()) {
      q.checks |= PatNode::kDtype;
      for (const DType& d : n.dtypes) {
        if (d == d.scalar_type()) q.scalars |= uint32_t(1) << int(d.scalar);
        else q.other_dtypes = true;
      }
    }
    if (n.value) { q.checks |= PatNode::kValue; q.value = *n.value; }
    if (n.arg) q.checks |= PatNode::kArg;
    if (n.arg_pred) q.checks |= PatNode::kArgPred;
    if (n.pred_fn) { q.checks |= PatNode::kPredFn; q.pred_fn = n.pred_fn; }
    else if (n.pred) q.checks |= PatNode::kPred;
    out.nodes.push_back(q);
    if (n.is_any || n.src_kind == UPatNode::Src::Repeat) {
      later.push_back({at, &n});
      return at;
    }
    const uint16_t kids = uint16_t(out.kids.size());
    out.nodes[at].kids = kids;
    out.kids.resize(kids + n.src.size());
    for (size_t i = 0; i < n.src.size(); i++) out.kids[kids + i] = add(n.src[i].node(), at, uint8_t(i));
    return at;
  }

  void add_later(uint16_t at, const UPatNode& n) {
    const std::vector<UPat>& list = n.is_any ? n.alts : n.src;
    const uint16_t kids = uint16_t(out.kids.size());
    (n.is_any ? out.nodes[at].alts : out.nodes[at].kids) = kids;
    out.kids.resize(kids + list.size());
    for (size_t i = 0; i < list.size(); i++) out.kids[kids + i] = add(list[i].node(), at, uint8_t(i));
  }
};

// A repeated leaf is checked inline by its parent's step of the flat loop.
bool plain_leaf(const UPatNode& n) { return !n.is_any && n.src.empty() && n.src_kind == UPatNode::Src::Any && n.name.empty(); }
}  // namespace

std::string compile_pattern(const UPat& p, PatProgram& out) {
  out = PatProgram();
  Compiler c{out, {}, {}};
  c.add(p.node(), 0, 0);
  out.n_flat = uint16_t(out.nodes.size());
  out.flat = out.nodes.size() <= PatProgram::kMaxFlat;
  for (const auto& [at, n] : c.later)
    if (n->is_any || !plain_leaf(n->src[0].node())) out.flat = false;
  bool named[PatProgram::kMaxNames] = {};
  for (size_t i = 0; i < out.n_flat && out.flat; i++) {
    PatNode& q = out.nodes[i];
    if (q.slot < 0) continue;
    q.bound_before = named[q.slot];
    named[q.slot] = true;
  }
  for (size_t i = 0; i < c.later.size(); i++) {  // grows while alternatives add their own
    auto [at, n] = c.later[i];
    c.add_later(at, *n);
  }
  return c.why;
}

}  // namespace mg
