// substitute: a graph with some of its nodes replaced, rebuilt once (the replacements are
// not looked into again, so x -> x+1 is fine).
#include <unordered_map>

#include "uop/uop.h"

namespace mg {

UOpRef substitute(const UOpRef& root, const std::unordered_map<const UOp*, UOpRef>& subs) {
  std::unordered_map<const UOp*, UOpRef> done(subs.begin(), subs.end());
  for (UOp* u : root->toposort()) {
    if (done.count(u)) continue;
    bool changed = false;
    std::vector<UOpRef> src;
    src.reserve(u->src.size());
    for (const UOpRef& x : u->src) {
      auto it = done.find(x.get());
      changed = changed || (it != done.end() && it->second.get() != x.get());
      src.push_back(it != done.end() ? it->second : x);
    }
    if (changed) done[u] = u->replace_src(std::move(src));
  }
  auto it = done.find(root.get());
  return it != done.end() ? it->second : root;
}

bool in_graph(const UOp* root, const UOp* x) {
  for (const UOp* u : root->toposort())
    if (u == x) return true;
  return false;
}

}  // namespace mg
