// Whether an assign may write straight into its tensor's memory (see schedule.h).
#include <unordered_map>

#include "schedule/schedule.h"

namespace mg::schedule {

namespace {
// The kernel reads parameter k only at the position it stores: every node between the store
// and the parameter is elementwise or a reshape (which keeps the row-major order).
bool reads_in_step(const UOp* ast, int64_t k) {
  const UOp* value = ast->src.at(0)->src.at(1).get();
  std::unordered_map<const UOp*, bool> reaches;
  for (const UOp* u : value->toposort()) {
    bool r = u->op == Ops::DEFINE_GLOBAL && std::get<int64_t>(u->arg) == k;
    for (const UOpRef& x : u->src) r = r || reaches[x.get()];
    reaches[u] = r;
    if (!r || u->op == Ops::DEFINE_GLOBAL || u->op == Ops::BUFFER || u->op == Ops::RESHAPE) continue;
    const OpGroup g = op_group(u->op);
    if (g != OpGroup::Unary && g != OpGroup::Binary && g != OpGroup::Ternary) return false;
  }
  return true;
}
}  // namespace

bool can_write_over(const Schedule& s, size_t root, int input) {
  const Slot out = s.outputs.at(root), in{Slot::Input, input};
  if (out.kind != Slot::Output) return false;
  size_t w = s.items.size();
  for (size_t i = 0; i < s.items.size() && w == s.items.size(); i++)
    if (s.items[i].bufs[0] == out) w = i;
  if (w == s.items.size()) return false;
  if (input < 0) return true;
  for (size_t i = w + 1; i < s.items.size(); i++)
    for (size_t b = 1; b < s.items[i].bufs.size(); b++)
      if (s.items[i].bufs[b] == in) return false;
  const Item& it = s.items[w];
  for (size_t b = 1; b < it.bufs.size(); b++)
    if (it.bufs[b] == in && (it.kind != Item::Kernel || !reads_in_step(it.ast.get(), int64_t(b)))) return false;
  return true;
}

}  // namespace mg::schedule
