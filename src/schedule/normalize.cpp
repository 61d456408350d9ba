// normalize: the graph of a realize call with its buffers replaced by numbered parameters.
#include <unordered_map>

#include "schedule/schedule.h"

namespace mg::schedule {

Normalized normalize(std::span<const UOpRef> roots) {
  Normalized out;
  UOpRef s = sink(std::vector<UOpRef>(roots.begin(), roots.end()));
  UOpTable& t = *s->table;
  std::unordered_map<const UOp*, UOpRef> params;
  for (UOp* u : s->toposort()) {
    if (u->op != Ops::BUFFER || u->src.empty() || u->src[0]->op != Ops::UNIQUE) continue;
    UOpRef param = t.make(Ops::DEFINE_GLOBAL, u->dtype.ptr(std::get<int64_t>(u->arg)), {}, int64_t(out.inputs.size()));
    out.inputs.push_back(u);
    params[u] = t.make(Ops::BUFFER, u->dtype, {param, u->src.at(1)}, u->arg);
  }
  out.sink = substitute(s, params);
  return out;
}

}  // namespace mg::schedule
