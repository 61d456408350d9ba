// The tensor calls of the C ABI: argument checks, then the tensor layer, inside guarded().
#include <cstring>

#include "capi/context.h"
#include "tensor/gradient.h"
#include "tensor/tensor.h"

using mg::capi::fail;
using mg::capi::guarded;
using mg::capi::run;
namespace T = mg::tensor;

namespace {
constexpr int kNumDtypes = MG_FLOAT64 + 1;

bool valid_dtype(mg_dtype dt) { return int(dt) >= 0 && int(dt) < kNumDtypes; }
mg::DType to_dtype(mg_dtype dt) { return mg::DType{mg::Scalar(int(dt))}; }  // the enums share an order

mg::Ops to_op(mg_op op) {
  static constexpr mg::Ops kOps[] = {
      mg::Ops::EXP2, mg::Ops::LOG2, mg::Ops::SIN, mg::Ops::SQRT, mg::Ops::RECIPROCAL, mg::Ops::NEG, mg::Ops::TRUNC,
      mg::Ops::ADD, mg::Ops::SUB, mg::Ops::MUL, mg::Ops::FDIV, mg::Ops::IDIV, mg::Ops::MOD, mg::Ops::MAX, mg::Ops::POW,
      mg::Ops::CMPLT, mg::Ops::CMPNE, mg::Ops::CMPEQ, mg::Ops::AND, mg::Ops::OR, mg::Ops::XOR, mg::Ops::SHL, mg::Ops::SHR,
      mg::Ops::WHERE};
  if (int(op) < 0 || int(op) >= int(std::size(kOps))) mg::fail(mg::ErrorKind::Invalid, "unknown op " + std::to_string(int(op)));
  return kOps[int(op)];
}

mg::Shape to_shape(const int64_t* v, int n, const char* what) {
  if (n < 0) mg::fail(mg::ErrorKind::Invalid, std::string(what) + ": negative length " + std::to_string(n));
  if (n > 0 && !v) mg::fail(mg::ErrorKind::Invalid, std::string(what) + ": array is NULL");
  return mg::Shape(v, v + n);
}

mg::DType checked_dtype(mg_dtype dt) {
  if (!valid_dtype(dt)) mg::fail(mg::ErrorKind::DType, "unknown dtype " + std::to_string(int(dt)));
  return to_dtype(dt);
}

// The common shape of every call that makes a tensor: ctx and out checked, body builds it.
template <class F>
mg_status make(mg_ctx* ctx, const char* fname, mg_tensor** out, F&& body) {
  if (!ctx) return MG_ERR_INVALID;
  if (!out) return fail(ctx, MG_ERR_INVALID, (std::string(fname) + ": out must not be NULL").c_str());
  *out = nullptr;
  return guarded(ctx, fname, [&]() -> mg_status { *out = body(ctx->engine); return MG_OK; });
}
}  // namespace

