// GPU targets: a reduction of a large tensor to one value would be one block (a GROUP kernel
// gives each output position a block, docs/cuda.md). Split it into B partial reductions of
// n/B elements each, stored, then one reduction of the B partials: two kernels, B blocks in
// the first. Sums, products and maxima are associative, so only the order of a float sum
// changes.
#include <algorithm>
#include <unordered_map>

#include "schedule/schedule.h"

namespace mg::schedule {

namespace {
constexpr int64_t kMinElements = int64_t(1) << 16;  // below this one block is as fast
constexpr int64_t kMinPerPart = 256;                 // a block's worth of work per partial

// B: the largest power of two <= parts dividing n with n/B >= kMinPerPart; 0 if none > 1.
int64_t parts_for(int64_t n, int64_t parts) {
  for (int64_t b = parts; b > 1; b /= 2)
    if (n % b == 0 && n / b >= kMinPerPart) return b;
  return 0;
}
}  // namespace

std::vector<UOpRef> split_reductions(std::span<const UOpRef> roots, int64_t parts) {
  std::vector<UOpRef> out(roots.begin(), roots.end());
  if (roots.empty()) return out;
  UOpRef s = sink(out);
  UOpTable& t = *s->table;
  std::unordered_map<const UOp*, UOpRef> split;
  for (UOp* u : s->toposort()) {
    if (u->op != Ops::REDUCE_AXIS) continue;
    const UOp* x = u->src[0].get();
    const Shape& in = *x->shape();
    if (std::any_of(in.begin(), in.end(), is_sym)) continue;  // its size is not known here
    int64_t n = 1, out_n = 1;
    for (int64_t d : in) n *= d;
    for (int64_t d : *u->shape()) out_n *= d;
    const int64_t b = out_n == 1 && n >= kMinElements ? parts_for(n, parts) : 0;
    if (!b) continue;
    const ReduceArg& r = std::get<ReduceArg>(u->arg);
    UOpRef rows = t.make(Ops::RESHAPE, x->dtype, {x->ref()}, Shape{b, n / b});
    UOpRef partial = t.make(Ops::CONTIGUOUS, u->dtype, {t.make(Ops::REDUCE_AXIS, u->dtype, {rows}, ReduceArg{r.op, {1}})});
    UOpRef total = t.make(Ops::REDUCE_AXIS, u->dtype, {partial}, ReduceArg{r.op, {0}});
    split[u] = t.make(Ops::RESHAPE, u->dtype, {total}, *u->shape());
  }
  if (split.empty()) return out;
  UOpRef rebuilt = substitute(s, split);
  out.assign(rebuilt->src.begin(), rebuilt->src.end());
  return out;
}

}  // namespace mg::schedule
