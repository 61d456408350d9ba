// make_schedule: which nodes get a buffer of their own (fusion decisions), then one kernel
// AST per such node. docs/schedule.md explains the rules.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "schedule/schedule.h"
#include "uop/error.h"

namespace mg::schedule {

namespace {
// Movement that reads some source values more than once: an expand, overlapping windows.
bool repeats(const UOp* u) {
  if (u->op == Ops::EXPAND) return true;
  if (u->op != Ops::WINDOW) return false;
  const auto& a = std::get<std::vector<int64_t>>(u->arg);
  for (size_t j = 0; j < a.size(); j += 3)
    if (a[j] > a[j + 1]) return true;
  return false;
}

bool is_input(const UOp* u) { return u->op == Ops::BUFFER && !u->src.empty() && u->src[0]->op == Ops::DEFINE_GLOBAL; }

// At the variables' maximum: a buffer of a symbolic shape holds every value it can take.
int64_t numel_of(const UOp* u) { return u->table->numel_max(*u->shape()); }

// The input BUFFER a (device-crossing) COPY reads: its source must already be realized.
const UOp* copy_source(const UOp* c) {
  const UOp* s = c->src[0].get();
  if (s->op == Ops::RESHAPE) s = s->src[0].get();
  if (!is_input(s)) fail(ErrorKind::Internal, "schedule: COPY of an unrealized value on another device: " + node_str(c));
  return s;
}

struct Graph {
  const std::vector<UOp*>& topo;
  std::unordered_map<const UOp*, std::vector<const UOp*>> parents;  // distinct consumers
  std::unordered_set<const UOp*> realized;
  std::unordered_set<const UOp*> roots;
  // Nodes computed from constants alone (an arange, ones summed).
  std::unordered_set<const UOp*> constant;

  explicit Graph(const UOpRef& sink) : topo(sink->toposort()) {
    for (const UOp* u : topo) {
      bool c = u->op == Ops::CONST || (!u->src.empty() && u->op != Ops::BUFFER && u->op != Ops::COPY && u != sink.get());
      for (const UOpRef& s : u->src) c = c && (constant.count(s.get()) || s->op == Ops::DEVICE);
      if (c) constant.insert(u);
      if (u == sink.get()) continue;
      for (size_t i = 0; i < u->src.size(); i++) {
        const UOp* s = u->src[i].get();
        bool dup = false;
        for (size_t j = 0; j < i; j++) dup = dup || u->src[j].get() == s;
        if (!dup) parents[s].push_back(u);
      }
    }
    for (const UOpRef& r : sink->src) roots.insert(r.get());
  }

  // An integer sum of constants alone: codegen folds it to a closed form (a count), so it is
  // recomputed where used, never stored.
  bool counts(const UOp* u) const {
    return constant.count(u) && std::get<ReduceArg>(u->arg).op == Ops::ADD && u->dtype.is_int();
  }

  bool is_output(const UOp* u) const { return roots.count(u) || realized.count(u) || u->op == Ops::CONTIGUOUS || u->op == Ops::COPY; }
  // A node whose value would be read repeatedly or by another reduction above it.
  bool feeds_stop(const UOp* u) const {
    auto it = parents.find(u);
    if (it == parents.end()) return false;
    for (const UOp* p : it->second)
      if (repeats(p) || p->op == Ops::REDUCE_AXIS) return true;
    return false;
  }

  // Where a reduction's values are stored. Walking up from it through elementwise ops and
  // movement that does not repeat values, the walk ends at kernel outputs and at nodes read by
  // an expand, an overlapping window or another reduction (the frontier). With one frontier
  // node, each value of the reduction is computed once, in that node's kernel: nullptr when it
  // is an output anyway, else that node, which is realized in place of the reduction (a
  // convolution's input gradient is stored after its windows are summed, not before). With
  // several, the reduction is stored. Paths may branch and meet again (relu uses its input twice).
  const UOp* home(const UOp* r) const {
    std::unordered_set<const UOp*> seen{r}, frontier;
    std::vector<const UOp*> todo{r};
    while (!todo.empty() && frontier.size() < 2) {
      const UOp* u = todo.back();
      todo.pop_back();
      if ((u != r && is_output(u)) || feeds_stop(u)) {
        frontier.insert(u);
        continue;
      }
      auto it = parents.find(u);
      if (it == parents.end()) continue;
      for (const UOp* p : it->second)
        if (seen.insert(p).second) todo.push_back(p);
    }
    if (frontier.size() != 1) return r;
    const UOp* f = *frontier.begin();
    if (f != r && is_output(f)) return nullptr;
    // Stored before movement ops rather than after: a max pool's windows would otherwise put
    // the window axes innermost in the stored layout (all paths from r reach f through its source).
    while (f != r && op_group(f->op) == OpGroup::Movement) f = f->src[0].get();
    return f;
  }

  // ALU ops that fusing x into a consumer would compute per element (up to realized nodes).
  size_t fused_cost(const UOp* x) const {
    std::unordered_set<const UOp*> seen{x};
    std::vector<const UOp*> todo{x};
    size_t cost = 0;
    while (!todo.empty() && cost < kCostlyOps) {
      const UOp* u = todo.back();
      todo.pop_back();
      if (realized.count(u) || is_input(u) || constant.count(u)) continue;
      if (is_alu(u->op) || u->op == Ops::REDUCE_AXIS) cost++;
      for (const UOpRef& s : u->src)
        if (seen.insert(s.get()).second) todo.push_back(s.get());
    }
    return cost;
  }