extern "C" {

size_t mg_dtype_size(mg_dtype dt) { return valid_dtype(dt) ? size_t(to_dtype(dt).itemsize()) : 0; }
const char* mg_dtype_name(mg_dtype dt) { return valid_dtype(dt) ? mg::scalar_name(mg::Scalar(int(dt))) : nullptr; }
mg_dtype mg_dtype_promote(mg_dtype a, mg_dtype b) {
  if (!valid_dtype(a) || !valid_dtype(b)) return mg_dtype(-1);
  return mg_dtype(int(mg::least_upper_dtype(to_dtype(a), to_dtype(b)).scalar));
}

const char* mg_default_device(const mg_ctx* ctx) {
  return ctx && ctx->engine.default_device ? ctx->engine.default_device->name().c_str() : nullptr;
}

mg_status mg_set_default_device(mg_ctx* ctx, const char* device) {
  return run(ctx, "mg_set_default_device", [&](mg::Engine& e) {
    if (!device || !*device) mg::fail(mg::ErrorKind::Invalid, "device name is empty");
    e.default_device = T::find_device(e, device);
  });
}

mg_status mg_tensor_from_host(mg_ctx* ctx, const void* data, mg_dtype dt, const int64_t* shape, int ndim, const char* device,
                              mg_tensor** out) {
  return make(ctx, "mg_tensor_from_host", out, [&](mg::Engine& e) {
    return T::from_host(e, data, checked_dtype(dt), to_shape(shape, ndim, "shape"), T::find_device(e, device));
  });
}

mg_status mg_tensor_full(mg_ctx* ctx, double value, mg_dtype dt, const int64_t* shape, int ndim, const char* device, mg_tensor** out) {
  return make(ctx, "mg_tensor_full", out, [&](mg::Engine& e) {
    return T::full(e, mg::Arg(value), checked_dtype(dt), to_shape(shape, ndim, "shape"), T::find_device(e, device));
  });
}

mg_status mg_tensor_full_int(mg_ctx* ctx, int64_t value, mg_dtype dt, const int64_t* shape, int ndim, const char* device,
                             mg_tensor** out) {
  return make(ctx, "mg_tensor_full_int", out, [&](mg::Engine& e) {
    return T::full(e, mg::Arg(value), checked_dtype(dt), to_shape(shape, ndim, "shape"), T::find_device(e, device));
  });
}

mg_status mg_tensor_full_like(mg_ctx* ctx, double value, mg_dtype dt, const mg_tensor* like, mg_tensor** out) {
  return make(ctx, "mg_tensor_full_like", out, [&](mg::Engine& e) {
    T::check_live(like, "full_like");
    mg::DType d = checked_dtype(dt);
    mg::Arg v = d.is_float() ? mg::Arg(value) : mg::Arg(int64_t(value));
    return T::full(e, v, d, T::shape(like), like->device);
  });
}

mg_status mg_tensor_rand(mg_ctx* ctx, mg_dtype dt, const int64_t* shape, int ndim, const char* device, mg_tensor** out) {
  return make(ctx, "mg_tensor_rand", out, [&](mg::Engine& e) {
    return T::rand(e, checked_dtype(dt), to_shape(shape, ndim, "shape"), T::find_device(e, device));
  });
}

mg_status mg_manual_seed(mg_ctx* ctx, uint64_t seed) {
  return run(ctx, "mg_manual_seed", [&](mg::Engine& e) { e.rng.seed_with(seed); });
}

mg_status mg_tensor_alu(mg_ctx* ctx, mg_op op, mg_tensor* const* src, int nsrc, mg_tensor** out) {
  return make(ctx, "mg_tensor_alu", out, [&](mg::Engine& e) {
    if (nsrc < 1 || nsrc > 3 || !src) mg::fail(mg::ErrorKind::Invalid, "expected 1 to 3 source tensors, got " + std::to_string(nsrc));
    return T::alu(e, to_op(op), std::span<mg_tensor* const>(src, size_t(nsrc)));
  });
}

mg_status mg_tensor_cast(mg_ctx* ctx, mg_tensor* x, mg_dtype dt, mg_tensor** out) {
  return make(ctx, "mg_tensor_cast", out, [&](mg::Engine& e) { return T::cast(e, x, checked_dtype(dt)); });
}

mg_status mg_tensor_bitcast(mg_ctx* ctx, mg_tensor* x, mg_dtype dt, mg_tensor** out) {
  return make(ctx, "mg_tensor_bitcast", out, [&](mg::Engine& e) { return T::bitcast(e, x, checked_dtype(dt)); });
}

mg_status mg_tensor_reduce(mg_ctx* ctx, mg_reduce_op op, mg_tensor* x, const int64_t* axes, int naxes, mg_tensor** out) {
  return make(ctx, "mg_tensor_reduce", out, [&](mg::Engine& e) {
    static constexpr mg::Ops kOps[] = {mg::Ops::ADD, mg::Ops::MUL, mg::Ops::MAX};
    if (int(op) < 0 || int(op) > 2) mg::fail(mg::ErrorKind::Invalid, "unknown reduce op " + std::to_string(int(op)));
    return T::reduce(e, kOps[int(op)], x, to_shape(axes, naxes, "axes"));
  });
}

mg_status mg_tensor_movement(mg_ctx* ctx, mg_movement_op op, mg_tensor* x, const int64_t* arg, int narg, mg_tensor** out) {
  return make(ctx, "mg_tensor_movement", out, [&](mg::Engine& e) {
    static constexpr mg::Ops kOps[] = {mg::Ops::RESHAPE, mg::Ops::EXPAND, mg::Ops::PERMUTE, mg::Ops::PAD, mg::Ops::SHRINK, mg::Ops::FLIP, mg::Ops::WINDOW};
    if (int(op) < 0 || int(op) > 6) mg::fail(mg::ErrorKind::Invalid, "unknown movement op " + std::to_string(int(op)));
    return T::movement(e, kOps[int(op)], x, to_shape(arg, narg, "arg"));
  });
}

mg_status mg_tensor_contiguous(mg_ctx* ctx, mg_tensor* x, mg_tensor** out) {
  return make(ctx, "mg_tensor_contiguous", out, [&](mg::Engine& e) { return T::contiguous(e, x); });
}

mg_status mg_tensor_detach(mg_ctx* ctx, mg_tensor* x, mg_tensor** out) {
  return make(ctx, "mg_tensor_detach", out, [&](mg::Engine& e) { return T::detach(e, x); });
}

mg_status mg_tensor_to(mg_ctx* ctx, mg_tensor* x, const char* device, mg_tensor** out) {
  return make(ctx, "mg_tensor_to", out, [&](mg::Engine& e) { return T::to_device(e, x, T::find_device(e, device)); });
}

mg_status mg_tensor_assign(mg_ctx* ctx, mg_tensor* x, mg_tensor* y) {
  return run(ctx, "mg_tensor_assign", [&](mg::Engine& e) { T::assign(e, x, y); });
}

mg_status mg_tensor_gradient(mg_ctx* ctx, mg_tensor* loss, mg_tensor* const* targets, int n, mg_tensor** out) {
  if (out && n > 0)
    for (int i = 0; i < n; i++) out[i] = nullptr;
  return run(ctx, "mg_tensor_gradient", [&](mg::Engine& e) {
    if (n < 0 || (n > 0 && (!targets || !out))) mg::fail(mg::ErrorKind::Invalid, "targets or out is NULL, or n is negative");
    std::vector<mg::UOpRef> gs = T::gradient(e, loss, std::span<mg_tensor* const>(targets, size_t(n)));
    std::vector<mg_tensor*> made;
    try {
      for (int i = 0; i < n; i++) made.push_back(gs[size_t(i)] ? T::wrap(e, gs[size_t(i)], targets[i]->device) : nullptr);
    } catch (...) {
      for (mg_tensor* m : made)
        if (m) T::release(m);
      throw;
    }
    for (int i = 0; i < n; i++) out[i] = made[size_t(i)];
  });
}

mg_status mg_realize(mg_ctx* ctx, mg_tensor* const* ts, int n) {
  return run(ctx, "mg_realize", [&](mg::Engine& e) {
    if (n < 0 || (n > 0 && !ts)) mg::fail(mg::ErrorKind::Invalid, "tensor array is NULL or its length negative");
    T::realize(e, std::span<mg_tensor* const>(ts, size_t(n)));
  });
}

mg_status mg_realize_with_assigns(mg_ctx* ctx, mg_tensor* const* ts, int n) {
  return run(ctx, "mg_realize_with_assigns", [&](mg::Engine& e) {
    if (n < 0 || (n > 0 && !ts)) mg::fail(mg::ErrorKind::Invalid, "tensor array is NULL or its length negative");
    T::realize_with_assigns(e, std::span<mg_tensor* const>(ts, size_t(n)));
  });
}

mg_status mg_tensor_copyout(mg_ctx* ctx, mg_tensor* x, void* dst, size_t nbytes) {
  return run(ctx, "mg_tensor_copyout", [&](mg::Engine& e) {
    if (!dst && nbytes) mg::fail(mg::ErrorKind::Invalid, "dst is NULL");
    T::copy_out(e, x, dst, nbytes);
  });
}

mg_status mg_tensor_ptr(mg_ctx* ctx, mg_tensor* x, const void** out) {
  if (!ctx) return MG_ERR_INVALID;
  if (!out) return fail(ctx, MG_ERR_INVALID, "mg_tensor_ptr: out must not be NULL");
  return run(ctx, "mg_tensor_ptr", [&](mg::Engine& e) { *out = T::host_ptr(e, x); });
}

mg_status mg_tensor_free(mg_ctx* ctx, mg_tensor* x) {
  return run(ctx, "mg_tensor_free", [&](mg::Engine& e) { T::free_buffer(e, x); });
}

int mg_tensor_ndim(const mg_tensor* x) {
  if (!x || !x->eng || x->freed) return -1;
  return int(T::shape(x).size());
}

mg_status mg_tensor_shape(mg_ctx* ctx, const mg_tensor* x, int64_t* shape, int cap) {
  return run(ctx, "mg_tensor_shape", [&](mg::Engine&) {
    T::check_live(x, "shape");
    const mg::Shape& s = T::shape(x);
    if (cap < int(s.size()) || (!shape && !s.empty()))
      mg::fail(mg::ErrorKind::Invalid, "room for " + std::to_string(cap) + " dims, the tensor has " + std::to_string(s.size()));
    for (size_t i = 0; i < s.size(); i++) shape[i] = s[i];
  });
}

mg_dtype mg_tensor_dtype(const mg_tensor* x) {
  if (!x || !x->eng || x->freed) return mg_dtype(-1);
  return mg_dtype(int(x->uop->dtype.scalar));
}

const char* mg_tensor_device(const mg_tensor* x) { return x && x->device ? x->device->name().c_str() : nullptr; }

int mg_tensor_is_realized(const mg_tensor* x) {
  return x && x->uop && T::buffer_of(x->uop.get()) != nullptr;
}

int mg_tensor_same_shape(const mg_tensor* a, const mg_tensor* b) {
  if (!a || !b || !a->uop || !b->uop) return 0;
  return a->uop == b->uop || T::shape(a) == T::shape(b);
}

void mg_tensor_retain(mg_tensor* x) { if (x) T::retain(x); }
void mg_tensor_release(mg_tensor* x) { T::release(x); }

size_t mg_memory_used(const mg_ctx* ctx) { return ctx ? ctx->engine.runtime.bytes_in_use() : 0; }
size_t mg_memory_peak(const mg_ctx* ctx) { return ctx ? ctx->engine.runtime.peak_bytes() : 0; }
size_t mg_live_tensors(const mg_ctx* ctx) {
  size_t n = 0;
  if (ctx)
    for (const mg_tensor* t = ctx->engine.live; t; t = t->next) n++;
  return n;
}
size_t mg_live_nodes(const mg_ctx* ctx) { return ctx ? ctx->engine.uops.live() : 0; }

mg_status mg_ctx_stats(const mg_ctx* ctx, mg_stats* out) {
  if (!ctx) return MG_ERR_INVALID;
  if (!out) return mg::capi::fail(ctx, MG_ERR_INVALID, "mg_ctx_stats: out must not be NULL (expected mg_stats*)");
  const mg::RuntimeStats& s = ctx->engine.runtime.stats;
  *out = mg_stats{s.kernels_run, s.kernels_compiled, s.copies, s.schedules_made, s.schedule_cache_hits, s.backend_compiles, s.backend_cache_hits};
  return MG_OK;
}

size_t mg_ctx_compile_times(const mg_ctx* ctx, double* passes_ms, double* backend_ms, size_t cap) {
  if (!ctx) return 0;
  const mg::RuntimeStats& s = ctx->engine.runtime.stats;
  for (size_t i = 0; i < s.passes_ms.size() && i < cap; i++) {
    if (passes_ms) passes_ms[i] = s.passes_ms[i];
    if (backend_ms) backend_ms[i] = s.backend_ms[i];
  }
  return s.passes_ms.size();
}

}  // extern "C"
