#include "uop/uop.h"

#include "uop/error.h"
#include "uop/exec_alu.h"

namespace mg {

namespace {
UOp* const kTomb = reinterpret_cast<UOp*>(uintptr_t(1));

uint64_t structural_hash(Ops op, const DType& dt, const std::vector<UOpRef>& src, const Arg& arg) {
  uint64_t h = hash_mix(0x6d67, uint64_t(op));
  h = hash_mix(h, uint64_t(dt.scalar) | uint64_t(dt.count) << 8 | uint64_t(dt.addr) << 24);
  h = hash_mix(h, uint64_t(dt.ptr_size));
  h = hash_mix(h, arg_hash(arg));
  for (const UOpRef& s : src) h = hash_mix(h, s->hash);
  return hash_mix(h, src.size());
}
}  // namespace

UOp::UOp(Ops op, DType dt, std::vector<UOpRef> src, Arg arg, uint64_t hash, UOpTable* table)
    : op(op), dtype(dt), src(std::move(src)), arg(std::move(arg)), hash(hash), table(table) {}

UOpRef UOp::replace_src(std::vector<UOpRef> new_src) { return table->make(op, dtype, std::move(new_src), arg); }

bool UOp::is_const(double v) const {
  if (op != Ops::CONST) return false;
  return const_as_double(dtype.scalar, arg) == v;
}
int64_t UOp::const_int() const { return int64_t(const_as_int(dtype.scalar, arg)); }
double UOp::const_float() const { return const_as_double(dtype.scalar, arg); }

// ---- intern table ----
UOpTable::UOpTable() : slots_(1024, Slot{0, nullptr}) {}
UOpTable::~UOpTable() = default;

UOp* UOpTable::find(Ops op, const DType& dt, const std::vector<UOpRef>& src, const Arg& arg, uint64_t h) const {
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& sl = slots_[i];
    if (!sl.node) return nullptr;
    if (sl.hash != h || sl.node == kTomb) continue;
    UOp* u = sl.node;
    if (u->op != op || !(u->dtype == dt) || u->src.size() != src.size()) continue;
    bool same = true;
    for (size_t k = 0; k < src.size() && same; k++) same = u->src[k] == src[k];
    if (same && arg_equal(u->arg, arg)) return u;
  }
}

void UOpTable::insert(UOp* u) {
  if ((used_ + 1) * 2 > slots_.size()) grow();
  size_t mask = slots_.size() - 1;
  size_t i = u->hash & mask;
  while (slots_[i].node && slots_[i].node != kTomb) i = (i + 1) & mask;
  if (!slots_[i].node) used_++;
  slots_[i] = {u->hash, u};
  live_++;
}

void UOpTable::erase(UOp* u) {
  size_t mask = slots_.size() - 1;
  for (size_t i = u->hash & mask; slots_[i].node; i = (i + 1) & mask)
    if (slots_[i].node == u) { slots_[i].node = kTomb; live_--; return; }
}

void UOpTable::grow() {
  // Rehash; grow only when live nodes fill the table, else just drop the tombstones.
  size_t n = slots_.size();
  while (live_ * 4 > n) n *= 2;
  while (n > 1024 && live_ * 16 < n) n /= 2;
  std::vector<Slot> old(n, Slot{0, nullptr});
  old.swap(slots_);
  used_ = live_ = 0;
  for (const Slot& sl : old)
    if (sl.node && sl.node != kTomb) insert(sl.node);
}

UOpRef UOpTable::make(Ops op, DType dt, std::vector<UOpRef> src, Arg arg) {
  uint64_t h = structural_hash(op, dt, src, arg);
  if (UOp* u = find(op, dt, src, arg, h)) return UOpRef(u);
  UOp* u = new UOp(op, dt, std::move(src), std::move(arg), h, this);
  insert(u);
  return UOpRef(u);
}

void UOpTable::release(UOp* u) {
  dying_.push_back(u);
  if (releasing_) return;
  releasing_ = true;
  while (!dying_.empty()) {
    UOp* d = dying_.back();
    dying_.pop_back();
    erase(d);
    if (hook_ops_.has(d->op)) hook_(d);
    delete d;  // drops its sources; those reaching zero land in dying_
  }
  releasing_ = false;
}

