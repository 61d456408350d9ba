// UOp: the one IR node. Immutable, interned per UOpTable (equal structure = same pointer),
// reference counted without atomics (a table is used by one thread at a time).
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "uop/arg.h"
#include "uop/dtype.h"
#include "uop/ops.h"
#include "uop/slab.h"

namespace mg {

class UOp;
class UOpTable;
using Shape = std::vector<int64_t>;

// Symbolic dims (mg.variable, docs/variables.md): a Shape entry, or a size in a movement op's
// arg, may be a bounded integer variable instead of a number. It is written kSymDim + the
// variable's slot in its UOpTable (UOpTable::sym_var gives its DEFINE_VAR); every other entry
// is a size >= 0. Graphs are the same for every value, so kernels are compiled once.
constexpr int64_t kSymDim = INT64_MIN;
constexpr int64_t kMaxSymVars = int64_t(1) << 16;
inline bool is_sym(int64_t d) { return d >= kSymDim && d < kSymDim + kMaxSymVars; }

class UOpRef {
 public:
  UOpRef() = default;
  UOpRef(std::nullptr_t) {}
  explicit UOpRef(UOp* p);
  UOpRef(const UOpRef& o);
  UOpRef(UOpRef&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  UOpRef& operator=(const UOpRef& o);
  UOpRef& operator=(UOpRef&& o) noexcept;
  ~UOpRef();

  UOp* get() const { return p_; }
  UOp* operator->() const { return p_; }
  UOp& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  friend bool operator==(const UOpRef& a, const UOpRef& b) { return a.p_ == b.p_; }
  friend bool operator==(const UOpRef& a, const UOp* b) { return a.p_ == b; }

 private:
  UOp* p_ = nullptr;
};

struct UOpRefHash {
  size_t operator()(const UOpRef& r) const { return std::hash<const void*>()(r.get()); }
};

// A node's sources: read like a const std::vector<UOpRef> (size, [], at, iterators, front,
// back; converts to a vector). Up to two live inside the node, so most nodes are made without
// an allocation of their own.
class SrcList {
 public:
  SrcList() = default;
  SrcList(const UOpRef* src, size_t n);
  SrcList(std::vector<UOpRef>&& src);
  SrcList(const SrcList& o) : SrcList(o.data(), o.size()) {}
  SrcList(SrcList&& o) noexcept;
  SrcList& operator=(const SrcList&) = delete;
  ~SrcList();

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const UOpRef* data() const { return p_; }
  const UOpRef* begin() const { return p_; }
  const UOpRef* end() const { return p_ + n_; }
  const UOpRef& operator[](size_t i) const { return p_[i]; }
  const UOpRef& at(size_t i) const;  // out of range: std::out_of_range, as vector::at
  const UOpRef& front() const { return p_[0]; }
  const UOpRef& back() const { return p_[n_ - 1]; }
  operator std::vector<UOpRef>() const { return std::vector<UOpRef>(begin(), end()); }
  friend bool operator==(const SrcList& a, const SrcList& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
  friend bool operator==(const SrcList& a, const std::vector<UOpRef>& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

 private:
  static constexpr size_t kInline = 2;
  static UOpRef* alloc(size_t n);
  UOpRef* inline_buf() { return reinterpret_cast<UOpRef*>(buf_); }
  UOpRef* p_ = inline_buf();
  uint32_t n_ = 0;
  alignas(UOpRef) unsigned char buf_[kInline * sizeof(UOpRef)];
};

class UOp {
 public:
  struct Memo;
  struct MemoDelete {
    void operator()(Memo* m) const;
  };

  // The fields are in the order that keeps what rewriting reads of most nodes in the node's
  // first two cache lines (of three): op, sources and id (graph_rewrite's result map) in the
  // first; range, hash, table and memos in the second; arg alone in the third. A node of an op
  // without arg (most) is rebuilt, compared and freed without reading the third line: its
  // facts_ say the arg is none, or trivial to destroy.
  const Ops op;

 private:
  // Here, in the padding after op.
  mutable uint8_t facts_ = 0;
  mutable uint16_t marks_ = 0;  // NodeMarks: the walk's epoch << 4 | its flags
  mutable uint32_t refs_ = 0;

 public:
  const DType dtype;
  const SrcList src;
  // Unique in its table and never reused (unlike the node's address): maps that must not keep
  // a node alive key on it. Nodes made later have larger ids.
  const uint64_t id;

 private:
  mutable i128 vmin_ = 0, vmax_ = 0;

 public:
  const uint64_t hash;   // stable structural hash: the same graph hashes the same in any process
  UOpTable* const table;

 private:
  mutable std::unique_ptr<Memo, MemoDelete> memo_;
  struct Extra {  // shape and toposort: few nodes have either, so one pointer holds both
    Shape shape;             // kHasShape
    std::vector<UOp*> topo;  // empty until toposort() is asked (then it holds at least the node)
  };
  mutable std::unique_ptr<Extra> extra_;

 public:
  union {
    const Arg arg;  // (in a union: ~UOp destroys it only when it is not trivial, see facts_)
  };

  // Derived facts, computed once and cached on the node.
  const Shape* shape() const;   // tensor-level shape; nullptr for ops that have none
  i128 vmin() const { if (!(facts_ & kRangeDone)) derive_range(); return vmin_; }  // value range of integer and bool expressions
  i128 vmax() const { if (!(facts_ & kRangeDone)) derive_range(); return vmax_; }
  bool may_wrap() const { if (!(facts_ & kRangeDone)) derive_range(); return (facts_ & kWraps) != 0; }  // some integer op at or under this node may have wrapped around
  const std::vector<UOp*>& toposort() const;  // every node under this one, sources first, this last

  // Constants
  bool is_const() const { return op == Ops::CONST; }
  bool is_const(double v) const {           // a CONST equal to v (ints and floats compare by value)
    if (op != Ops::CONST) return false;
    if (const int64_t* i = std::get_if<int64_t>(&arg))  // the usual case, inline
      return (dtype.scalar == Scalar::UInt64 ? double(uint64_t(*i)) : double(*i)) == v;
    return const_equals(v);
  }
  int64_t const_int() const;                // CONST of an int or bool dtype
  double const_float() const;               // CONST of any dtype, as a double

  // Data that a later layer derives from the node and keeps with it, made on first use (the
  // symbolic rules keep a summary of each integer sum here: docs/symbolic.md). Each user
  // finds its own by a key of its own (the address of a constant it owns). Memos live in their
  // table's memo memory and are freed with the node.
  struct Memo {
    explicit Memo(const void* k) : key(k) {}
    virtual ~Memo() = default;
    const void* const key;
    std::unique_ptr<Memo, MemoDelete> next;  // another user's memo of the same node

   private:
    friend class UOp;
    friend struct MemoDelete;
    UOpTable* table_ = nullptr;
    size_t bytes_ = 0;
  };
  Memo* memo(const void* key) const {
    for (Memo* m = memo_.get(); m; m = m->next.get())
      if (m->key == key) return m;
    return nullptr;
  }
  // A new T (a Memo) kept with this node.
  template <class T, class... A>
  T& add_memo(A&&... a) const;

  UOpRef ref() const { return UOpRef(const_cast<UOp*>(this)); }
  uint32_t use_count() const { return refs_; }  // UOpRefs held to this node (sources of other nodes included)  // refs_ is mutable: a node stays immutable
  UOpRef replace_src(std::vector<UOpRef> new_src);  // same op, dtype and arg
  UOpRef replace_src(std::span<const UOpRef> new_src);

  UOp(const UOp&) = delete;
  UOp& operator=(const UOp&) = delete;
  ~UOp() {
    if (!(facts_ & kTrivialArg)) std::destroy_at(&arg);
  }

 private:
  friend class UOpRef;
  friend class UOpTable;
  friend class NodeMarks;
  // Made only by UOpTable::make_node, its sources and arg built in place (see there).
  UOp(Ops op, DType dt, const UOpRef* src, size_t n, std::vector<UOpRef>* owned_src, const Arg& arg, Arg* owned_arg,
      uint64_t hash, UOpTable* table, uint64_t id);
  friend struct DerivedFacts;
  // kNoArg: arg is none; kTrivialArg: arg needs no destructor (none, an integer, a double, an op).
  enum : uint8_t { kShapeDone = 1, kHasShape = 2, kRangeDone = 4, kWraps = 8, kNoArg = 16, kTrivialArg = 32 };
  Extra& extra() const {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return *extra_;
  }
  void derive_range() const;  // the range of this node and of every node under it not yet done
  static uint8_t arg_facts(const Arg& a);  // kNoArg, kTrivialArg
  UOpRef remake(const UOpRef* src, size_t n, std::vector<UOpRef>* owned_src) const;  // replace_src's work
  bool const_equals(double v) const;
};

// Intern table: one per context. It holds no references: a node leaves it when its last
// UOpRef goes away. It must outlive every node made in it.
class UOpTable {
 public:
  UOpTable();
  ~UOpTable();
  UOpTable(const UOpTable&) = delete;
  UOpTable& operator=(const UOpTable&) = delete;

  UOpRef make(Ops op, DType dt, std::vector<UOpRef> src = {}, Arg arg = {});
  // The same for a braced list of sources ({a, b}): most makes find an existing node, and
  // this way those allocate nothing.
  UOpRef make(Ops op, DType dt, std::initializer_list<UOpRef> src, Arg arg = {});
  UOpRef make(Ops op, DType dt, std::span<const UOpRef> src, Arg arg = {});
  size_t live() const { return live_; }
  uint64_t next_id() const { return next_id_; }  // the id the next new node gets

  // Called with each node of these ops just before it is freed (the runtime frees the memory
  // behind a BUFFER node this way). One hook per table.
  void on_free(OpSet ops, std::function<void(const UOp*)> hook) { hook_ops_ = ops; hook_ = std::move(hook); }

  // Memory for UOp::Memo objects: freed blocks are reused by the next memo of the same size.
  void* alloc_memo(size_t bytes);
  void free_memo(void* p, size_t bytes);
  size_t kept_blocks() const { return blocks_.kept(); }  // empty 64 KiB blocks kept for reuse (slab.h)

  UOpRef cnst(DType dt, int64_t v);   // wrapped to dt's width; floats converted
  UOpRef cnst(DType dt, double v);    // rounded to dt's precision; ints truncated toward zero
  UOpRef var(const std::string& name, int64_t lo, int64_t hi, DType dt = dtypes::index);

  // Symbolic dims (sym_dims.cpp). sym_dim registers an index DEFINE_VAR (once) and gives the
  // dim that stands for it; sym_var fails for a dim that is none of this table's.
  int64_t sym_dim(const UOpRef& var);
  const UOpRef& sym_var(int64_t dim) const;
  size_t sym_count() const { return sym_vars_.size(); }
  int64_t dim_max(int64_t d) const;  // the largest value d takes (its variable's upper bound)
  UOpRef dim_node(int64_t d);        // d as an index expression: its DEFINE_VAR, or a CONST
  int64_t numel_max(const Shape& s) const;  // the element count at every variable's maximum

 private:
  friend class UOpRef;
  friend class UOp;
  friend class NodeMarks;
  void release(UOp* u);
  uint16_t mark_epoch_ = 0;  // NodeMarks: the last epoch taken (0: none yet)
  bool marking_ = false;     // a NodeMarks is alive
  // The node of this structure, found or made. A new node copies the n sources at src, or moves
  // them out of *owned_src when given; it copies arg, or moves it out of *owned_arg (== &arg).
  UOpRef make_node(Ops op, DType dt, const UOpRef* src, size_t n, std::vector<UOpRef>* owned_src, const Arg& arg, Arg* owned_arg);
  void erase(UOp* u);
  static bool same_node(const UOp* u, Ops op, const DType& dt, const UOpRef* src, size_t n, const Arg& arg);
  [[noreturn, gnu::noinline, gnu::cold]] static void address_error(const void* p);
  void rehash(size_t slots);
  // Node and memo memory (slab.h): the many short-lived nodes of a rewrite do not go through
  // malloc each time.
  void* alloc_node();
  void free_node(UOp* u);
  BlockPool blocks_;  // before the slabs: they give their blocks back to it
  std::unique_ptr<Slab> nodes_;
  static constexpr size_t kMemoClasses = 16;   // memos of up to 16 * 64 bytes have slabs
  std::unique_ptr<Slab> memos_[kMemoClasses + 1];  // per size class (64-byte steps)

  // Linear probing, one word a slot: the node's address with 20 bits of its hash (uop.cpp), so
  // probes mostly touch no node; 0: empty. Erasing shifts the rest of the run back (no
  // tombstones), so a miss ends at the slot a new node takes.
  std::vector<uintptr_t> slots_;
  size_t mask_ = 0;          // slots_.size() - 1
  size_t shrink_below_ = 0;  // fewer live nodes than this: the table shrinks
  size_t live_ = 0;
  uint64_t next_id_ = 0;
  std::vector<UOp*> dying_;  // freed iteratively: dropping a long chain must not recurse
  bool releasing_ = false;
  OpSet hook_ops_;
  std::function<void(const UOp*)> hook_;
  std::vector<UOpRef> sym_vars_;  // by slot; released before the nodes (see ~UOpTable)
};

// Flags on a table's nodes for one walk (a set of nodes without a hash table, so without its
// probes, their mispredicted branches and clearing it): a node is marked with the walk's epoch
// and its flags, so each walk starts with every node unmarked without touching any. After 4095
// walks the epochs wrap and the table clears every node's marks once. One NodeMarks per table
// at a time (a second fails); the flags are the walk's own, 1, 2, 4 and 8.
class NodeMarks {
 public:
  // Inline, with the rare cases out of line: the walk's epoch then stays in a register (a
  // marks_ store could alias it if the object's address escaped).
  explicit NodeMarks(UOpTable& t) : t_(t) {
    if (t.marking_ || t.mark_epoch_ + 1 == 1 << 12) [[unlikely]] rare_start(t);
    e_ = uint16_t(++t.mark_epoch_ << 4);
    t.marking_ = true;
  }
  ~NodeMarks() { t_.marking_ = false; }
  NodeMarks(const NodeMarks&) = delete;
  NodeMarks& operator=(const NodeMarks&) = delete;

  bool has(const UOp* u, uint16_t flag) const { return is(u, flag, flag); }
  // u's flags in this walk (0: none yet), to test several with one load.
  uint16_t flags(const UOp* u) const {
    const uint16_t d = uint16_t(u->marks_ ^ e_);
    return d <= kFlags ? d : 0;
  }
  // One test for several flags: u is marked in this walk, and of `mask` it has exactly `want`.
  bool is(const UOp* u, uint16_t mask, uint16_t want) const { return ((u->marks_ ^ (e_ | want)) & (~kFlags | mask)) == 0; }
  // u's flags become exactly these (for a walk that knows what u has: a plain store).
  void set(const UOp* u, uint16_t flags) { u->marks_ = uint16_t(e_ | flags); }
  bool add(const UOp* u, uint16_t flag) {  // false: u had the flag
    uint16_t m = u->marks_;
    if ((m & ~kFlags) != e_) m = e_;
    if (m & flag) return false;
    u->marks_ = uint16_t(m | flag);
    return true;
  }

 private:
  static constexpr uint16_t kFlags = 0xF;
  // A walk already marking (fails), or the epochs about to wrap (clears every node's marks).
  [[gnu::noinline]] static void rare_start(UOpTable& t);
  UOpTable& t_;
  uint16_t e_;  // the epoch << 4
};

template <class T, class... A>
T& UOp::add_memo(A&&... a) const {
  T* m = new (table->alloc_memo(sizeof(T))) T(std::forward<A>(a)...);
  m->table_ = table;
  m->bytes_ = sizeof(T);
  m->next = std::move(memo_);
  memo_.reset(m);
  return *m;
}

inline UOpRef UOpTable::make(Ops op, DType dt, std::vector<UOpRef> src, Arg arg) {
  return make_node(op, dt, src.data(), src.size(), &src, arg, &arg);
}
inline UOpRef UOpTable::make(Ops op, DType dt, std::initializer_list<UOpRef> src, Arg arg) {
  return make_node(op, dt, src.begin(), src.size(), nullptr, arg, &arg);
}
inline UOpRef UOpTable::make(Ops op, DType dt, std::span<const UOpRef> src, Arg arg) {
  return make_node(op, dt, src.data(), src.size(), nullptr, arg, &arg);
}

inline UOpRef::UOpRef(UOp* p) : p_(p) { if (p_) p_->refs_++; }
inline UOpRef::UOpRef(const UOpRef& o) : p_(o.p_) { if (p_) p_->refs_++; }
inline UOpRef::~UOpRef() { if (p_ && --p_->refs_ == 0) p_->table->release(p_); }
inline UOpRef& UOpRef::operator=(const UOpRef& o) { UOpRef t(o); std::swap(p_, t.p_); return *this; }
inline UOpRef& UOpRef::operator=(UOpRef&& o) noexcept { std::swap(p_, o.p_); return *this; }

inline SrcList::SrcList(const UOpRef* src, size_t n) : n_(uint32_t(n)) {
  if (n > kInline) p_ = alloc(n);
  for (size_t i = 0; i < n; i++) new (p_ + i) UOpRef(src[i]);
}

// ---- building expressions (used by rules, tests and the layers above) ----
UOpRef alu(Ops op, std::vector<UOpRef> src);  // dtype: bool for comparisons, else the operands'
UOpRef alu(Ops op, std::initializer_list<UOpRef> src);  // alu(Ops::ADD, {a, b}) allocates nothing
UOpRef const_like(const UOpRef& x, double v);  // a CONST of x's dtype
UOpRef const_like(const UOpRef& x, int64_t v);
inline UOpRef const_like(const UOpRef& x, int v) { return const_like(x, int64_t(v)); }
UOpRef cast(const UOpRef& x, DType dt);
UOpRef where(const UOpRef& c, const UOpRef& a, const UOpRef& b);
UOpRef maximum(const UOpRef& a, const UOpRef& b);
UOpRef lt(const UOpRef& a, const UOpRef& b);
UOpRef ne(const UOpRef& a, const UOpRef& b);
UOpRef eq(const UOpRef& a, const UOpRef& b);
UOpRef idiv(const UOpRef& a, const UOpRef& b);
UOpRef sink(std::vector<UOpRef> src);

UOpRef operator+(const UOpRef& a, const UOpRef& b);
UOpRef operator-(const UOpRef& a, const UOpRef& b);
UOpRef operator*(const UOpRef& a, const UOpRef& b);
UOpRef operator/(const UOpRef& a, const UOpRef& b);  // IDIV for integers, FDIV for floats
UOpRef operator%(const UOpRef& a, const UOpRef& b);
UOpRef operator-(const UOpRef& a);
UOpRef operator&(const UOpRef& a, const UOpRef& b);
UOpRef operator|(const UOpRef& a, const UOpRef& b);
UOpRef operator^(const UOpRef& a, const UOpRef& b);
template <class N> requires std::is_arithmetic_v<N>
UOpRef num_like(const UOpRef& x, N v) {
  if constexpr (std::is_integral_v<N>) return const_like(x, int64_t(v));
  else return const_like(x, double(v));
}
#define MG_UOP_SCALAR_OPS(OP)                                                           \
  template <class N> requires std::is_arithmetic_v<N>                                   \
  UOpRef operator OP(const UOpRef& a, N b) { return a OP num_like(a, b); }              \
  template <class N> requires std::is_arithmetic_v<N>                                   \
  UOpRef operator OP(N a, const UOpRef& b) { return num_like(b, a) OP b; }
MG_UOP_SCALAR_OPS(+) MG_UOP_SCALAR_OPS(-) MG_UOP_SCALAR_OPS(*) MG_UOP_SCALAR_OPS(/) MG_UOP_SCALAR_OPS(%)
#undef MG_UOP_SCALAR_OPS

// root rebuilt once, bottom up: remake(u, src) gets u and its sources as rebuilt and gives u's
// new node, or nullptr for u itself (made again on src when a source changed). What remake
// gives is not looked into again.
template <class F>
UOpRef rebuild(const UOpRef& root, F&& remake) {
  std::unordered_map<const UOp*, UOpRef> done;
  std::vector<UOpRef> src;
  for (UOp* u : root->toposort()) {
    bool changed = false;
    src.clear();
    for (const UOpRef& x : u->src) {
      auto it = done.find(x.get());
      changed = changed || it != done.end();
      src.push_back(it != done.end() ? it->second : x);
    }
    UOpRef r = remake(static_cast<const UOp*>(u), src);
    if (!r && changed) r = u->replace_src(std::span<const UOpRef>(src));
    if (r && r.get() != u) done.emplace(u, std::move(r));
  }
  auto it = done.find(root.get());
  return it != done.end() ? it->second : root;
}
// root with each key of subs replaced by its value; the result is rebuilt once, bottom up,
// and replacements are not looked into again (x -> x+1 is fine).
UOpRef substitute(const UOpRef& root, const std::unordered_map<const UOp*, UOpRef>& subs);
// x is root or one of the nodes under it.
bool in_graph(const UOp* root, const UOp* x);

// WINDOW: out[..., o_1..o_n, k_1..k_n] = x[..., o_j*s_j + k_j*d_j] over the last n dims of x,
// arg {k_1, s_1, d_1, ..., k_n, s_n, d_n}: the out shape, or an error naming what is wrong.
Shape window_shape(const Shape& in, const std::vector<int64_t>& arg);

// ---- printing ----
std::string print_graph(const UOpRef& root);  // one line per node, shared nodes named once
std::string render(const UOpRef& root);       // an expression: "((x*4)+y)//4"
std::string node_str(const UOp* u);           // "ADD int32 arg" without sources
std::string shape_str(const Shape& s);        // "{2, 3}", as error messages write shapes
std::string shape_str(const Shape& s, const UOpTable& t);  // symbolic dims by their names

}  // namespace mg
