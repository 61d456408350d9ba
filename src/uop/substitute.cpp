// substitute: a graph with some of its nodes replaced, rebuilt once (the replacements are
// not looked into again, so x -> x+1 is fine).
#include <unordered_map>

#include "uop/uop.h"

namespace mg {

UOpRef substitute(const UOpRef& root, const std::unordered_map<const UOp*, UOpRef>& subs) {
  return rebuild(root, [&](const UOp* u, const std::vector<UOpRef>&) {
    auto it = subs.find(u);
    return it != subs.end() ? it->second : UOpRef();
  });
}

bool in_graph(const UOp* root, const UOp* x) {
  for (const UOp* u : root->toposort())
    if (u == x) return true;
  return false;
}

}  // namespace mg