UOpRef UOpTable::cnst(DType dt, int64_t v) { return make(Ops::CONST, dt, {}, make_const(dt, i128(v))); }
UOpRef UOpTable::cnst(DType dt, double v) { return make(Ops::CONST, dt, {}, make_const(dt, v)); }
UOpRef UOpTable::var(const std::string& name, int64_t lo, int64_t hi, DType dt) {
  if (lo > hi) fail(ErrorKind::Invalid, "variable '" + name + "': lower bound " + std::to_string(lo) + " above upper bound " + std::to_string(hi));
  if ((dt.is_int() || dt.is_bool()) && (lo < int_min(dt.scalar) || hi > int_max(dt.scalar)))
    fail(ErrorKind::Invalid, "variable '" + name + "': bounds [" + std::to_string(lo) + ", " + std::to_string(hi) + "] do not fit " + dt.name());
  return make(Ops::DEFINE_VAR, dt, {}, VarArg{name, lo, hi});
}

// ---- builders ----
UOpRef alu(Ops op, std::vector<UOpRef> src) {
  if (src.empty()) fail(ErrorKind::Invalid, std::string("alu ") + op_name(op) + ": no operands");
  DType dt = op == Ops::WHERE ? src.at(1)->dtype : src[0]->dtype;
  if (is_comparison(op)) dt = DType{Scalar::Bool, dt.count};
  UOpTable* t = src[0]->table;
  return t->make(op, dt, std::move(src));
}
UOpRef const_like(const UOpRef& x, double v) { return x->table->cnst(x->dtype, v); }
UOpRef const_like(const UOpRef& x, int64_t v) { return x->table->cnst(x->dtype, v); }
UOpRef cast(const UOpRef& x, DType dt) { return x->dtype == dt ? x : x->table->make(Ops::CAST, dt, {x}); }
UOpRef where(const UOpRef& c, const UOpRef& a, const UOpRef& b) { return alu(Ops::WHERE, {c, a, b}); }
UOpRef maximum(const UOpRef& a, const UOpRef& b) { return alu(Ops::MAX, {a, b}); }
UOpRef lt(const UOpRef& a, const UOpRef& b) { return alu(Ops::CMPLT, {a, b}); }
UOpRef ne(const UOpRef& a, const UOpRef& b) { return alu(Ops::CMPNE, {a, b}); }
UOpRef eq(const UOpRef& a, const UOpRef& b) { return alu(Ops::CMPEQ, {a, b}); }
UOpRef idiv(const UOpRef& a, const UOpRef& b) { return alu(Ops::IDIV, {a, b}); }
UOpRef sink(std::vector<UOpRef> src) {
  if (src.empty()) fail(ErrorKind::Invalid, "sink: no sources");
  UOpTable* t = src[0]->table;
  return t->make(Ops::SINK, dtypes::void_, std::move(src));
}

UOpRef operator+(const UOpRef& a, const UOpRef& b) { return alu(Ops::ADD, {a, b}); }
UOpRef operator-(const UOpRef& a, const UOpRef& b) { return alu(Ops::SUB, {a, b}); }
UOpRef operator*(const UOpRef& a, const UOpRef& b) { return alu(Ops::MUL, {a, b}); }
UOpRef operator/(const UOpRef& a, const UOpRef& b) { return alu(a->dtype.is_float() ? Ops::FDIV : Ops::IDIV, {a, b}); }
UOpRef operator%(const UOpRef& a, const UOpRef& b) { return alu(Ops::MOD, {a, b}); }
UOpRef operator-(const UOpRef& a) { return alu(Ops::NEG, {a}); }
UOpRef operator&(const UOpRef& a, const UOpRef& b) { return alu(Ops::AND, {a, b}); }
UOpRef operator|(const UOpRef& a, const UOpRef& b) { return alu(Ops::OR, {a, b}); }
UOpRef operator^(const UOpRef& a, const UOpRef& b) { return alu(Ops::XOR, {a, b}); }

}  // namespace mg
