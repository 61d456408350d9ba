// REF: the typed loop for each (ALU op, dtype) that the tensor layer allows, and the
// exec_alu-per-element loop for every other combination, so any graph has a defined value.
#include <cstring>
#include <vector>

#include "backends/ref/ref_arg.h"
#include "backends/ref/ref_elementwise.h"
#include "backends/ref/ref_scalar_ops.h"
#include "backends/ref/ref_types.h"
#include "uop/exec_alu.h"

namespace mg::ref {

namespace {
template <class T, class F>
void unary_loop(const AluCall&, int64_t n, void* out, const void* const* in) {
  using S = typename T::Store;
  S* __restrict o = static_cast<S*>(out);
  const S* __restrict a = static_cast<const S*>(in[0]);
  for (int64_t i = 0; i < n; i++) o[i] = T::store(F::f(T::load(a[i])));
}

template <class T, class F>
void binary_loop(const AluCall&, int64_t n, void* out, const void* const* in) {
  using S = typename T::Store;
  S* __restrict o = static_cast<S*>(out);
  const S* __restrict a = static_cast<const S*>(in[0]);
  const S* __restrict b = static_cast<const S*>(in[1]);
  for (int64_t i = 0; i < n; i++) o[i] = T::store(F::f(T::load(a[i]), T::load(b[i])));
}

template <class T, class F>
void compare_loop(const AluCall&, int64_t n, void* out, const void* const* in) {
  using S = typename T::Store;
  uint8_t* __restrict o = static_cast<uint8_t*>(out);
  const S* __restrict a = static_cast<const S*>(in[0]);
  const S* __restrict b = static_cast<const S*>(in[1]);
  for (int64_t i = 0; i < n; i++) o[i] = F::f(T::load(a[i]), T::load(b[i]));
}

// WHERE picks bits: the chosen operand's element is copied as it is, as exec_alu returns it.
template <class W>
void where_loop(const AluCall&, int64_t n, void* out, const void* const* in) {
  W* __restrict o = static_cast<W*>(out);
  const uint8_t* __restrict c = static_cast<const uint8_t*>(in[0]);
  const W* __restrict a = static_cast<const W*>(in[1]);
  const W* __restrict b = static_cast<const W*>(in[2]);
  for (int64_t i = 0; i < n; i++) o[i] = c[i] ? a[i] : b[i];
}

// The combinations without a typed loop (none that the tensor layer builds, but a graph made
// another way may hold them): exec_alu itself, and 0 where it leaves the value undefined.
void generic_loop(const AluCall& call, int64_t n, void* out, const void* const* in) {
  const int arity = op_group(call.op) == OpGroup::Unary ? 1 : op_group(call.op) == OpGroup::Binary ? 2 : 3;
  const size_t isz = size_t(call.in.itemsize()), osz = size_t(call.out.itemsize());
  std::vector<Arg> args(static_cast<size_t>(arity));
  for (int64_t i = 0; i < n; i++) {
    for (int k = 0; k < arity; k++) args[size_t(k)] = load_arg(call.in, static_cast<const std::byte*>(in[k]) + size_t(i) * isz);
    std::optional<Arg> r = exec_alu(call.op, call.out, call.in, args);
    void* dst = static_cast<std::byte*>(out) + size_t(i) * osz;
    if (r) store_arg(call.out, *r, dst);
    else std::memset(dst, 0, osz);
  }
}

template <class T>
Kernel typed_alu(Ops op) {
  switch (op) {
    case Ops::CMPLT: return &compare_loop<T, op::CmpLt>;
    case Ops::CMPNE: return &compare_loop<T, op::CmpNe>;
    case Ops::CMPEQ: return &compare_loop<T, op::CmpEq>;
    case Ops::ADD: return &binary_loop<T, op::Add>;
    case Ops::SUB: return &binary_loop<T, op::Sub>;
    case Ops::MUL: return &binary_loop<T, op::Mul>;
    case Ops::MAX: return &binary_loop<T, op::Max>;
    default: break;
  }
  if constexpr (T::is_float) {
    switch (op) {
      case Ops::EXP2: return &unary_loop<T, op::Exp2>;
      case Ops::LOG2: return &unary_loop<T, op::Log2>;
      case Ops::SIN: return &unary_loop<T, op::Sin>;
      case Ops::SQRT: return &unary_loop<T, op::Sqrt>;
      case Ops::RECIPROCAL: return &unary_loop<T, op::Recip>;
      case Ops::NEG: return &unary_loop<T, op::Neg>;
      case Ops::TRUNC: return &unary_loop<T, op::Trunc>;
      case Ops::FDIV: return &binary_loop<T, op::Fdiv>;
      case Ops::MOD: return &binary_loop<T, op::Mod>;
      case Ops::POW: return &binary_loop<T, op::Pow>;
      default: return nullptr;
    }
  } else {
    switch (op) {
      case Ops::AND: return &binary_loop<T, op::And>;
      case Ops::OR: return &binary_loop<T, op::Or>;
      case Ops::XOR: return &binary_loop<T, op::Xor>;
      default: break;
    }
    if constexpr (T::is_int) {
      switch (op) {
        case Ops::NEG: return &unary_loop<T, op::Neg>;
        case Ops::IDIV: return &binary_loop<T, op::Idiv>;
        case Ops::MOD: return &binary_loop<T, op::Mod>;
        case Ops::POW: return &binary_loop<T, op::Pow>;
        case Ops::SHL: return &binary_loop<T, op::Shl>;
        case Ops::SHR: return &binary_loop<T, op::Shr>;
        default: break;
      }
    }
    return nullptr;
  }
}
}  // namespace

Kernel pick_alu_kernel(Ops op, DType in) {
  if (op == Ops::WHERE) {
    switch (in.itemsize()) {
      case 1: return &where_loop<uint8_t>;
      case 2: return &where_loop<uint16_t>;
      case 4: return &where_loop<uint32_t>;
      case 8: return &where_loop<uint64_t>;
      default: fail(ErrorKind::Invalid, "REF: WHERE of dtype " + in.name());
    }
  }
  if (!is_alu(op) || op == Ops::MULACC || op == Ops::THREEFRY)
    fail(ErrorKind::Invalid, std::string("REF: ") + op_name(op) + " is not an elementwise op it evaluates");
  Kernel k = with_type(in, [&](auto t) { return typed_alu<decltype(t)>(op); });
  return k ? k : &generic_loop;
}

}  // namespace mg::ref
