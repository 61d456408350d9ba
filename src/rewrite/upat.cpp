#include "rewrite/upat.h"

namespace mg {

UPat::UPat(Ops op, Loc l) : UPat(OpSet{op}, l) {}
UPat::UPat(OpSet ops, Loc l) {
  auto n = std::make_shared<UPatNode>();
  n->any_op = false;
  n->ops = ops;
  n->loc = l;
  n_ = std::move(n);
}

namespace {
// A pattern is located where its latest-written part is: inside the rule that uses it.
void take_latest_loc(UPatNode& n) {
  for (const UPat& s : n.src)
    if (s.node().loc.line() > n.loc.line()) n.loc = s.node().loc;
}
}  // namespace

UPat UPat::edit(const std::function<void(UPatNode&)>& f) const {
  auto n = std::make_shared<UPatNode>(*n_);
  f(*n);
  return UPat(std::shared_ptr<const UPatNode>(std::move(n)));
}

UPat UPat::var(std::string name, Loc l) {
  auto n = std::make_shared<UPatNode>();
  n->name = std::move(name);
  n->loc = l;
  return UPat(std::shared_ptr<const UPatNode>(std::move(n)));
}
UPat UPat::cvar(std::string name, Loc l) { return UPat(Ops::CONST, l).named(std::move(name)); }
UPat UPat::cnst(double v, Loc l) { return UPat(Ops::CONST, l).edit([&](UPatNode& n) { n.value = v; }); }
UPat UPat::any(std::vector<UPat> alternatives, Loc l) {
  auto n = std::make_shared<UPatNode>();
  n->alts = std::move(alternatives);
  n->is_any = true;
  n->loc = l;
  for (const UPat& a : n->alts)
    if (a.node().loc.line() > n->loc.line()) n->loc = a.node().loc;
  return UPat(std::shared_ptr<const UPatNode>(std::move(n)));
}

UPat UPat::named(std::string name) const { return edit([&](UPatNode& n) { n.name = std::move(name); }); }
UPat UPat::src(std::vector<UPat> s) const {
  return edit([&](UPatNode& n) { n.src_kind = UPatNode::Src::Ordered; n.src = std::move(s); take_latest_loc(n); });
}
UPat UPat::src_prefix(std::vector<UPat> s) const {
  return edit([&](UPatNode& n) { n.src_kind = UPatNode::Src::Prefix; n.src = std::move(s); take_latest_loc(n); });
}
UPat UPat::perm(std::vector<UPat> s) const {
  return edit([&](UPatNode& n) { n.src_kind = UPatNode::Src::Permuted; n.src = std::move(s); take_latest_loc(n); });
}
UPat UPat::rep(UPat s) const {
  return edit([&](UPatNode& n) { n.src_kind = UPatNode::Src::Repeat; n.src = {std::move(s)}; take_latest_loc(n); });
}
UPat UPat::dtype(std::vector<DType> d) const { return edit([&](UPatNode& n) { n.dtypes = std::move(d); }); }
UPat UPat::arg(Arg a) const { return edit([&](UPatNode& n) { n.arg = std::move(a); }); }
UPat UPat::arg_if(std::function<bool(const Arg&)> p) const { return edit([&](UPatNode& n) { n.arg_pred = std::move(p); }); }
UPat UPat::where(std::function<bool(const UOp&)> p) const {
  return edit([&](UPatNode& n) {
    using Fn = bool (*)(const UOp&);
    const Fn* f = p.target<Fn>();
    n.pred_fn = f ? *f : nullptr;
    n.pred = std::move(p);
  });
}

std::string UPat::str() const {
  const UPatNode& n = *n_;
  if (n.is_any) {
    std::string s = "any(";
    for (size_t i = 0; i < n.alts.size(); i++) s += (i ? ", " : "") + n.alts[i].str();
    return s + ")" + (n.name.empty() ? "" : ":" + n.name);
  }
  if (n.value) {
    std::string v = arg_str(Arg(*n.value));
    if (v.size() > 2 && v.ends_with(".0")) v.resize(v.size() - 2);
    return v;
  }
  if (n.any_op && n.src_kind == UPatNode::Src::Any) return n.name.empty() ? "_" : n.name;
  if (!n.any_op && n.ops == OpSet{Ops::CONST} && n.src_kind == UPatNode::Src::Any && !n.name.empty()) return n.name;
  static const std::pair<Ops, const char*> infix[] = {
      {Ops::ADD, "+"}, {Ops::SUB, "-"}, {Ops::MUL, "*"}, {Ops::IDIV, "//"}, {Ops::MOD, "%"}, {Ops::CMPLT, "<"},
      {Ops::CMPNE, "!="}, {Ops::CMPEQ, "=="}, {Ops::AND, "&"}, {Ops::OR, "|"}, {Ops::XOR, "^"}};
  if (!n.any_op && n.ops.count() == 1 && n.src.size() == 2 && n.src_kind != UPatNode::Src::Repeat)
    for (auto& [op, sym] : infix)
      if (n.ops.has(op)) return "(" + n.src[0].str() + sym + n.src[1].str() + ")" + (n.name.empty() ? "" : ":" + n.name);
  std::string s;
  if (n.any_op) s = "_";
  else
    for (int i = 0; i < kNumOps; i++)
      if (n.ops.has(Ops(i))) s += (s.empty() ? "" : "|") + std::string(op_name(Ops(i)));
  if (!n.src.empty()) {
    s += "(";
    for (size_t i = 0; i < n.src.size(); i++) s += (i ? ", " : "") + n.src[i].str();
    if (n.src_kind == UPatNode::Src::Prefix || n.src_kind == UPatNode::Src::Repeat) s += ", ...";
    s += ")";
  }
  if (!n.name.empty()) s += ":" + n.name;
  return s;
}

UPat alu(Ops op, std::vector<UPat> src) {
  UPat::Loc l = src.empty() ? UPat::Loc::current() : src[0].node().loc;
  for (const UPat& s : src)
    if (s.node().loc.line() > l.line()) l = s.node().loc;
  return is_commutative(op) ? UPat(op, l).perm(std::move(src)) : UPat(op, l).src(std::move(src));
}
UPat operator+(const UPat& a, const UPat& b) { return alu(Ops::ADD, {a, b}); }
UPat operator*(const UPat& a, const UPat& b) { return alu(Ops::MUL, {a, b}); }
UPat operator-(const UPat& a, const UPat& b) { return alu(Ops::SUB, {a, b}); }
UPat operator/(const UPat& a, const UPat& b) { return alu(Ops::IDIV, {a, b}); }
UPat operator%(const UPat& a, const UPat& b) { return alu(Ops::MOD, {a, b}); }
UPat operator&(const UPat& a, const UPat& b) { return alu(Ops::AND, {a, b}); }
UPat operator|(const UPat& a, const UPat& b) { return alu(Ops::OR, {a, b}); }
UPat operator^(const UPat& a, const UPat& b) { return alu(Ops::XOR, {a, b}); }
UPat operator-(const UPat& a) { return alu(Ops::NEG, {a}); }
UPat lt(const UPat& a, const UPat& b) { return alu(Ops::CMPLT, {a, b}); }
UPat ne(const UPat& a, const UPat& b) { return alu(Ops::CMPNE, {a, b}); }
UPat eq(const UPat& a, const UPat& b) { return alu(Ops::CMPEQ, {a, b}); }
UPat maximum(const UPat& a, const UPat& b) { return alu(Ops::MAX, {a, b}); }
UPat where(const UPat& c, const UPat& a, const UPat& b) { return alu(Ops::WHERE, {c, a, b}); }

}  // namespace mg
