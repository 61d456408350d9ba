// realize: compute lazy tensors into buffers, then point every handle that held one of those
// graphs at its buffer. Reading values out of realized tensors.
#include <unordered_map>

#include "runtime/executor.h"
#include "tensor/tensor.h"
#include "uop/error.h"

namespace mg::tensor {

// A realized tensor is a BUFFER, or a RESHAPE of one.
const UOp* buffer_of(const UOp* u) {
  if (u->op == Ops::BUFFER) return u;
  if (u->op == Ops::RESHAPE && u->src[0]->op == Ops::BUFFER) return u->src[0].get();
  return nullptr;
}


namespace {
// The device a lazy value is computed on: that of the leaf or COPY it comes from.
Device* device_of(Engine& e, const UOp* u) {
  for (;;) {
    const UOp* d = nullptr;
    if (u->op == Ops::COPY || u->op == Ops::BUFFER) d = u->src.at(1).get();
    else if (u->op == Ops::CONST) d = u->src.at(0).get();
    if (d) return e.runtime.device(std::get<std::string>(d->arg));
    if (u->src.empty()) fail(ErrorKind::Internal, "realize: no device for " + node_str(u));
    u = u->src[0].get();
  }
}

std::vector<UOpRef> realize_on(Engine& e, Device* d, std::vector<UOpRef> roots);

// Compiling devices see only realized values across devices: the sources of COPY nodes that
// are still lazy are realized on their own devices first, and the graphs rebuilt on them.
std::vector<UOpRef> realize_copy_sources(Engine& e, std::vector<UOpRef> roots) {
  std::vector<UOp*> lazy;
  UOpRef s = sink(roots);
  for (UOp* u : s->toposort())
    if (u->op == Ops::COPY && !buffer_of(u->src[0].get())) lazy.push_back(u->src[0].get());
  if (lazy.empty()) return roots;
  std::unordered_map<const UOp*, UOpRef> done;
  for (UOp* x : lazy)
    if (!done.count(x)) done[x] = realize_on(e, device_of(e, x), {x->ref()}).at(0);
  UOpRef rebuilt = substitute(s, done);
  roots.assign(rebuilt->src.begin(), rebuilt->src.end());
  return roots;
}

// Computes roots (all on d) into new buffers; returns a realized view for each.
std::vector<UOpRef> realize_on(Engine& e, Device* d, std::vector<UOpRef> roots) {
  std::vector<BufferRef> bufs;
  if (d->evaluates_graphs()) bufs = d->evaluate(roots);
  else {
    roots = realize_copy_sources(e, std::move(roots));
    bufs = realize_compiled(e.runtime, *d, roots, e.tracing ? &e.trace : nullptr);
  }
  std::vector<UOpRef> views;
  for (size_t i = 0; i < roots.size(); i++) views.push_back(buffer_view(e, d, roots[i]->dtype, *roots[i]->shape(), std::move(bufs.at(i))));
  return views;
}
}  // namespace

void realize(Engine& e, std::span<mg_tensor* const> ts) {
  std::vector<UOpRef> roots;
  std::vector<Device*> devs;
  for (mg_tensor* t : ts) {
    check_live(t, "realize");
    if (buffer_of(t->uop.get())) continue;
    bool seen = false;
    for (const UOpRef& r : roots) seen = seen || r == t->uop;
    if (!seen) { roots.push_back(t->uop); devs.push_back(t->device); }
  }
  if (roots.empty()) return;
  std::unordered_map<const UOp*, UOpRef> done;
  for (size_t k = 0; k < roots.size(); k++) {  // one schedule per device, over all its roots
    Device* d = devs[k];
    if (done.count(roots[k].get())) continue;
    std::vector<UOpRef> mine;
    for (size_t i = 0; i < roots.size(); i++)
      if (devs[i] == d && !done.count(roots[i].get())) mine.push_back(roots[i]);
    std::vector<UOpRef> views = realize_on(e, d, mine);
    for (size_t i = 0; i < mine.size(); i++) done[mine[i].get()] = views[i];
  }
  for (mg_tensor* h = e.live; h; h = h->next) {
    if (!h->uop) continue;
    auto it = done.find(h->uop.get());
    if (it != done.end()) h->uop = it->second;
  }
}

void copy_out(Engine& e, mg_tensor* t, void* dst, size_t nbytes) {
  check_live(t, "copy_out");
  size_t want = 0;
  if (__builtin_mul_overflow(size_t(numel(shape(t))), size_t(t->uop->dtype.itemsize()), &want))
    fail(ErrorKind::OOM, "copy_out: the tensor " + shape_str(shape(t)) + " needs more bytes than memory can address");
  if (nbytes != want)
    fail(ErrorKind::Invalid, "copy_out: destination holds " + std::to_string(nbytes) + " bytes, the tensor " + shape_str(shape(t)) + " " +
                                 t->uop->dtype.name() + " needs " + std::to_string(want));
  realize(e, std::span<mg_tensor* const>(&t, 1));
  if (!want) return;
  const BufferRef& b = e.runtime.buffer(buffer_of(t->uop.get()));
  b->device()->copy_out(dst, b->ptr(), want);
}

const void* host_ptr(Engine& e, mg_tensor* t) {
  check_live(t, "ptr");
  realize(e, std::span<mg_tensor* const>(&t, 1));
  const BufferRef& b = e.runtime.buffer(buffer_of(t->uop.get()));
  if (!b->device()->host_visible()) fail(ErrorKind::Device, "ptr: tensor is on " + b->device()->name() + ", not in host memory (use to(\"CPU\"))");
  return b->ptr();
}

void free_buffer(Engine& e, mg_tensor* t) {
  check_live(t, "free");
  if (const UOp* b = buffer_of(t->uop.get())) e.runtime.unbind(b);
  t->uop = UOpRef();
  t->freed = true;
}

}  // namespace mg::tensor
