// Linearization: the lowered graph -> the ordered list of LinItems a renderer walks.
// Each node is placed in the innermost loop among the ranges it depends on, so loop-invariant
// work sits outside the loops it does not need (before them, in its own loop's body).
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "codegen/linearize.h"
#include "uop/error.h"

namespace mg::codegen {

namespace {
using Ranges = std::vector<const UOp*>;  // sorted by address: a small set

class Linearizer {
 public:
  explicit Linearizer(const UOp* lane) : lane_(lane) {}

  // The output loops (every range the stores use, outer first by id) open once around all
  // stores: stores unrolled from one another share their loops and their loads.
  std::vector<LinItem> run(const UOpRef& sink, const UOp*& outer, double& flops) {
    blocks_.push_back({});
    open_.push_back(nullptr);
    for (UOp* u : sink->toposort())
      if (u->op == Ops::REDUCE) reduces_.push_back(u);
    Ranges out;
    for (const UOpRef& st : sink->src) {
      if (st->op != Ops::STORE) fail(ErrorKind::Internal, "linearize: a kernel's sink holds " + node_str(st.get()) + ", expected STORE");
      for (int i = 0; i < 2; i++) {
        const Ranges& d = deps(st->src[size_t(i)].get());
        out.insert(out.end(), d.begin(), d.end());
      }
    }
    std::sort(out.begin(), out.end(), [](const UOp* a, const UOp* b) { return std::get<int64_t>(a->arg) < std::get<int64_t>(b->arg); });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (!out.empty() && out[0]->src[0]->op == Ops::CONST) outer = out[0];  // a variable's loop is not split
    for (const UOp* r : out) open(r);
    for (const UOpRef& st : sink->src) {
      emit(st->src[0].get());
      emit(st->src[1].get());
      place(LinItem{LinItem::Op, st.get()}, open_.size() - 1);
    }
    while (open_.size() > 1) close();
    flops = flops_;
    return std::move(blocks_[0]);
  }

 private:
  // a loop to a variable counts as its longest
  static int64_t size_of(const UOp* r) { return r->src[0]->op == Ops::CONST ? r->src[0]->const_int() : int64_t(r->src[0]->vmax()); }
  // Arithmetic on values, not on addresses or loop bounds (index math is not a FLOP).
  static bool counts_as_flop(const UOp* u) {
    if (!is_alu(u->op)) return false;
    const UOp* operand = u->op == Ops::WHERE ? u->src[1].get() : u->src[0].get();
    return u->dtype.scalar != Scalar::Index && operand->dtype.scalar != Scalar::Index;
  }

  const Ranges& deps(const UOp* u) {
    auto it = deps_.find(u);
    if (it != deps_.end()) return it->second;
    Ranges r;
    if (u->op == Ops::RANGE) {
      if (u != lane_) r.push_back(u);
    } else {
      for (const UOpRef& s : u->src) {
        const Ranges& d = deps(s.get());
        r.insert(r.end(), d.begin(), d.end());
      }
      std::sort(r.begin(), r.end());
      r.erase(std::unique(r.begin(), r.end()), r.end());
      if (u->op == Ops::REDUCE)
        for (size_t i = 1; i < u->src.size(); i++) r.erase(std::remove(r.begin(), r.end(), u->src[i].get()), r.end());
    }
    return deps_[u] = std::move(r);
  }

  size_t deps_depth(const UOp* u) {
    size_t d = 0;
    for (const UOp* r : deps(u)) {
      auto it = std::find(open_.begin(), open_.end(), r);
      if (it == open_.end()) fail(ErrorKind::Internal, "linearize: " + node_str(u) + " uses a loop that is not open");
      d = std::max(d, size_t(it - open_.begin()));
    }
    return d;
  }

  void open(const UOp* r) {
    trips_.push_back((trips_.empty() ? 1.0 : trips_.back()) * double(size_of(r)));
    open_.push_back(r);
    blocks_.push_back({});
    emitted_at_.push_back({});
  }
  void close() {
    const UOp* r = open_.back();
    std::vector<LinItem> body = std::move(blocks_.back());
    for (const UOp* u : emitted_at_.back()) memo_.erase(u);
    blocks_.pop_back();
    open_.pop_back();
    emitted_at_.pop_back();
    trips_.pop_back();
    std::vector<LinItem>& parent = blocks_.back();
    parent.push_back(LinItem{LinItem::LoopBegin, r});
    parent.insert(parent.end(), body.begin(), body.end());
    parent.push_back(LinItem{LinItem::LoopEnd, r});
  }

  void place(LinItem it, size_t depth) {
    blocks_[depth].push_back(it);
    if (depth > 0) emitted_at_[depth - 1].push_back(it.u);
    if ((it.kind == LinItem::Op && counts_as_flop(it.u)) || it.kind == LinItem::AccUpdate)
      flops_ += (depth ? trips_[depth - 1] : 1.0) * (on_lane(it.u) ? double(lane_->src[0]->const_int()) : 1.0);
  }

