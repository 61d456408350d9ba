// Ops: every operation of the IR, grouped as in DESIGN.md.
#pragma once
#include <cstdint>
#include <initializer_list>

namespace mg {

enum class OpGroup : uint8_t { Define, Movement, Unary, Binary, Ternary, Reduce, Memory, Control, Vector, Graph };

// X(name, group)
#define MG_OPS(X)                                                                                   \
  X(BUFFER, Define) X(CONST, Define) X(VCONST, Define) X(DEFINE_VAR, Define)                        \
  X(DEFINE_GLOBAL, Define) X(DEFINE_LOCAL, Define) X(DEFINE_REG, Define) X(DEVICE, Define)          \
  X(UNIQUE, Define)                                                                                 \
  X(RESHAPE, Movement) X(PERMUTE, Movement) X(EXPAND, Movement) X(PAD, Movement)                    \
  X(SHRINK, Movement) X(FLIP, Movement) X(WINDOW, Movement)                                          \
  X(EXP2, Unary) X(LOG2, Unary) X(SIN, Unary) X(SQRT, Unary) X(RECIPROCAL, Unary) X(NEG, Unary)     \
  X(TRUNC, Unary) X(CAST, Unary) X(BITCAST, Unary)                                                  \
  X(ADD, Binary) X(SUB, Binary) X(MUL, Binary) X(FDIV, Binary) X(IDIV, Binary) X(MOD, Binary)       \
  X(MAX, Binary) X(POW, Binary) X(CMPLT, Binary) X(CMPNE, Binary) X(CMPEQ, Binary) X(AND, Binary)   \
  X(OR, Binary) X(XOR, Binary) X(SHL, Binary) X(SHR, Binary) X(THREEFRY, Binary)                    \
  X(WHERE, Ternary) X(MULACC, Ternary)                                                              \
  X(REDUCE_AXIS, Reduce) X(REDUCE, Reduce)                                                          \
  X(INDEX, Memory) X(LOAD, Memory) X(STORE, Memory)                                                 \
  X(RANGE, Control) X(END, Control) X(IF, Control) X(ENDIF, Control) X(BARRIER, Control)            \
  X(SPECIAL, Control)                                                                               \
  X(VECTORIZE, Vector) X(GEP, Vector)                                                               \
  X(SINK, Graph) X(AFTER, Graph) X(CALL, Graph) X(COPY, Graph) X(CONTIGUOUS, Graph)                 \
  X(DETACH, Graph) X(ASSIGN, Graph) X(NOOP, Graph)

enum class Ops : uint8_t {
#define MG_OP_ENUM(name, group) name,
  MG_OPS(MG_OP_ENUM)
#undef MG_OP_ENUM
};

constexpr int kNumOps = 0
#define MG_OP_COUNT(name, group) +1
    MG_OPS(MG_OP_COUNT)
#undef MG_OP_COUNT
    ;
static_assert(kNumOps <= 128, "OpSet holds 128 ops");

const char* op_name(Ops op);
OpGroup op_group(Ops op);
bool is_alu(Ops op);          // unary (except CAST, BITCAST), binary and ternary
bool is_commutative(Ops op);  // a op b == b op a
inline bool is_comparison(Ops op) { return op == Ops::CMPLT || op == Ops::CMPNE || op == Ops::CMPEQ; }  // result is bool
bool is_movement(Ops op);

// A set of ops as a 128-bit mask: membership is one AND.
struct OpSet {
  uint64_t lo = 0, hi = 0;
  constexpr OpSet() = default;
  constexpr OpSet(std::initializer_list<Ops> ops) { for (Ops o : ops) add(o); }
  constexpr void add(Ops o) { int i = int(o); (i < 64 ? lo : hi) |= uint64_t(1) << (i & 63); }
  constexpr bool has(Ops o) const { int i = int(o); return ((i < 64 ? lo : hi) >> (i & 63)) & 1; }
  constexpr bool empty() const { return !lo && !hi; }
  constexpr bool contains_all(OpSet o) const { return (lo & o.lo) == o.lo && (hi & o.hi) == o.hi; }
  constexpr OpSet operator|(OpSet o) const { OpSet r; r.lo = lo | o.lo; r.hi = hi | o.hi; return r; }
  int count() const { return __builtin_popcountll(lo) + __builtin_popcountll(hi); }
  static OpSet group(OpGroup g);
  static OpSet all();
  friend bool operator==(const OpSet&, const OpSet&) = default;
};

}  // namespace mg
