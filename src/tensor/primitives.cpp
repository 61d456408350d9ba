// Primitive graph building: every check happens here, when the graph is built.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/jit.h"
#include "tensor/tensor.h"
#include "uop/error.h"
#include "uop/exec_alu.h"

namespace mg::tensor {

namespace {
std::string lower(const char* s) {
  std::string r(s);
  for (char& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

UOpRef device_node(Engine& e, Device* dev) { return e.uops.make(Ops::DEVICE, dtypes::void_, {}, dev->name()); }

// Sizes >= 0, or variables of this context where `variables` allows them.
void check_shape(Engine& e, const Shape& s, const char* op, bool variables) {
  for (int64_t d : s) {
    if (is_sym(d) && d - kSymDim < int64_t(e.uops.sym_count())) {
      if (!variables) fail(ErrorKind::Shape, std::string(op) + ": shape " + shape_str(s, e.uops) + " cannot have a variable size here");
    } else if (d < 0) {
      fail(ErrorKind::Shape, std::string(op) + ": negative size in shape " + shape_str(s));
    }
  }
}

// The same number of elements for every value of the variables: equal products of the
// numbers and the same variables.
bool same_numel(Engine& e, Shape a, Shape b) {
  auto split = [&](Shape& s) {
    Shape vars;
    int64_t n = 1;
    for (int64_t d : s) {
      if (is_sym(d)) vars.push_back(d);
      else if (__builtin_mul_overflow(n, d, &n)) fail(ErrorKind::Shape, "shape " + shape_str(s, e.uops) + " has more elements than fit in 64 bits");
    }
    std::sort(vars.begin(), vars.end());
    vars.push_back(n);
    return vars;
  };
  Shape x = split(a), y = split(b);
  return x == y || (x.back() == 0 && y.back() == 0);
}

// Which dtypes each op takes.
bool dtype_ok(Ops op, DType dt) {
  switch (op) {
    case Ops::EXP2: case Ops::LOG2: case Ops::SIN: case Ops::SQRT: case Ops::RECIPROCAL: case Ops::FDIV:
    case Ops::POW: case Ops::TRUNC:
      return dt.is_float() || (op == Ops::POW && dt.is_int());
    case Ops::IDIV: case Ops::SHL: case Ops::SHR: return dt.is_int();
    case Ops::MOD: return dt.is_int() || dt.is_float();
    case Ops::AND: case Ops::OR: case Ops::XOR: return dt.is_int() || dt.is_bool();
    case Ops::NEG: return !dt.is_bool();
    default: return true;
  }
}
}  // namespace

// A new BUFFER node (its own UNIQUE keeps it apart from every other) bound to b, viewed as s.
UOpRef buffer_view(Engine& e, Device* dev, DType dt, const Shape& s, BufferRef b) {
  UOpRef unique = e.uops.make(Ops::UNIQUE, dtypes::void_, {}, e.next_unique++);
  UOpRef buf = e.uops.make(Ops::BUFFER, dt, {unique, device_node(e, dev)}, numel(s));
  e.runtime.bind(buf.get(), std::move(b));
  if (s.size() == 1) return buf;
  return e.uops.make(Ops::RESHAPE, dt, {buf}, s);
}

mg_tensor* from_host(Engine& e, const void* data, DType dt, const Shape& s, Device* dev) {
  check_shape(e, s, "from_host", false);
  int64_t n = numel(s);
  size_t nbytes = 0;
  if (__builtin_mul_overflow(size_t(n), size_t(dt.itemsize()), &nbytes))
    fail(ErrorKind::OOM, "from_host: " + shape_str(s) + " " + dt.name() + " needs more bytes than memory can address");
  if (n && !data) fail(ErrorKind::Invalid, "from_host: data is NULL for " + std::to_string(n) + " elements");
  BufferRef b = std::make_shared<Buffer>(dev, nbytes);
  if (nbytes) dev->copy_in(b->ptr(), data, nbytes);
  if (Jit* j = e.jits->capturing) j->note_host(b, data, nbytes);
  return wrap(e, buffer_view(e, dev, dt, s, std::move(b)), dev);
}

mg_tensor* full(Engine& e, const Arg& value, DType dt, const Shape& s, Device* dev) {
  check_shape(e, s, "full", true);
  e.uops.numel_max(s);  // fails when the count overflows
  Arg v = std::holds_alternative<double>(value) ? make_const(dt, std::get<double>(value))
                                                : make_const(dt, i128(std::get<int64_t>(value)));
  UOpRef c = e.uops.make(Ops::CONST, dt, {device_node(e, dev)}, v);
  if (!s.empty()) {
    c = e.uops.make(Ops::RESHAPE, dt, {c}, Shape(s.size(), 1));
    if (std::any_of(s.begin(), s.end(), [](int64_t d) { return d != 1; })) c = e.uops.make(Ops::EXPAND, dt, {c}, s);
  }
  return wrap(e, c, dev);
}

void random_fill(Rng& rng, DType dt, int64_t n, unsigned char* out) {
  for (int64_t i = 0; i < n; i++) {
    double r = rng.uniform();  // in [0, 1); rounding to a shorter float may reach 1: clamp below it
    unsigned char* p = out + i * dt.itemsize();
    switch (dt.scalar) {
      case Scalar::Float64: std::memcpy(p, &r, 8); break;
      case Scalar::Float32: { float f = float(r); if (f >= 1.0f) f = std::nextafter(1.0f, 0.0f); std::memcpy(p, &f, 4); break; }
      case Scalar::Float16: { uint16_t h = float_to_half(float(r)); if (h >= 0x3c00) h = 0x3bff; std::memcpy(p, &h, 2); break; }
      default: { uint16_t h = float_to_bf16(float(r)); if (h >= 0x3f80) h = 0x3f7f; std::memcpy(p, &h, 2); break; }
    }
  }
}

mg_tensor* rand(Engine& e, DType dt, const Shape& s, Device* dev) {
  check_shape(e, s, "rand", false);
  if (!dt.is_float()) fail(ErrorKind::DType, "rand: dtype must be a float type, got " + dt.name());
  int64_t n = numel(s);
  std::vector<unsigned char> host(size_t(n) * dt.itemsize());
  random_fill(e.rng, dt, n, host.data());
  mg_tensor* t = from_host(e, host.data(), dt, s, dev);
  if (Jit* j = e.jits->capturing) j->note_rand(e.runtime.buffer(buffer_of(t->uop.get())), dt, n);
  return t;
}

mg_tensor* alu(Engine& e, Ops op, std::span<mg_tensor* const> src) {
  std::string name = lower(op_name(op));
  int arity = op_group(op) == OpGroup::Unary ? 1 : op_group(op) == OpGroup::Binary ? 2 : 3;
  if (!is_alu(op) || op == Ops::MULACC || op == Ops::THREEFRY) fail(ErrorKind::Invalid, "alu: " + name + " is not an elementwise op");
  if (int(src.size()) != arity)
    fail(ErrorKind::Invalid, name + ": takes " + std::to_string(arity) + " operands, got " + std::to_string(src.size()));
  for (mg_tensor* t : src) check_live(t, name.c_str());
  const mg_tensor* first = src[0];
  const Shape& s = shape(first);
  for (mg_tensor* t : src) {
    if (shape(t) != s) fail(ErrorKind::Shape, name + ": shapes " + shape_str(s, e.uops) + " and " + shape_str(shape(t), e.uops) + " differ (expand first)");
    if (t->device != first->device)
      fail(ErrorKind::Device, name + ": tensors on " + first->device->name() + " and " + t->device->name() + " (move one with to())");
  }
  size_t vi = op == Ops::WHERE ? 1 : 0;  // the operands that carry the value dtype
  DType dt = src[vi]->uop->dtype;
  if (op == Ops::WHERE && !src[0]->uop->dtype.is_bool())
    fail(ErrorKind::DType, "where: condition must be bool, got " + src[0]->uop->dtype.name());
  for (size_t i = vi; i < src.size(); i++)
    if (src[i]->uop->dtype != dt)
      fail(ErrorKind::DType, name + ": dtypes " + dt.name() + " and " + src[i]->uop->dtype.name() + " differ (cast first)");
  if (!dtype_ok(op, dt)) fail(ErrorKind::DType, name + ": not defined for " + dt.name());
  std::vector<UOpRef> srcs;
  for (mg_tensor* t : src) srcs.push_back(t->uop);
  return wrap(e, mg::alu(op, std::move(srcs)), first->device);
}

mg_tensor* cast(Engine& e, mg_tensor* x, DType dt) {
  check_live(x, "cast");
  if (dt.is_void() || dt.is_ptr() || dt.is_vec() || dt.scalar == Scalar::Index) fail(ErrorKind::DType, "cast: cannot cast to " + dt.name());
  if (x->uop->dtype == dt) return wrap(e, x->uop, x->device);
  return wrap(e, e.uops.make(Ops::CAST, dt, {x->uop}), x->device);
}

mg_tensor* bitcast(Engine& e, mg_tensor* x, DType dt) {
  check_live(x, "bitcast");
  if (dt.is_void() || dt.is_ptr() || dt.is_vec() || dt.scalar == Scalar::Index || dt.itemsize() != x->uop->dtype.itemsize())
    fail(ErrorKind::DType, "bitcast: cannot bitcast " + x->uop->dtype.name() + " to " + dt.name() + " (sizes must match)");
  return wrap(e, e.uops.make(Ops::BITCAST, dt, {x->uop}), x->device);
}

mg_tensor* reduce(Engine& e, Ops op, mg_tensor* x, std::vector<int64_t> axes) {
  check_live(x, "reduce");
  const char* name = op == Ops::ADD ? "sum" : op == Ops::MUL ? "prod" : op == Ops::MAX ? "max" : "reduce";
  if (op != Ops::ADD && op != Ops::MUL && op != Ops::MAX) fail(ErrorKind::Invalid, "reduce: op must be ADD, MUL or MAX");
  const Shape& s = shape(x);
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); i++) {
    if (axes[i] < 0 || axes[i] >= int64_t(s.size()))
      fail(ErrorKind::Index, std::string(name) + ": axis " + std::to_string(axes[i]) + " out of range for shape " + shape_str(s, e.uops));
    if (i && axes[i] == axes[i - 1]) fail(ErrorKind::Index, std::string(name) + ": axis " + std::to_string(axes[i]) + " given twice");
  }
  if (x->uop->dtype.is_bool() && op != Ops::MAX) fail(ErrorKind::DType, std::string(name) + ": not defined for bool (cast first)");
  if (axes.empty()) return wrap(e, x->uop, x->device);
  return wrap(e, e.uops.make(Ops::REDUCE_AXIS, x->uop->dtype, {x->uop}, ReduceArg{op, std::move(axes)}), x->device);
}

mg_tensor* movement(Engine& e, Ops op, mg_tensor* x, std::vector<int64_t> arg) {
  std::string name = lower(op_name(op));
  check_live(x, name.c_str());
  const Shape& s = shape(x);
  auto bad = [&](const std::string& why) { fail(ErrorKind::Shape, name + ": " + why); };
  switch (op) {
    case Ops::RESHAPE:
      check_shape(e, arg, "reshape", true);
      if (!same_numel(e, arg, s)) bad("cannot reshape " + shape_str(s, e.uops) + " to " + shape_str(arg, e.uops) + " (the element counts differ)");
      if (arg == s) return wrap(e, x->uop, x->device);
      break;
    case Ops::EXPAND:
      check_shape(e, arg, "expand", true);
      if (arg.size() != s.size()) bad("cannot expand " + shape_str(s, e.uops) + " to " + shape_str(arg, e.uops) + " (dims differ in number)");
      for (size_t i = 0; i < s.size(); i++)
        if (s[i] != arg[i] && s[i] != 1)
          bad("cannot expand " + shape_str(s, e.uops) + " to " + shape_str(arg, e.uops) + ": dim " + std::to_string(i) + " must be 1 or the same");
      if (arg == s) return wrap(e, x->uop, x->device);
      break;
    case Ops::PERMUTE: {
      std::vector<int64_t> sorted = arg;
      std::sort(sorted.begin(), sorted.end());
      bool ok = arg.size() == s.size();
      for (size_t i = 0; ok && i < sorted.size(); i++) ok = sorted[i] == int64_t(i);
      if (!ok) bad("order " + shape_str(arg) + " is not a permutation of the dims of " + shape_str(s));
      break;
    }
    case Ops::PAD: case Ops::SHRINK: {
      if (arg.size() != 2 * s.size()) bad("needs one {before, after} pair per dim of " + shape_str(s) + ", got " + std::to_string(arg.size()) + " numbers");
      for (size_t i = 0; i < s.size(); i++) {
        int64_t a = arg[2 * i], b = arg[2 * i + 1];
        // variables: a shrink may end at one (from 0, within the dim), a variable dim stays whole
        if (is_sym(a) || (op == Ops::PAD && is_sym(b))) bad("only a shrink's end may be a variable, got " + shape_str(arg, e.uops));
        if (is_sym(b)) {
          check_shape(e, {b}, "shrink", true);
          if (a != 0 || (b != s[i] && (is_sym(s[i]) || e.uops.dim_max(b) > s[i])))
            bad("a variable end must start at 0 and stay within the dim: " + shape_str(arg, e.uops) + " of " + shape_str(s, e.uops));
          continue;
        }
        if (is_sym(s[i])) {
          if (a != 0 || (op == Ops::PAD && b != 0) || op == Ops::SHRINK)
            bad("a dim of variable size can only be kept whole: " + shape_str(arg, e.uops) + " of " + shape_str(s, e.uops));
          continue;
        }
        if (op == Ops::PAD && (a < 0 || b < 0)) bad("negative padding " + shape_str(arg));
        if (op == Ops::SHRINK && (a < 0 || b < a || b > s[i]))
          bad("range [" + std::to_string(a) + ", " + std::to_string(b) + ") out of bounds for a dim of size " + std::to_string(s[i]) + " in " + shape_str(s));
      }
      break;
    }
    case Ops::FLIP:
      for (int64_t a : arg)
        if (a < 0 || a >= int64_t(s.size())) bad("axis " + std::to_string(a) + " out of range for shape " + shape_str(s, e.uops));
      if (arg.empty()) return wrap(e, x->uop, x->device);
      std::sort(arg.begin(), arg.end());
      arg.erase(std::unique(arg.begin(), arg.end()), arg.end());
      break;
    case Ops::WINDOW:
      check_shape(e, arg, "window", false);
      window_shape(s, arg);  // fails naming the shape and the triples
      break;
    default: fail(ErrorKind::Invalid, name + ": not a movement op");
  }
  return wrap(e, e.uops.make(op, x->uop->dtype, {x->uop}, std::move(arg)), x->device);
}

mg_tensor* contiguous(Engine& e, mg_tensor* x) {
  check_live(x, "contiguous");
  return wrap(e, e.uops.make(Ops::CONTIGUOUS, x->uop->dtype, {x->uop}), x->device);
}

mg_tensor* detach(Engine& e, mg_tensor* x) {
  check_live(x, "detach");
  return wrap(e, e.uops.make(Ops::DETACH, x->uop->dtype, {x->uop}), x->device);
}

mg_tensor* to_device(Engine& e, mg_tensor* x, Device* dev) {
  check_live(x, "to");
  if (dev == x->device) return wrap(e, x->uop, dev);
  return wrap(e, e.uops.make(Ops::COPY, x->uop->dtype, {x->uop, device_node(e, dev)}), dev);
}

void assign(Engine& e, mg_tensor* x, mg_tensor* y) {
  check_live(x, "assign");
  check_live(y, "assign");
  if (shape(x) != shape(y)) fail(ErrorKind::Shape, "assign: shapes " + shape_str(shape(x), e.uops) + " and " + shape_str(shape(y), e.uops) + " differ");
  if (x->uop->dtype != y->uop->dtype) fail(ErrorKind::DType, "assign: dtypes " + x->uop->dtype.name() + " and " + y->uop->dtype.name() + " differ");
  if (x->device != y->device) fail(ErrorKind::Device, "assign: devices " + x->device->name() + " and " + y->device->name() + " differ");
  if (!x->target)
    if (const UOp* b = buffer_of(x->uop.get())) x->target = b->ref();
  const UOp* from = buffer_of(y->uop.get());
  // A realized value of other memory is copied in by a kernel: realize computes only lazy roots.
  x->uop = x->target && from && from != x->target.get() ? e.uops.make(Ops::CONTIGUOUS, y->uop->dtype, {y->uop}) : y->uop;
}

}  // namespace mg::tensor
