// Vector access: a load or store whose address moves by one element per lane of the upcast
// axis reads or writes the lanes as one vector. INDEX(buf, idx, gate) becomes
// INDEX(buf, base, gate, lane) with base = idx at lane 0 (same dtype: the renderer reads the
// extra source as "W contiguous elements from base"). Other accesses that depend on the lane
// stay per-lane (the renderer gathers and scatters them).
#include "codegen/codegen.h"
#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"

namespace mg::codegen {

namespace {
struct ExpandCtx {
  const UOp* lane;
};

UOpRef replace_lane(const UOpRef& x, const UOp* lane, int64_t v) {
  return simplify(substitute(x, {{lane, lane->table->cnst(dtypes::index, v)}}));
}

UOpRef contiguous_access(B& b) {
  const UOp& i = *b.root;
  const UOp* lane = b.ctx_as<ExpandCtx>().lane;
  const UOpRef& idx = i.src[1];
  if (!in_graph(idx.get(), lane)) return {};
  UOpRef base = replace_lane(idx, lane, 0);
  if (simplify(idx - base).get() != lane) return {};
  return i.table->make(Ops::INDEX, i.dtype, {i.src[0], base, i.src[2], lane->ref()});
}
}  // namespace

UOpRef vectorize_access(const UOpRef& g, const Kernel& k, RewriteTrace* trace) {
  if (!k.lane) return g;
  static const PatternMatcher pm({
      {UPat(Ops::INDEX).src({UPat(Ops::DEFINE_GLOBAL), var(), var()}).where([](const UOp& u) { return u.dtype.is_ptr(); }),
       contiguous_access, "contiguous in the lane"},
  });
  ExpandCtx ctx{k.lane};
  return graph_rewrite(g, pm, &ctx, {.name = "vector access", .trace = trace});
}

}  // namespace mg::codegen
