#include "uop/uop.h"

#include <bit>
#include <stdexcept>

#include "uop/error.h"
#include "uop/exec_alu.h"

namespace mg {

namespace {
// A slot of the intern table: the node's address (below 2^48, 16-byte aligned) with the low 20
// bits of its hash in the bits the address leaves free (hash bits 0-15 on top, 16-19 at the
// bottom). Up to 2^20 slots, an entry's home slot comes from the slot itself: erase and rehash
// read no node (reading the next entries' nodes to close a hole was most of erase's time), and
// a probe reads a node only when all 20 bits agree. 0: empty.
constexpr uintptr_t kEmpty = 0;
constexpr uintptr_t kAddrMask = ((uintptr_t(1) << 48) - 1) & ~uintptr_t(15);
constexpr size_t kMinSlots = 1024, kHomeBits = 20;
static_assert(alignof(UOp) >= 16, "the slots of the intern table keep 4 bits of hash in a node's address");
uintptr_t key_of(uint64_t h) { return uintptr_t(h & 0xFFFF) << 48 | uintptr_t(h >> 16 & 15); }
UOp* node_of(uintptr_t slot) { return reinterpret_cast<UOp*>(slot & kAddrMask); }
size_t home_of(uintptr_t slot, size_t mask) {
  if (mask >> kHomeBits) [[unlikely]] return node_of(slot)->hash & mask;
  return (slot >> 48 | (slot & 15) << 16) & mask;
}

// Sources and integer args are hashes or numbers already: each is folded in by a multiply and
// a rotate, and the whole is mixed once at the end. op, dtype, source count and the arg's kind
// share one word (ptr_size, nearly always -1, folded in by a multiply).
constexpr uint64_t fold(uint64_t h, uint64_t v) { return std::rotl((h ^ v) * 0x9e3779b97f4a7c15ull, 29); }

uint64_t structural_hash(Ops op, const DType& dt, const UOpRef* src, size_t n, const Arg& arg) {
  const uint64_t head = uint64_t(op) | uint64_t(dt.scalar) << 8 | uint64_t(dt.count) << 16 | uint64_t(dt.addr) << 32 |
                        uint64_t(n) << 40 | uint64_t(arg.index()) << 48;
  uint64_t h = head ^ uint64_t(dt.ptr_size) * 0x9ddfea08eb382d69ull;
  if (arg.index() != 0) {
    const int64_t* i = std::get_if<int64_t>(&arg);
    h = fold(h, i ? uint64_t(*i) : arg_hash(arg));
  }
  for (size_t k = 0; k < n; k++) h = fold(h, src[k]->hash);
  h ^= h >> 32;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

bool same_arg(const Arg& a, const Arg& b) {
  if (a.index() != b.index()) return false;
  if (a.index() == 0) return true;
  if (const int64_t* i = std::get_if<int64_t>(&a)) return *i == *std::get_if<int64_t>(&b);
  return arg_equal(a, b);
}

const Arg kNone;  // what remake passes for a node without arg

// A new node's arg: none and integers (nearly every node) without std::variant's visit, the
// rest out of line so that the node's constructor stays small enough to inline.
[[gnu::noinline]] Arg other_arg(const Arg& a, Arg* owned) { return owned ? Arg(std::move(*owned)) : Arg(a); }
Arg node_arg(const Arg& a, Arg* owned) {
  if (a.index() == 0) return Arg(std::in_place_index<0>);
  if (const int64_t* i = std::get_if<int64_t>(&a)) return Arg(std::in_place_index<1>, *i);
  return other_arg(a, owned);
}
}  // namespace

// The structure itself, from the first cache line (the slot's 20 hash bits agreed already; the
// hash in the second line follows from the structure).
bool UOpTable::same_node(const UOp* u, Ops op, const DType& dt, const UOpRef* src, size_t n, const Arg& arg) {
  if (u->op != op || !(u->dtype == dt) || u->src.size() != n) return false;
  for (size_t k = 0; k < n; k++)
    if (u->src[k] != src[k]) return false;
  if (u->facts_ & UOp::kNoArg) return arg.index() == 0;  // without reading u's third cache line
  return same_arg(u->arg, arg);
}

uint8_t UOp::arg_facts(const Arg& a) {
  switch (a.index()) {
    case 0: return kNoArg | kTrivialArg;
    case 1: case 2: return kTrivialArg;
    default: return std::holds_alternative<Ops>(a) ? kTrivialArg : 0;
  }
}

// ---- sources ----
UOpRef* SrcList::alloc(size_t n) { return static_cast<UOpRef*>(::operator new(n * sizeof(UOpRef))); }
SrcList::SrcList(std::vector<UOpRef>&& src) : n_(uint32_t(src.size())) {
  if (n_ > kInline) p_ = alloc(n_);
  for (size_t i = 0; i < n_; i++) new (p_ + i) UOpRef(std::move(src[i]));
}
SrcList::SrcList(SrcList&& o) noexcept : n_(o.n_) {
  if (o.p_ != o.inline_buf()) {
    p_ = o.p_;
    o.p_ = o.inline_buf();
  } else {
    for (size_t i = 0; i < n_; i++) {
      new (p_ + i) UOpRef(std::move(o.p_[i]));
      o.p_[i].~UOpRef();
    }
  }
  o.n_ = 0;
}
SrcList::~SrcList() {
  for (size_t i = n_; i-- > 0;) p_[i].~UOpRef();
  if (p_ != inline_buf()) ::operator delete(p_);
}
const UOpRef& SrcList::at(size_t i) const {
  if (i >= n_) throw std::out_of_range("SrcList::at: index " + std::to_string(i) + " >= size " + std::to_string(n_));
  return p_[i];
}

inline UOp::UOp(Ops op, DType dt, const UOpRef* src, size_t n, std::vector<UOpRef>* owned_src, const Arg& arg, Arg* owned_arg,
         uint64_t hash, UOpTable* table, uint64_t id)
    : op(op), facts_(arg_facts(arg)), dtype(dt), src(owned_src ? SrcList(std::move(*owned_src)) : SrcList(src, n)), id(id),
      hash(hash), table(table), arg(node_arg(arg, owned_arg)) {}

UOpRef UOp::replace_src(std::vector<UOpRef> new_src) { return remake(new_src.data(), new_src.size(), &new_src); }
UOpRef UOp::replace_src(std::span<const UOpRef> new_src) { return remake(new_src.data(), new_src.size(), nullptr); }

// Read from the first cache line only, when it can: a node without arg passes a none of its
// own, and the table comes from a new source (a rewrite has just made or read the sources;
// this node's second line is often cold). Sources share their table with the node.
UOpRef UOp::remake(const UOpRef* src, size_t n, std::vector<UOpRef>* owned_src) const {
  UOpTable* t = n ? src[0]->table : table;
  return t->make_node(op, dtype, src, n, owned_src, (facts_ & kNoArg) ? kNone : arg, nullptr);
}

bool UOp::const_equals(double v) const { return const_as_double(dtype.scalar, arg) == v; }
int64_t UOp::const_int() const { return int64_t(const_as_int(dtype.scalar, arg)); }
double UOp::const_float() const { return const_as_double(dtype.scalar, arg); }

// ---- intern table ----
UOpTable::UOpTable() : nodes_(std::make_unique<Slab>(sizeof(UOp), blocks_)), slots_(kMinSlots, kEmpty), mask_(kMinSlots - 1) {}
UOpTable::~UOpTable() { sym_vars_.clear(); }

inline void UOpTable::erase(UOp* u) {
  const size_t mask = mask_;
  size_t i = u->hash & mask;
  while (node_of(slots_[i]) != u) i = (i + 1) & mask;
  // Close the hole: a later entry of the run moves into it unless its home lies after the hole.
  for (size_t j = (i + 1) & mask; slots_[j] != kEmpty; j = (j + 1) & mask) {
    const size_t home = home_of(slots_[j], mask);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = kEmpty;
  if (--live_ < shrink_below_) rehash(std::max(slots_.size() / 4, kMinSlots));  // a dropped graph gives its slots back
}

void UOpTable::rehash(size_t n) {
  std::vector<uintptr_t> old(n, kEmpty);
  old.swap(slots_);
  const size_t mask = mask_ = n - 1;
  shrink_below_ = n > kMinSlots ? n / 16 : 0;
  for (uintptr_t sl : old) {
    if (sl == kEmpty) continue;
    size_t i = home_of(sl, mask);
    while (slots_[i] != kEmpty) i = (i + 1) & mask;
    slots_[i] = sl;
  }
}

UOpRef UOpTable::make_node(Ops op, DType dt, const UOpRef* src, size_t n, std::vector<UOpRef>* owned_src, const Arg& arg,
                           Arg* owned_arg) {
  const uint64_t h = structural_hash(op, dt, src, n, arg);
  if (live_ * 2 >= mask_) rehash(slots_.size() * 4);  // half full (before the probe: a miss ends where the node goes)
  const size_t mask = mask_;
  const uintptr_t key = key_of(h);
  size_t i = h & mask;
  for (uintptr_t sl; (sl = slots_[i]) != kEmpty; i = (i + 1) & mask)
    if ((sl & ~kAddrMask) == key && same_node(node_of(sl), op, dt, src, n, arg)) return UOpRef(node_of(sl));
  void* mem = alloc_node();
  if (reinterpret_cast<uintptr_t>(mem) & ~kAddrMask) [[unlikely]] address_error(mem);
  UOp* u = new (mem) UOp(op, dt, src, n, owned_src, arg, owned_arg, h, this, next_id_++);
  slots_[i] = reinterpret_cast<uintptr_t>(u) | key;
  live_++;
  return UOpRef(u);
}

void UOpTable::address_error(const void* p) {
  fail(ErrorKind::Internal, "UOpTable: node memory at " + std::to_string(reinterpret_cast<uintptr_t>(p)) +
                                " lies above 2^48 (the intern table keeps hash bits beside 48-bit addresses)");
}

// Under AddressSanitizer every node gets its own allocation, so a use after free is still caught.
#if defined(__SANITIZE_ADDRESS__)
void* UOpTable::alloc_node() { return ::operator new(sizeof(UOp)); }
void UOpTable::free_node(UOp* u) { ::operator delete(static_cast<void*>(u)); }
#else
void* UOpTable::alloc_node() { return nodes_->alloc(); }
void UOpTable::free_node(UOp* u) { nodes_->free(u); }
#endif

void UOp::MemoDelete::operator()(Memo* m) const {
  UOpTable* t = m->table_;
  const size_t bytes = m->bytes_;
  m->~Memo();
  t->free_memo(m, bytes);
}

// Memos come in 64-byte size classes.
constexpr size_t kMemoStep = 64;

#if defined(__SANITIZE_ADDRESS__)
void* UOpTable::alloc_memo(size_t bytes) { return ::operator new(bytes); }
void UOpTable::free_memo(void* p, size_t) { ::operator delete(p); }
#else
void* UOpTable::alloc_memo(size_t bytes) {
  const size_t cls = (bytes + kMemoStep - 1) / kMemoStep;
  if (cls > kMemoClasses) return ::operator new(bytes);
  if (!memos_[cls]) memos_[cls] = std::make_unique<Slab>(cls * kMemoStep, blocks_);
  return memos_[cls]->alloc();
}
void UOpTable::free_memo(void* p, size_t bytes) {
  const size_t cls = (bytes + kMemoStep - 1) / kMemoStep;
  if (cls > kMemoClasses) return ::operator delete(p);
  memos_[cls]->free(p);
}
#endif

void UOpTable::release(UOp* u) {
  if (releasing_) {  // a source of a node being freed: freed by the loop below, not by recursion
    dying_.push_back(u);
    return;
  }
  releasing_ = true;
  for (;;) {
    erase(u);
    if (hook_ops_.has(u->op)) hook_(u);
    u->~UOp();  // drops its sources; those reaching zero land in dying_
    free_node(u);
    if (dying_.empty()) break;
    u = dying_.back();
    dying_.pop_back();
  }
  releasing_ = false;
}

void NodeMarks::rare_start(UOpTable& t) {
  if (t.marking_) fail(ErrorKind::Internal, "NodeMarks: a walk is already marking this table's nodes");
  for (uintptr_t sl : t.slots_)  // the epochs wrap: no node may keep an old one
    if (sl != kEmpty) node_of(sl)->marks_ = 0;
  t.mark_epoch_ = 0;
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
namespace {
DType alu_dtype(Ops op, const UOpRef* src, size_t n) {
  if (n == 0) fail(ErrorKind::Invalid, std::string("alu ") + op_name(op) + ": no operands");
  if (op == Ops::WHERE && n < 2) fail(ErrorKind::Invalid, "alu WHERE: needs a condition and two values");
  DType dt = op == Ops::WHERE ? src[1]->dtype : src[0]->dtype;
  if (is_comparison(op)) dt = DType{Scalar::Bool, dt.count};
  return dt;
}
}  // namespace

UOpRef alu(Ops op, std::vector<UOpRef> src) {
  DType dt = alu_dtype(op, src.data(), src.size());
  UOpTable* t = src[0]->table;
  return t->make(op, dt, std::move(src));
}
UOpRef alu(Ops op, std::initializer_list<UOpRef> src) {
  DType dt = alu_dtype(op, src.begin(), src.size());
  return src.begin()[0]->table->make(op, dt, src);
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

// The arithmetic operators take their left operand's dtype, as alu does, without its checks.
UOpRef operator+(const UOpRef& a, const UOpRef& b) { return a->table->make(Ops::ADD, a->dtype, {a, b}); }
UOpRef operator-(const UOpRef& a, const UOpRef& b) { return a->table->make(Ops::SUB, a->dtype, {a, b}); }
UOpRef operator*(const UOpRef& a, const UOpRef& b) { return a->table->make(Ops::MUL, a->dtype, {a, b}); }
UOpRef operator/(const UOpRef& a, const UOpRef& b) { return alu(a->dtype.is_float() ? Ops::FDIV : Ops::IDIV, {a, b}); }
UOpRef operator%(const UOpRef& a, const UOpRef& b) { return alu(Ops::MOD, {a, b}); }
UOpRef operator-(const UOpRef& a) { return alu(Ops::NEG, {a}); }
UOpRef operator&(const UOpRef& a, const UOpRef& b) { return alu(Ops::AND, {a, b}); }
UOpRef operator|(const UOpRef& a, const UOpRef& b) { return alu(Ops::OR, {a, b}); }
UOpRef operator^(const UOpRef& a, const UOpRef& b) { return alu(Ops::XOR, {a, b}); }

}  // namespace mg
