#include "viz/model/trace_model.h"

#include <algorithm>
#include <unordered_set>

namespace mg::viz {

size_t Context::match_count() const {
  size_t n = 0;
  for (const Step& s : steps) n += s.matches.size();
  return n;
}

int Trace::context_of_kernel(const std::string& fn_name) const {
  if (fn_name.empty()) return -1;
  for (size_t i = 0; i < contexts.size(); i++)
    if (contexts[i].kernel == fn_name) return int(i);
  return -1;
}

std::vector<uint32_t> graph_nodes(const Trace& t, uint32_t root) {
  std::vector<uint32_t> out;
  if (root == kNone || root >= t.nodes.size()) return out;
  // Sources have smaller indices, so sorting what is reachable gives a topological order. A
  // set, not a mark per pool node: a small graph high in a big pool stays cheap.
  std::unordered_set<uint32_t> seen{root};
  std::vector<uint32_t> stack{root};
  while (!stack.empty()) {
    uint32_t n = stack.back();
    stack.pop_back();
    out.push_back(n);
    for (uint32_t s : t.nodes[n].src)
      if (s < n && seen.insert(s).second) stack.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string node_label(const Node& n) {
  std::string s = n.op;
  if (!n.dtype.empty()) s += " " + n.dtype;
  if (!n.arg.empty()) s += " " + n.arg;
  return s;
}

}  // namespace mg::viz