  void emit(const UOp* u) {
    if (memo_.count(u)) return;
    switch (u->op) {
      case Ops::RANGE: case Ops::CONST: case Ops::DEFINE_GLOBAL: case Ops::DEFINE_VAR: memo_.insert(u); return;
      case Ops::REDUCE: emit_reduce(u); break;
      default:
        for (const UOpRef& s : u->src) emit(s.get());
        place(LinItem{LinItem::Op, u}, deps_depth(u));
    }
    memo_.insert(u);
  }

  // u depends on the lane: it is a vector, one op per lane.
  bool on_lane(const UOp* u) {
    if (!lane_) return false;
    auto it = lane_dep_.find(u);
    if (it != lane_dep_.end()) return it->second;
    bool v = u == lane_;
    for (const UOpRef& s : u->src) v = v || on_lane(s.get());
    return lane_dep_[u] = v;
  }

  bool all_open(const UOp* u) const {
    for (const UOp* r : deps_.at(u))
      if (std::find(open_.begin(), open_.end(), r) == open_.end()) return false;
    return true;
  }

  // Reductions over the same loops that can run now and do not feed one another (copies of
  // one made by unrolling an output axis) share those loops: one pass over them updates
  // every accumulator.
  // They also sit at the same loop depth: a member placed deeper than its own loops would come
  // after the users that are placed at its depth.
  std::vector<const UOp*> reduce_group(const UOp* u) {
    std::vector<const UOp*> group{u};
    const size_t depth = deps_depth(u);
    for (const UOp* v : reduces_) {
      if (v == u || memo_.count(v) || claimed_.count(v) || v->src.size() != u->src.size()) continue;
      if (!std::equal(v->src.begin() + 1, v->src.end(), u->src.begin() + 1)) continue;
      deps(v);
      if (!all_open(v) || deps_depth(v) != depth) continue;
      bool free = true;
      for (const UOp* w : group) free = free && !in_graph(w, v) && !in_graph(v, w);
      if (free) group.push_back(v);
    }
    return group;
  }

  // acc = identity before the reduction's loops, acc op= value inside, the REDUCE reads acc
  // after. The loops nest under the deepest loop the reduction depends on; loops open deeper
  // than that (another reduction being emitted) are set aside meanwhile.
  void emit_reduce(const UOp* u) {
    std::vector<const UOp*> group = reduce_group(u);
    claimed_.insert(group.begin(), group.end());  // a reduction nested in a member's value must not take them again
    const size_t d = deps_depth(u);
    for (const UOp* v : group) place(LinItem{LinItem::AccInit, v}, d);
    std::vector<const UOp*> saved_open(open_.begin() + long(d) + 1, open_.end());
    std::vector<std::vector<LinItem>> saved_blocks(std::make_move_iterator(blocks_.begin() + long(d) + 1), std::make_move_iterator(blocks_.end()));
    std::vector<std::vector<const UOp*>> saved_emitted(emitted_at_.begin() + long(d), emitted_at_.end());
    std::vector<double> saved_trips(trips_.begin() + long(d), trips_.end());
    open_.resize(d + 1);
    blocks_.resize(d + 1);
    emitted_at_.resize(d);
    trips_.resize(d);
    for (size_t i = 1; i < u->src.size(); i++)
      if (u->src[i]->op == Ops::RANGE) open(u->src[i].get());
    for (const UOp* v : group) {
      emit(v->src[0].get());
      place(LinItem{LinItem::AccUpdate, v, v->src[0].get()}, open_.size() - 1);
    }
    while (open_.size() > d + 1) close();
    open_.insert(open_.end(), saved_open.begin(), saved_open.end());
    for (auto& b : saved_blocks) blocks_.push_back(std::move(b));
    emitted_at_.insert(emitted_at_.end(), saved_emitted.begin(), saved_emitted.end());
    trips_.insert(trips_.end(), saved_trips.begin(), saved_trips.end());
    for (const UOp* v : group) {
      place(LinItem{LinItem::Op, v}, d);
      memo_.insert(v);
    }
  }

  const UOp* lane_;
  std::vector<const UOp*> reduces_;            // every REDUCE of the kernel, sources first
  std::vector<std::vector<LinItem>> blocks_;   // blocks_[0]: the function; blocks_[i]: loop open_[i]'s body
  std::vector<const UOp*> open_;                // open_[0] is nullptr (no loop)
  std::vector<std::vector<const UOp*>> emitted_at_;  // per open loop: what was placed in it
  std::vector<double> trips_;                   // iterations of each open loop's body
  std::unordered_map<const UOp*, Ranges> deps_;
  std::unordered_set<const UOp*> memo_;
  std::unordered_set<const UOp*> claimed_;       // reductions already in a group being emitted
  std::unordered_map<const UOp*, bool> lane_dep_;
  double flops_ = 0;
};
}  // namespace

std::vector<LinItem> linearize(const UOpRef& sink, const UOp* lane, const UOp*& outer, double& flops) {
  return Linearizer(lane).run(sink, outer, flops);
}

}  // namespace mg::codegen
