// realize: compute lazy tensors into buffers, then point every handle that held one of those
// graphs at its buffer. Reading values out of realized tensors.
#include <algorithm>
#include <unordered_map>

#include "runtime/executor.h"
#include "tensor/jit.h"
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

std::vector<UOpRef> realize_on(Engine& e, Device* d, std::vector<UOpRef> roots, std::vector<BufferRef> into = {});

// The graphs with every variable size replaced by its bound value, for devices that evaluate
// graphs (REF): they work on numbers.
std::vector<UOpRef> with_values(Engine& e, const std::vector<UOpRef>& roots) {
  UOpRef s = sink(roots);
  UOpRef out = rebuild(s, [&](const UOp* u, const std::vector<UOpRef>& src) -> UOpRef {
    const auto* v = std::get_if<std::vector<int64_t>>(&u->arg);  // sizes, but not PERMUTE's or FLIP's axes
    if (!v || u->op == Ops::PERMUTE || u->op == Ops::FLIP || std::none_of(v->begin(), v->end(), is_sym)) return nullptr;
    std::vector<int64_t> arg = *v;
    for (int64_t& d : arg)
      if (is_sym(d)) d = *e.runtime.var_value(e.uops.sym_var(d).get());
    return e.uops.make(u->op, u->dtype, src, std::move(arg));
  });
  return out == s ? roots : std::vector<UOpRef>(out->src.begin(), out->src.end());
}

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

// Computes roots (all on d) into new buffers, or into the memory into[i] where given; returns
// a realized view for each.
std::vector<UOpRef> realize_on(Engine& e, Device* d, std::vector<UOpRef> roots, std::vector<BufferRef> into) {
  std::vector<BufferRef> bufs;
  if (d->evaluates_graphs()) {
    if (e.runtime.recording && e.runtime.recording->unsupported.empty())
      e.runtime.recording->unsupported = "device " + d->name() + " evaluates graphs: it has no kernels to replay";
    bufs = d->evaluate(with_values(e, roots));
    for (size_t i = 0; i < into.size(); i++)
      if (into[i]) {
        copy_buffer(e.runtime, *d, into[i], bufs[i], into[i]->nbytes());
        bufs[i] = into[i];
      }
  } else {
    roots = realize_copy_sources(e, std::move(roots));
    bufs = realize_compiled(e.runtime, *d, roots, into, e.tracing ? &e.trace : nullptr);
  }
  std::vector<UOpRef> views;
  // a realized tensor has the shape of the values bound now (its buffer holds the largest)
  for (size_t i = 0; i < roots.size(); i++) views.push_back(buffer_view(e, d, roots[i]->dtype, concrete(e, *roots[i]->shape()), std::move(bufs.at(i))));
  return views;
}

// An assign overwrites its tensor's memory (into[i], a BUFFER node). Whatever else still reads
// the old contents -- a lazy tensor not realized now, a view made before the assign -- must
// keep seeing them: the node is then bound to a copy of them, and the memory written is no
// longer that node's. Readers are found by reference counts: a node held more often than
// this call accounts for (the roots list, the sink below, edges inside the graph, handles at
// a root, the targets of handles at a root) is read from outside, and so is all under it.
// Miscounting can only see a reader too many, which costs a copy.
void keep_old_contents_for_readers(Engine& e, const std::vector<UOpRef>& roots, const std::vector<const UOp*>& into) {
  UOpRef s = sink(roots);
  const std::vector<UOp*>& g = s->toposort();
  std::unordered_map<const UOp*, int64_t> held;  // references accounted for
  held.reserve(g.size());
  for (const UOp* u : g)
    for (const UOpRef& x : u->src) held[x.get()]++;
  for (const UOpRef& r : roots) held[r.get()]++;
  std::unordered_map<const UOp*, bool> is_root;
  for (const UOpRef& r : roots) is_root[r.get()] = true;
  for (const mg_tensor* h = e.live; h; h = h->next) {
    if (!h->uop || !is_root.count(h->uop.get())) continue;
    held[h->uop.get()]++;
    if (h->target) held[h->target.get()]++;
  }
  std::unordered_map<const UOp*, bool> read_outside;
  for (auto it = g.rbegin(); it != g.rend(); ++it) {
    const UOp* u = *it;
    if (u == s.get()) continue;
    bool outside = read_outside.count(u) || int64_t(u->use_count()) > held[u];
    if (!outside) continue;
    read_outside[u] = true;
    for (const UOpRef& x : u->src) read_outside[x.get()] = true;
  }
  for (const UOp* b : into) {
    if (!b || (!read_outside.count(b) && int64_t(b->use_count()) <= held[b])) continue;
    move_to_copy(e, b);
  }
}
}  // namespace

