// REF: the graph walk. Nodes run in topological order (iteratively: graphs may be thousands
// of nodes deep); a node shared by several users is computed once; a value is dropped as soon
// as its last user has run, so a long chain holds only a couple of buffers at a time.
#include "backends/ref/ref_eval.h"

#include <unordered_map>
#include <unordered_set>

#include "backends/ref/ref_node.h"
#include "uop/error.h"

namespace mg::ref {

namespace {
std::vector<const UOp*> toposort(std::span<const UOpRef> roots) {
  std::vector<const UOp*> order;
  std::unordered_set<const UOp*> seen;
  std::vector<std::pair<const UOp*, size_t>> stack;  // node, next source to visit
  for (const UOpRef& r : roots) {
    if (!seen.insert(r.get()).second) continue;
    stack.push_back({r.get(), 0});
    while (!stack.empty()) {
      auto [u, i] = stack.back();
      if (i < value_src_count(u)) {
        stack.back().second++;
        const UOp* s = u->src[i].get();
        if (seen.insert(s).second) stack.push_back({s, 0});
      } else {
        order.push_back(u);
        stack.pop_back();
      }
    }
  }
  return order;
}

// A root's value as a new buffer: the value's own buffer when this evaluation made it, it is
// laid out exactly as the result, and nothing else holds it; else a copy.
BufferRef result_buffer(Device& dev, RefValue v) {
  const size_t nbytes = size_t(v.view.numel()) * size_t(v.itemsize());
  if (v.owned && v.view.is_contiguous() && v.view.offset == 0 && v.buf->nbytes() == nbytes && v.buf.use_count() == 1) return v.buf;
  return materialize(dev, v).buf;
}
}  // namespace

std::vector<BufferRef> evaluate_graph(Device& dev, std::span<const UOpRef> roots) {
  const std::vector<const UOp*> order = toposort(roots);
  std::unordered_map<const UOp*, int64_t> uses;  // users still to run (+1 for roots: kept)
  for (const UOp* u : order)
    for (size_t i = 0; i < value_src_count(u); i++) uses[u->src[i].get()]++;
  for (const UOpRef& r : roots) uses[r.get()]++;

  std::unordered_map<const UOp*, RefValue> values;
  std::vector<const RefValue*> srcs;
  for (const UOp* u : order) {
    srcs.clear();
    for (size_t i = 0; i < value_src_count(u); i++) srcs.push_back(&values.at(u->src[i].get()));
    RefValue v = eval_node(dev, u, srcs);
    if (v.view.shape != *u->shape())
      fail(ErrorKind::Internal, "REF: " + node_str(u) + " evaluated to the wrong shape");
    values.emplace(u, std::move(v));
    for (size_t i = 0; i < value_src_count(u); i++) {
      const UOp* s = u->src[i].get();
      if (--uses[s] == 0) values.erase(s);
    }
  }

  std::vector<BufferRef> out;
  for (size_t i = 0; i < roots.size(); i++) {
    const UOp* r = roots[i].get();
    auto it = values.find(r);
    if (--uses[r] > 0) {
      out.push_back(result_buffer(dev, it->second));  // asked for again: keep it
    } else {
      RefValue v = std::move(it->second);
      values.erase(it);
      out.push_back(result_buffer(dev, std::move(v)));
    }
  }
  return out;
}

}  // namespace mg::ref
