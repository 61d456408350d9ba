#include "tensor/jit.h"

#include <algorithm>

#include "runtime/executor.h"
#include "uop/error.h"

namespace mg::tensor {

Jit& Jits::get(int64_t id) {
  auto it = by_id.find(id);
  if (it == by_id.end()) fail(ErrorKind::Invalid, "jit: no jit with id " + std::to_string(id) + " (freed?)");
  return *it->second;
}

Jit::~Jit() { reset(); }

void Jit::reset() noexcept {
  for (Reg& r : regs_)
    if (r.handle) release(r.handle);
  regs_.clear();
  steps_.clear();
  draws_.clear();
  args_.clear();
  outs_.clear();
  written_.clear();
  patches_.clear();
  launches_.clear();
  per_call_.clear();
  fresh_.clear();
  captured_ = false;
  unsupported_.clear();
  rec_.reset();
  arg_bufs_.clear();
  before_.clear();
  drop_assigned();
  drawn_.clear();
  host_made_.clear();
}

void Jit::drop_assigned() noexcept {
  for (auto& [buf, h] : assigned_) release(h);
  assigned_.clear();
}

size_t Jit::kernels() const {
  size_t n = 0;
  for (const Step& s : steps_) n += s.kernel != nullptr;
  return n;
}

std::string Jit::describe() const {
  static const char* kNames[] = {"arg", "state", "rand", "const", "internal", "output"};
  std::string s = "jit: captured " + std::to_string(kernels()) + " kernel(s), " + std::to_string(steps_.size() - kernels()) + " copy(ies), " +
                  std::to_string(regs_.size()) + " buffer(s), " + std::to_string(internal_bytes()) + " bytes kept for intermediates";
  if (regs_.size() > 64) return s;
  for (const Step& st : steps_) {
    s += "\n  " + (st.kernel ? st.kernel->kernel.name : std::string("copy")) + ":";
    for (int r : st.regs) s += " r" + std::to_string(r) + "(" + kNames[int(regs_[size_t(r)].source)] + ")";
  }
  return s;
}

size_t Jit::internal_bytes() const {
  std::vector<const Buffer*> seen;
  size_t n = 0;
  for (const Reg& r : regs_)
    if (r.source == Source::Internal && std::find(seen.begin(), seen.end(), r.buf.get()) == seen.end()) {
      seen.push_back(r.buf.get());
      n += r.buf->nbytes();
    }
  return n;
}

std::vector<std::pair<Program*, std::vector<BufferRef>>> Jit::kernel_calls() const {
  std::vector<BufferRef> bufs;
  for (const Reg& r : regs_) {
    if (r.buf) { bufs.push_back(r.buf); continue; }
    bufs.push_back(std::make_shared<Buffer>(r.device, r.bytes));
    std::vector<unsigned char> zeros(r.bytes);  // not garbage: denormals would slow the kernels
    if (r.bytes) r.device->copy_in(bufs.back()->ptr(), zeros.data(), r.bytes);
  }
  std::vector<std::pair<Program*, std::vector<BufferRef>>> calls;
  for (const Step& s : steps_) {
    if (!s.kernel) continue;
    calls.emplace_back(s.kernel->program.get(), std::vector<BufferRef>());
    for (int r : s.regs) calls.back().second.push_back(bufs[size_t(r)]);
  }
  return calls;
}

void Jit::note_rand(const BufferRef& b, DType dt, int64_t numel) { drawn_.push_back({b, Draw{dt, numel, -1}}); }

void Jit::note_host(const BufferRef& b, const void* data, size_t nbytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  host_made_[b.get()] = {b, std::vector<unsigned char>(p, p + nbytes)};
}

void Jit::note_assign(mg_tensor* t, const BufferRef& memory) {
  if (assigned_.emplace(memory.get(), t).second) retain(t);
}

void Jit::begin(Engine& e, std::span<mg_tensor* const> args) {
  if (e.jits->capturing) fail(ErrorKind::Invalid, "jit: a capture is already running (a jitted function called inside another)");
  reset();
  realize(e, args);
  for (size_t i = 0; i < args.size(); i++) {
    mg_tensor* a = args[i];
    args_.push_back(Signature{shape(a), a->uop->dtype, a->device});
    arg_bufs_.push_back(e.runtime.buffer(buffer_of(a->uop.get())));
  }
  // Tensors alive now are the function's state (parameters, optimizer moments, datasets): a
  // replay reads and writes the same memory (an assign keeps its tensor's memory).
  for (mg_tensor* h = e.live; h; h = h->next) {
    if (!h->uop) continue;
    const UOp* b = h->target ? h->target.get() : buffer_of(h->uop.get());
    if (!b) continue;
    const BufferRef& m = e.runtime.buffer(b);
    before_.emplace(m.get(), m);
  }
  rec_ = std::make_unique<Recording>();
  e.runtime.recording = rec_.get();
  e.jits->capturing = this;
}

void Jit::abort(Engine& e) noexcept {
  if (e.jits->capturing == this) {
    e.jits->capturing = nullptr;
    e.runtime.recording = nullptr;
  }
  reset();
}

void Jit::end(Engine& e, std::span<mg_tensor* const> outs) {
  if (e.jits->capturing != this) fail(ErrorKind::Invalid, "jit: end without begin");
  std::vector<Shape> out_shapes;  // before realize: a symbolic shape takes each replay's values
  for (mg_tensor* o : outs) out_shapes.push_back(shape(o));
  try {
    realize_with_assigns(e, outs);
  } catch (...) {
    abort(e);
    throw;
  }
  e.jits->capturing = nullptr;
  e.runtime.recording = nullptr;
  std::unique_ptr<Recording> rec = std::move(rec_);
  if (!rec->unsupported.empty()) {
    std::string why = rec->unsupported;
    reset();
    unsupported_ = why;
    return;
  }
  // Each buffer met becomes a register, classified where it is first met.
  std::unordered_map<const Buffer*, int> reg_of;
  std::unordered_map<const Buffer*, size_t> drawn_at;
  for (size_t k = 0; k < drawn_.size(); k++) {
    drawn_at[drawn_[k].first.get()] = k;
    draws_.push_back(drawn_[k].second);
  }
  auto reg_for = [&](const BufferRef& b, bool written) -> int {
    auto it = reg_of.find(b.get());
    if (it != reg_of.end()) return it->second;
    Reg r;
    r.bytes = b->nbytes();
    r.device = b->device();
    for (size_t i = 0; i < arg_bufs_.size() && r.source == Source::Const; i++)
      if (arg_bufs_[i] == b) { r.source = Source::Arg; r.index = int(i); }
    if (r.source == Source::Const) {
      if (auto st = before_.find(b.get()); st != before_.end()) {
        r.source = Source::State;
        r.buf = b;
        if (auto a = assigned_.find(b.get()); a != assigned_.end()) {
          r.handle = a->second;
          retain(r.handle);
        }
      } else if (auto d = drawn_at.find(b.get()); d != drawn_at.end()) {
        r.source = Source::Rand;
        r.index = int(d->second);
        r.buf = b;
      } else {
        r.source = written ? Source::Internal : Source::Const;
        r.buf = b;
      }
    }
    regs_.push_back(std::move(r));
    return reg_of[b.get()] = int(regs_.size()) - 1;
  };
  for (RecordedStep& rs : rec->steps) {
    Step s{rs.kernel, rs.device, {}, rs.bytes, {}, rs.vars};
    for (size_t i = 0; i < rs.bufs.size(); i++) s.regs.push_back(reg_for(rs.bufs[i], i == 0));
    steps_.push_back(std::move(s));
  }
  written_.assign(regs_.size(), false);
  for (const Step& s : steps_) written_[size_t(s.regs[0])] = true;
  for (size_t k = 0; k < draws_.size(); k++)
    if (auto it = reg_of.find(drawn_[k].first.get()); it != reg_of.end()) draws_[k].reg = it->second;
  for (size_t i = 0; i < outs.size(); i++) {
    mg_tensor* o = outs[i];
    const BufferRef& b = e.runtime.buffer(buffer_of(o->uop.get()));
    int r = reg_for(b, false);
    if (regs_[size_t(r)].source == Source::Internal) {
      regs_[size_t(r)].source = Source::Output;
      regs_[size_t(r)].buf.reset();
    }
    outs_.push_back(OutputInfo{r, out_shapes[i], o->uop->dtype, o->device});
  }
  written_.resize(regs_.size(), false);
  // Host data made inside the call and then written in place (x = Tensor{...}; x:assign(...))
  // starts each replay from that data again.
  for (size_t r = 0; r < regs_.size(); r++)
    if (regs_[r].source == Source::Const && written_[r]) {
      auto h = host_made_.find(regs_[r].buf.get());
      if (h == host_made_.end()) {
        std::string why = "jit: a step writes memory that was made neither by the call nor by a tensor alive before it";
        reset();
        fail(ErrorKind::Internal, why);
      }
      regs_[r].initial = std::move(h->second.second);
    }
  host_made_.clear();
  plan_internal();
  for (size_t r = 0; r < regs_.size(); r++) {
    const Reg& g = regs_[r];
    if (g.source == Source::Arg || g.source == Source::Output || (g.source == Source::State && g.handle && written_[r]) ||
        !g.initial.empty())
      per_call_.push_back(int(r));
  }
  for (size_t i = 0; i < steps_.size(); i++) {
    Step& st = steps_[i];
    for (size_t k = 0; k < st.regs.size(); k++) {
      const Reg& g = regs_[size_t(st.regs[k])];
      st.ptrs.push_back(g.buf ? g.buf->ptr() : nullptr);
      if (!g.buf) patches_.push_back(Patch{uint32_t(i), uint32_t(k), st.regs[k]});
    }
    for (int64_t* v : st.vars) st.ptrs.push_back(v);
  }
  for (const Step& st : steps_) launches_.push_back(Launch{st.kernel ? st.kernel->program.get() : nullptr, st.ptrs.data()});
  if (e.runtime.debug >= 1) e.runtime.debug_line(describe());
  arg_bufs_.clear();
  before_.clear();
  drop_assigned();
  drawn_.clear();
  captured_ = true;
}

// Intermediates of the whole call whose lifetimes (first to last step using them) do not
// overlap share memory, planned as a schedule's temps are (schedule::plan_arenas).
void Jit::plan_internal() {
  std::vector<int> first(regs_.size(), -1), last(regs_.size(), -1);
  for (size_t i = 0; i < steps_.size(); i++)
    for (int r : steps_[i].regs) {
      if (first[size_t(r)] < 0) first[size_t(r)] = int(i);
      last[size_t(r)] = int(i);
    }
  std::vector<int> order;
  for (size_t r = 0; r < regs_.size(); r++)
    if (regs_[r].source == Source::Internal) order.push_back(int(r));
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return first[size_t(a)] < first[size_t(b)]; });
  std::vector<schedule::Lifetime> lives;
  for (int r : order) lives.push_back(schedule::Lifetime{first[size_t(r)], last[size_t(r)], regs_[size_t(r)].bytes, regs_[size_t(r)].device});
  const schedule::ArenaPlan p = schedule::plan_arenas(lives);
  std::vector<BufferRef> arenas(p.bytes.size());
  for (size_t k = 0; k < order.size(); k++) {
    Reg& g = regs_[size_t(order[k])];
    BufferRef& a = arenas[size_t(p.of[k])];
    if (!a) a = std::make_shared<Buffer>(g.device, p.bytes[size_t(p.of[k])]);  // the arena's pool is g's device
    g.buf = a;
  }
}