  void decide() {
    for (const UOp* u : topo) {
      if (roots.count(u) || u->op == Ops::CONTIGUOUS || u->op == Ops::COPY) realized.insert(u);
      else if (u->op == Ops::REDUCE_AXIS && !counts(u))
        if (const UOp* h = home(u)) realized.insert(h);
    }
    // An expand repeats each value of its source many times: a source that is costly to
    // compute is computed once into a buffer instead of once per repeat.
    for (const UOp* u : topo) {
      if (!repeats(u)) continue;
      const UOp* x = u->src[0].get();
      if (realized.count(x) || is_input(x) || numel_of(u) < kRepeats * std::max<int64_t>(numel_of(x), 1)) continue;
      if (fused_cost(x) >= kCostlyOps) realized.insert(x);
    }
  }
  static constexpr size_t kCostlyOps = 4;   // ALU ops per element that make recomputing costly
  static constexpr int64_t kRepeats = 4;    // an expand that repeats each value this often or more
};

class Builder {
 public:
  Builder(Graph& g, Schedule& s) : g_(g), s_(s) {}

  void run(const UOpRef& sink) {
    for (size_t i = 0; i < sink->src.size(); i++) {
      const UOp* r = sink->src[i].get();
      if (!slot_.count(r)) slot_[r] = is_input(r) ? Slot{Slot::Input, int(std::get<int64_t>(r->src[0]->arg))} : Slot{Slot::Output, int(i)};
    }
    for (const UOp* u : g_.topo)
      if (g_.realized.count(u) && !is_input(u)) add_item(u);
    for (size_t i = 0; i < sink->src.size(); i++) {
      const UOp* r = sink->src[i].get();
      s_.outputs.push_back(slot_.at(r));
      s_.output_numel.push_back(numel_of(r));
      s_.output_dtype.push_back(r->dtype);
    }
  }

 private:
  Slot slot_for(const UOp* u) {
    auto it = slot_.find(u);
    if (it != slot_.end()) return it->second;
    Slot s{Slot::Temp, int(s_.temp_numel.size())};
    s_.temp_numel.push_back(numel_of(u));
    s_.temp_dtype.push_back(u->dtype);
    s_.temp_last_use.push_back(-1);
    return slot_[u] = s;
  }

  void add_item(const UOp* r) {
    Item it;
    it.dtype = r->dtype;
    it.numel = numel_of(r);
    it.bufs.push_back(slot_for(r));
    if (r->op == Ops::COPY) {
      it.kind = Item::Copy;
      it.bufs.push_back(Slot{Slot::Input, int(std::get<int64_t>(copy_source(r)->src[0]->arg))});
    } else {
      memo_.clear();
      UOpTable& t = *r->table;
      UOpRef out = t.make(Ops::BUFFER, r->dtype, {param(r->dtype, it.numel, 0)}, it.numel);
      cur_ = &it;
      const UOp* value = r->op == Ops::CONTIGUOUS ? r->src[0].get() : r;
      it.ast = sink({t.make(Ops::STORE, dtypes::void_, {out, build(value, value)})});
    }
    for (size_t i = 1; i < it.bufs.size(); i++)
      if (it.bufs[i].kind == Slot::Temp) s_.temp_last_use[size_t(it.bufs[i].index)] = int(s_.items.size());
    s_.items.push_back(std::move(it));
  }

  UOpRef param(DType dt, int64_t n, int64_t k) {
    UOpTable& t = *g_.topo.back()->table;
    return t.make(Ops::DEFINE_GLOBAL, dt.ptr(n), {}, k);
  }

  // The value of u inside the kernel being built: realized nodes and inputs become loads of a
  // parameter, viewed in u's shape.
  UOpRef build(const UOp* u, const UOp* value) {
    auto it = memo_.find(u);
    if (it != memo_.end()) return it->second;
    UOpTable& t = *u->table;
    UOpRef r;
    if (is_input(u) || (u != value && g_.realized.count(u))) {
      Slot s = is_input(u) ? Slot{Slot::Input, int(std::get<int64_t>(u->src[0]->arg))} : slot_for(u);
      int64_t k = -1;
      for (size_t i = 0; i < cur_->bufs.size(); i++)
        if (cur_->bufs[i] == s) k = int64_t(i);
      if (k < 0) { k = int64_t(cur_->bufs.size()); cur_->bufs.push_back(s); }
      int64_t n = numel_of(u);
      r = t.make(Ops::BUFFER, u->dtype, {param(u->dtype, n, k)}, n);
      if (*u->shape() != Shape{n}) r = t.make(Ops::RESHAPE, u->dtype, {r}, *u->shape());
    } else if (u->op == Ops::CONST) {
      r = t.make(Ops::CONST, u->dtype, {}, u->arg);
    } else if (u->op == Ops::DETACH) {
      r = build(u->src[0].get(), value);
    } else {
      std::vector<UOpRef> src;
      for (const UOpRef& x : u->src) src.push_back(build(x.get(), value));
      r = t.make(u->op, u->dtype, std::move(src), u->arg);
    }
    memo_[u] = r;
    return r;
  }

  Graph& g_;
  Schedule& s_;
  Item* cur_ = nullptr;
  std::unordered_map<const UOp*, Slot> slot_;
  std::unordered_map<const UOp*, UOpRef> memo_;
};
}  // namespace

Schedule make_schedule(const UOpRef& sink) {
  Graph g(sink);
  g.decide();
  Schedule s;
  Builder(g, s).run(sink);
  plan_memory(s);
  return s;
}

}  // namespace mg::schedule
