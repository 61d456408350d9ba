// Which values of a lowered kernel are vectors: those that depend on the lane (the upcast
// axis). A contiguous access, INDEX(buf, base, gate, lane), is one pointer; the LOAD through it
// is a vector. Every renderer asks the same question.
#pragma once
#include <unordered_map>

#include "uop/uop.h"

namespace mg::codegen {

inline bool contiguous_access(const UOp* index) { return index->op == Ops::INDEX && index->src.size() == 4; }

class LaneValues {
 public:
  explicit LaneValues(const UOp* lane) : lane_(lane) {}
  bool operator()(const UOp* u) {
    if (!lane_) return false;
    auto it = memo_.find(u);
    if (it != memo_.end()) return it->second;
    bool v = false;
    if (u->op == Ops::RANGE) v = u == lane_;
    else if (u->op == Ops::LOAD && contiguous_access(u->src[0].get())) v = true;
    else if (u->op == Ops::INDEX && contiguous_access(u)) v = false;
    else if (u->op == Ops::REDUCE) v = (*this)(u->src[0].get());
    else
      for (const UOpRef& s : u->src) v = v || (*this)(s.get());
    return memo_[u] = v;
  }

 private:
  const UOp* lane_;
  std::unordered_map<const UOp*, bool> memo_;
};

}  // namespace mg::codegen