// Before a step overwrites a state's memory: a lazy tensor or a view made since the last call
// that still reads the assigned tensor's node must keep the old contents (as realize does for
// an assign), so that node moves to a copy and the tensor to a new node on its memory.
void Jit::keep_old_contents(Engine& e, const Reg& r) {
  mg_tensor* h = r.handle;
  if (!h->eng || h->freed) fail(ErrorKind::Freed, "jit: a tensor the captured function assigns to was freed");
  if (!buffer_of(h->uop.get())) realize(e, std::span<mg_tensor* const>(&h, 1));
  const UOp* b = buffer_of(h->uop.get());
  if (e.runtime.buffer(b) != r.buf)
    fail(ErrorKind::Invalid, "jit: a tensor the captured function assigns to no longer holds the memory it was captured with");
  if (h->uop->use_count() == 1 && (h->uop.get() == b || b->use_count() == 1)) return;
  move_to_copy(e, b);
  h->uop = buffer_view(e, h->device, h->uop->dtype, shape(h), r.buf);
}

std::vector<mg_tensor*> Jit::replay(Engine& e, std::span<mg_tensor* const> args) {
  if (!captured_) fail(ErrorKind::Invalid, "jit: nothing captured to replay");
  if (e.jits->capturing) fail(ErrorKind::Invalid, "jit: a replay inside a capture (a jitted function called inside another)");
  if (args.size() != args_.size())
    fail(ErrorKind::Invalid, "jit: called with " + std::to_string(args.size()) + " tensor argument(s), captured with " + std::to_string(args_.size()));
  for (size_t i = 0; i < args.size(); i++) {
    check_live(args[i], "jit");
    const Signature& s = args_[i];
    if (shape(args[i]) != s.shape || args[i]->uop->dtype != s.dt || args[i]->device != s.device)
      fail(ErrorKind::Invalid, "jit: argument " + std::to_string(i + 1) + " is " + shape_str(shape(args[i])) + " " + args[i]->uop->dtype.name() +
                                   " on " + args[i]->device->name() + ", but was captured as " + shape_str(s.shape) + " " + s.dt.name() + " on " +
                                   s.device->name());
  }
  realize(e, args);
  // The buffers of this call: arguments' and fresh outputs' (fresh_, kept empty between
  // calls); the replay keeps the others.
  fresh_.resize(regs_.size());
  struct Clear {
    std::vector<BufferRef>& v;
    const std::vector<int>& which;
    ~Clear() { for (int r : which) v[size_t(r)].reset(); }
  } clear{fresh_, per_call_};
  auto buf = [&](int r) -> const BufferRef& { return regs_[size_t(r)].buf ? regs_[size_t(r)].buf : fresh_[size_t(r)]; };
  for (int r : per_call_) {
    Reg& g = regs_[size_t(r)];
    if (g.source == Source::Arg) fresh_[size_t(r)] = e.runtime.buffer(buffer_of(args[size_t(g.index)]->uop.get()));
    else if (g.source == Source::Output) fresh_[size_t(r)] = std::make_shared<Buffer>(g.device, g.bytes);
    else if (!g.initial.empty()) g.device->copy_in(g.buf->ptr(), g.initial.data(), g.initial.size());
    else keep_old_contents(e, g);
  }
  // Draws in the order the function made them, used or not, so the RNG advances as in a call.
  std::vector<unsigned char> host;
  for (const Draw& d : draws_) {
    host.resize(size_t(d.numel) * d.dt.itemsize());
    random_fill(e.rng, d.dt, d.numel, host.data());
    if (d.reg >= 0 && !host.empty()) buf(d.reg)->device()->copy_in(buf(d.reg)->ptr(), host.data(), host.size());
  }
  for (const Patch& p : patches_) steps_[p.step].ptrs[p.slot] = buf(p.reg)->ptr();
  if (e.runtime.debug >= 2 || e.runtime.profile.on) {  // each step timed and shown, as the executor does
    std::vector<BufferRef> step_bufs;
    for (const Step& s : steps_) {
      step_bufs.clear();
      for (int r : s.regs) step_bufs.push_back(buf(r));
      if (s.kernel) run_kernel(e.runtime, *s.device, *s.kernel, step_bufs);
      else copy_buffer(e.runtime, *s.device, step_bufs[0], step_bufs[1], s.bytes);
    }
  } else {  // nothing between the kernels: this loop is the replay's whole cost per kernel
    size_t kernels = 0;
    for (size_t i = 0; i < launches_.size(); i++) {
      if (Program* p = launches_[i].program) {
        p->run(launches_[i].ptrs);
        kernels++;
      } else {
        const Step& s = steps_[i];
        copy_buffer(e.runtime, *s.device, buf(s.regs[0]), buf(s.regs[1]), s.bytes);
      }
    }
    e.runtime.stats.kernels_run += kernels;
  }
  std::vector<mg_tensor*> out;
  try {
    for (const OutputInfo& o : outs_) {
      // A result that is an argument or state gets its own copy, so no two tensors share memory.
      BufferRef b = regs_[size_t(o.reg)].source == Source::Output ? buf(o.reg) : copy_of(e.runtime, buf(o.reg));
      out.push_back(wrap(e, buffer_view(e, o.device, o.dt, concrete(e, o.shape), std::move(b)), o.device));
    }
  } catch (...) {
    for (mg_tensor* t : out) release(t);
    throw;
  }
  return out;
}

}  // namespace mg::tensor
