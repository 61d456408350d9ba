// normalize: the graph of a realize call with its buffers replaced by numbered parameters.
#include <unordered_map>

#include "schedule/schedule.h"

namespace mg::schedule {

Normalized normalize(std::span<const UOpRef> roots) {
  Normalized out;
  UOpRef s = sink(std::vector<UOpRef>(roots.begin(), roots.end()));
  UOpTable& t = *s->table;
  std::unordered_map<const UOp*, UOpRef> done;
  done.reserve(s->toposort().size());
  for (UOp* u : s->toposort()) {
    if (u->op == Ops::BUFFER && !u->src.empty() && u->src[0]->op == Ops::UNIQUE) {
      UOpRef param = t.make(Ops::DEFINE_GLOBAL, u->dtype.ptr(std::get<int64_t>(u->arg)), {}, int64_t(out.inputs.size()));
      out.inputs.push_back(u);
      done[u] = t.make(Ops::BUFFER, u->dtype, {param, u->src.at(1)}, u->arg);
      continue;
    }
    bool changed = false;
    std::vector<UOpRef> src;
    src.reserve(u->src.size());
    for (const UOpRef& x : u->src) {
      auto it = done.find(x.get());
      changed = changed || (it != done.end() && it->second.get() != x.get());
      src.push_back(it != done.end() ? it->second : x);
    }
    done[u] = changed ? u->replace_src(std::move(src)) : u->ref();
  }
  out.sink = done.at(s.get());
  return out;
}

}  // namespace mg::schedule