void move_to_copy(Engine& e, const UOp* b) { e.runtime.bind(b, copy_of(e.runtime, e.runtime.buffer(b))); }

void realize(Engine& e, std::span<mg_tensor* const> ts) {
  std::vector<UOpRef> roots;
  std::vector<Device*> devs;
  std::unordered_map<const UOp*, size_t> index;
  for (mg_tensor* t : ts) {
    check_live(t, "realize");
    if (const UOp* b = buffer_of(t->uop.get())) {
      if (t->target.get() == b) t->target = UOpRef();
      continue;
    }
    if (index.emplace(t->uop.get(), roots.size()).second) {
      roots.push_back(t->uop);
      devs.push_back(t->device);
    }
  }
  if (roots.empty()) return;
  // Assigned tensors keep their memory: the first handle at a root with a target gives it.
  std::vector<const UOp*> into(roots.size(), nullptr);
  std::vector<BufferRef> into_mem(roots.size());
  bool any_into = false;
  for (const mg_tensor* h = e.live; h; h = h->next) {
    if (!h->target || !h->uop) continue;
    auto it = index.find(h->uop.get());
    if (it == index.end() || into[it->second] || h->device != devs[it->second]) continue;
    bool taken = false;
    for (const UOp* b : into) taken = taken || b == h->target.get();
    if (!taken) {
      into[it->second] = h->target.get();
      into_mem[it->second] = e.runtime.buffer(h->target.get());
      any_into = true;
      if (Jit* j = e.jits->capturing) j->note_assign(const_cast<mg_tensor*>(h), into_mem[it->second]);
    }
  }
  if (any_into) keep_old_contents_for_readers(e, roots, into);
  std::unordered_map<const UOp*, UOpRef> done;
  for (size_t k = 0; k < roots.size(); k++) {  // one schedule per device, over all its roots
    Device* d = devs[k];
    if (done.count(roots[k].get())) continue;
    std::vector<UOpRef> mine;
    std::vector<BufferRef> mine_into;
    for (size_t i = 0; i < roots.size(); i++)
      if (devs[i] == d && !done.count(roots[i].get())) {
        mine.push_back(roots[i]);
        mine_into.push_back(into_mem[i]);
      }
    std::vector<UOpRef> views = realize_on(e, d, mine, mine_into);
    for (size_t i = 0; i < mine.size(); i++) done[mine[i].get()] = views[i];
  }
  for (mg_tensor* h = e.live; h; h = h->next) {
    if (!h->uop) continue;
    auto it = done.find(h->uop.get());
    if (it == done.end()) continue;
    h->uop = it->second;
    h->target = UOpRef();
  }
}

void realize_with_assigns(Engine& e, std::span<mg_tensor* const> ts) {
  std::vector<mg_tensor*> all(ts.begin(), ts.end());
  for (mg_tensor* t : ts) check_live(t, "realize");
  for (mg_tensor* h = e.live; h; h = h->next)
    if (h->target && h->uop && !buffer_of(h->uop.get())) all.push_back(h);
  realize(e, all);
}

void copy_out(Engine& e, mg_tensor* t, void* dst, size_t nbytes) {
  check_live(t, "copy_out");
  size_t want = 0;
  const Shape s = concrete(e, shape(t));
  if (__builtin_mul_overflow(size_t(numel(s)), size_t(t->uop->dtype.itemsize()), &want))
    fail(ErrorKind::OOM, "copy_out: the tensor " + shape_str(s) + " needs more bytes than memory can address");
  if (nbytes != want)
    fail(ErrorKind::Invalid, "copy_out: destination holds " + std::to_string(nbytes) + " bytes, the tensor " + shape_str(s) + " " +
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
  t->target = UOpRef();
  t->freed = true;
}

}  // namespace mg::tensor
