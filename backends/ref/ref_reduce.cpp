// REF: reductions. The input is walked once in its row-major order, each element combined
// into the accumulator of its output position; so each output sums its elements in row-major
// order of the reduced axes, one after another (docs/ref.md). Integers accumulate in their own
// type and wrap; float16/bfloat16 accumulate in float32 and round once at the end.
#include <limits>

#include "backends/ref/ref_reduce.h"
#include "backends/ref/ref_scalar_ops.h"
#include "backends/ref/ref_types.h"

namespace mg::ref {

namespace {
template <class T, class F>
struct Combine {
  using C = typename T::Compute;
  static C f(C a, C b) {
    C r = F::f(a, b);
    if constexpr (T::is_bool) r = r != 0;  // a bool accumulator stays a bool
    return r;
  }
};

template <class T>
typename T::Compute identity(Ops op) {
  using C = typename T::Compute;
  if (op == Ops::ADD) return C(0);
  if (op == Ops::MUL) return C(1);
  if constexpr (T::is_float) return -std::numeric_limits<C>::infinity();
  else if constexpr (T::is_bool) return C(0);
  else return std::numeric_limits<C>::lowest();
}

// Walks the input row by row of its innermost dim; out_strides map a position to its
// accumulator (0 along reduced axes).
template <class T, class F>
void accumulate(const RefValue& x, std::vector<int64_t> out_strides, typename T::Compute* acc) {
  using C = typename T::Compute;
  using S = typename T::Store;
  using K = Combine<T, F>;
  const RefView v = x.view.simplified(&out_strides);
  const S* src = reinterpret_cast<const S*>(x.base());
  const size_t nd = v.shape.size(), in = nd - 1;
  const bool masked = !v.mask.empty();
  const int64_t n_in = v.shape[in], st = v.strides[in], ost = out_strides[in];
  int64_t rows = 1;
  for (size_t d = 0; d < in; d++) rows *= v.shape[d];
  std::vector<int64_t> idx(nd, 0);
  for (int64_t r = 0; r < rows; r++) {
    int64_t a = v.offset, o = 0;
    bool valid = true;
    for (size_t d = 0; d < in; d++) {
      a += idx[d] * v.strides[d];
      o += idx[d] * out_strides[d];
      if (masked) valid = valid && idx[d] >= v.mask[d].first && idx[d] < v.mask[d].second;
    }
    if (masked) {
      const int64_t lo = v.mask[in].first, hi = v.mask[in].second;
      for (int64_t p = 0; p < n_in; p++) {
        C val = valid && p >= lo && p < hi ? T::load(src[a + p * st]) : C(0);  // padding reads 0
        acc[o + p * ost] = K::f(acc[o + p * ost], val);
      }
    } else if (ost == 0) {  // the whole row into one accumulator: keep it in a register
      C s = acc[o];
      for (int64_t i = 0; i < n_in; i++) s = K::f(s, T::load(src[a + i * st]));
      acc[o] = s;
    } else {
      for (int64_t i = 0; i < n_in; i++) acc[o + i * ost] = K::f(acc[o + i * ost], T::load(src[a + i * st]));
    }
    for (size_t d = in; d-- > 0;) {
      if (++idx[d] < v.shape[d]) break;
      idx[d] = 0;
    }
  }
}

template <class T>
void reduce_typed(const RefValue& x, Ops op, const std::vector<int64_t>& out_strides, int64_t nout, void* out) {
  using C = typename T::Compute;
  std::vector<C> acc(size_t(nout), identity<T>(op));
  if (x.view.numel() > 0) {
    switch (op) {
      case Ops::ADD: accumulate<T, op::Add>(x, out_strides, acc.data()); break;
      case Ops::MUL: accumulate<T, op::Mul>(x, out_strides, acc.data()); break;
      case Ops::MAX: accumulate<T, op::Max>(x, out_strides, acc.data()); break;
      default: fail(ErrorKind::Invalid, std::string("REF: reduce op ") + op_name(op) + " is not ADD, MUL or MAX");
    }
  }
  typename T::Store* o = static_cast<typename T::Store*>(out);
  for (int64_t i = 0; i < nout; i++) o[i] = T::store(acc[size_t(i)]);
}
}  // namespace

RefValue run_reduce(Device& dev, const RefValue& x, const ReduceArg& arg, const Shape& out_shape) {
  RefValue out{nullptr, x.dtype, RefView::contiguous(out_shape), true};
  const int64_t nout = out.view.numel();
  out.buf = std::make_shared<Buffer>(&dev, size_t(nout) * size_t(x.itemsize()));
  std::vector<int64_t> out_strides = out.view.strides;
  for (int64_t a : arg.axes) out_strides[size_t(a)] = 0;
  with_type(x.dtype, [&](auto t) { reduce_typed<decltype(t)>(x, arg.op, out_strides, nout, out.buf->ptr()); });
  return out;
}

}  // namespace mg::ref
