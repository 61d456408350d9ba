// Constant folding: an ALU op, CAST or BITCAST whose sources are all CONST becomes a CONST,
// evaluated by exec_alu / exec_cast / exec_bitcast (C semantics in the node's dtype). What
// those leave undefined (division by zero, shifts out of range) stays unfolded, and so do
// vector dtypes.
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
bool scalar_value(const UOp* u) { return !u->dtype.is_vec() && !u->dtype.is_ptr() && !u->dtype.is_void(); }

UOpRef fold_alu(B& b) {
  const UOp* r = b.root;
  if (!scalar_value(r)) return nullptr;
  std::vector<Arg> vals;
  for (const UOpRef& s : r->src) {
    if (!scalar_value(s.get())) return nullptr;
    vals.push_back(s->arg);
  }
  // WHERE: the operands' dtype is that of the values it chooses between, not the condition's.
  DType in = r->op == Ops::WHERE ? r->src.at(1)->dtype : r->src[0]->dtype;
  std::optional<Arg> v = exec_alu(r->op, r->dtype, in, vals);
  if (!v) return nullptr;
  return r->table->make(Ops::CONST, r->dtype, {}, *v);
}

UOpRef fold_cast(B& b) {
  const UOp* r = b.root;
  UOpRef c = b["c"];
  if (!scalar_value(r) || !scalar_value(c.get())) return nullptr;
  return r->table->make(Ops::CONST, r->dtype, {}, exec_cast(c->arg, c->dtype, r->dtype));
}

UOpRef fold_bitcast(B& b) {
  const UOp* r = b.root;
  UOpRef c = b["c"];
  // A bool holds one bit of its byte: other bit patterns have no bool value to fold to.
  if (!scalar_value(r) || !scalar_value(c.get()) || r->dtype.is_bool() || c->dtype.is_bool()) return nullptr;
  std::optional<Arg> v = exec_bitcast(c->arg, c->dtype, r->dtype);
  if (!v) return nullptr;
  return r->table->make(Ops::CONST, r->dtype, {}, *v);
}
}  // namespace

OpSet alu_ops() {
  OpSet out;
  for (int i = 0; i < kNumOps; i++)
    if (is_alu(Ops(i))) out.add(Ops(i));
  return out;
}

UOpRef fold_consts(Ops op, const UOpRef& a, const UOpRef& b) {
  const DType dt = a->dtype;
  // The ring rules' folds (c1+c2, c1-c2, c1*c2 of integers): what exec_alu computes, wrapped
  // to dt by make_const, without copying the Args into its list and out of an optional.
  if ((op == Ops::ADD || op == Ops::SUB || op == Ops::MUL) && dt.is_int() && !dt.is_vec() && b->dtype == dt) {
    const i128 x = cval(*a), y = cval(*b);
    using u128 = unsigned __int128;  // (a product's low bits are all that survive the wrap)
    const i128 r = op == Ops::ADD ? x + y : op == Ops::SUB ? x - y : i128(u128(x) * u128(y));
    // 64-bit integers (index, most of them) keep r's low 64 bits: make_const's wrap, inline
    return a->table->make(Ops::CONST, dt, {}, scalar_bits(dt.scalar) == 64 ? Arg(int64_t(uint64_t(r))) : make_const(dt, r));
  }
  Arg vals[2] = {a->arg, b->arg};
  std::optional<Arg> v = exec_alu(op, a->dtype, a->dtype, vals);
  if (!v) return nullptr;
  return a->table->make(Ops::CONST, a->dtype, {}, *v);
}

std::vector<Rule> fold_rules() {
  return {
      {UPat(alu_ops()).rep(cvar()), fold_alu, "fold constant ALU op"},
      {UPat(Ops::CAST).src({cvar("c")}), fold_cast, "fold CAST of a constant"},
      {UPat(Ops::BITCAST).src({cvar("c")}), fold_bitcast, "fold BITCAST of a constant"},
  };
}

}  // namespace mg::sym
