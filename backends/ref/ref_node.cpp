#include <cstring>

#include "backends/ref/ref_arg.h"
#include "backends/ref/ref_elementwise.h"
#include "backends/ref/ref_gather.h"
#include "backends/ref/ref_node.h"
#include "backends/ref/ref_reduce.h"
#include "runtime/runtime.h"
#include "uop/error.h"

namespace mg::ref {

namespace {
const std::vector<int64_t>& ints(const UOp* u) { return std::get<std::vector<int64_t>>(u->arg); }

// A BUFFER reads the memory bound to it; on another device it is copied out first.
RefValue buffer_value(Device& dev, const UOp* u) {
  const BufferRef& b = dev.runtime().buffer(u);  // Error(Freed) when its buffer was freed
  const int64_t n = std::get<int64_t>(u->arg);
  const size_t need = size_t(n) * size_t(u->dtype.itemsize());
  if (b->nbytes() < need)
    fail(ErrorKind::Internal, "REF: " + node_str(u) + " is bound to " + std::to_string(b->nbytes()) + " bytes, it needs " + std::to_string(need));
  if (b->device() == &dev) return RefValue{b, u->dtype, RefView::contiguous({n}), false};
  auto copy = std::make_shared<Buffer>(&dev, need);
  if (need) b->device()->copy_out(copy->ptr(), b->ptr(), need);
  return RefValue{std::move(copy), u->dtype, RefView::contiguous({n}), true};
}

RefValue const_value(Device& dev, const UOp* u) {
  auto b = std::make_shared<Buffer>(&dev, size_t(u->dtype.itemsize()));
  store_arg(u->dtype, u->arg, b->ptr());
  return RefValue{std::move(b), u->dtype, RefView::contiguous({}), true};
}

RefValue with_view(const RefValue& v, RefView view) { return RefValue{v.buf, v.dtype, std::move(view), v.owned}; }

RefValue reshape(Device& dev, const RefValue& v, const Shape& s) {
  if (std::optional<RefView> r = v.view.reshape(s)) return with_view(v, std::move(*r));
  RefValue c = materialize(dev, v);  // padded or non-mergeable strides: copy, then regroup
  c.view = *c.view.reshape(s);
  return c;
}

RefValue window(Device& dev, const RefValue& v, const std::vector<int64_t>& k_s_d) {
  if (std::optional<RefView> r = v.view.window(k_s_d)) return with_view(v, std::move(*r));
  RefValue c = materialize(dev, v);  // padded: copy, then window the plain buffer
  c.view = *c.view.window(k_s_d);
  return c;
}
}  // namespace

size_t value_src_count(const UOp* u) {
  switch (u->op) {
    case Ops::BUFFER: case Ops::CONST: return 0;
    case Ops::COPY: return 1;
    default: return u->src.size();
  }
}

RefValue materialize(Device& dev, const RefValue& v) {
  RefValue out{nullptr, v.dtype, RefView::contiguous(v.view.shape), true};
  const int64_t n = out.view.numel();
  out.buf = std::make_shared<Buffer>(&dev, size_t(n) * size_t(v.itemsize()));
  gather(v, 0, n, out.buf->ptr());
  return out;
}

RefValue eval_node(Device& dev, const UOp* u, std::span<const RefValue* const> srcs) {
  // Graphs come from the checked tensor layer; these checks only keep a malformed one from
  // reading out of bounds.
  size_t want = 1;  // movement, CAST, BITCAST, REDUCE_AXIS, CONTIGUOUS, DETACH, COPY
  switch (op_group(u->op)) {
    case OpGroup::Define: want = 0; break;
    case OpGroup::Binary: want = 2; break;
    case OpGroup::Ternary: want = 3; break;
    default: break;
  }
  if (srcs.size() != want || !u->shape()) fail(ErrorKind::Invalid, "REF cannot evaluate " + node_str(u));
  switch (u->op) {
    case Ops::BUFFER: return buffer_value(dev, u);
    case Ops::CONST: return const_value(dev, u);
    case Ops::RESHAPE: return reshape(dev, *srcs[0], ints(u));
    case Ops::EXPAND: return with_view(*srcs[0], srcs[0]->view.expand(ints(u)));
    case Ops::PERMUTE: return with_view(*srcs[0], srcs[0]->view.permute(ints(u)));
    case Ops::PAD: return with_view(*srcs[0], srcs[0]->view.pad(ints(u)));
    case Ops::SHRINK: return with_view(*srcs[0], srcs[0]->view.shrink(ints(u)));
    case Ops::FLIP: return with_view(*srcs[0], srcs[0]->view.flip(ints(u)));
    case Ops::WINDOW: return window(dev, *srcs[0], ints(u));
    case Ops::CONTIGUOUS: case Ops::DETACH: case Ops::COPY: return *srcs[0];
    case Ops::BITCAST: {
      // Same bits read as another type: only the dtype changes (padding stays all-zero bits).
      if (u->dtype.itemsize() != srcs[0]->itemsize()) fail(ErrorKind::Invalid, "REF: BITCAST between sizes: " + node_str(u));
      RefValue v = *srcs[0];
      v.dtype = u->dtype;
      return v;
    }
    case Ops::CAST: {
      AluCall call{Ops::CAST, u->dtype, srcs[0]->dtype};
      return run_elementwise(dev, pick_cast_kernel(call.in, call.out), call, srcs, *u->shape());
    }
    case Ops::REDUCE_AXIS: return run_reduce(dev, *srcs[0], std::get<ReduceArg>(u->arg), *u->shape());
    default: break;
  }
  if (!is_alu(u->op)) fail(ErrorKind::Invalid, "REF cannot evaluate " + node_str(u));
  const size_t vi = u->op == Ops::WHERE ? 1 : 0;  // the operands that carry the value dtype
  AluCall call{u->op, u->dtype, srcs[vi]->dtype};
  return run_elementwise(dev, pick_alu_kernel(call.op, call.in), call, srcs, *u->shape());
}

}  // namespace mg::ref
