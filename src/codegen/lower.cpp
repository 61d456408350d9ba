// The codegen pipeline: index lowering, symbolic simplification, heuristics, linearization.
#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "codegen/codegen.h"
#include "codegen/linearize.h"
#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"

namespace mg::codegen {

namespace {
// "E_16_16" for elementwise kernels, "r_16_4096" when there is a reduction (output dims, then
// the reduced sizes; dims of 1 left out).
std::string kernel_name(const UOpRef& ast, const UOpRef& lowered) {
  const UOp* value = ast->src[0]->src[1].get();
  auto size = [](const UOp* n) { return n->op == Ops::CONST ? std::to_string(n->const_int()) : std::get<VarArg>(n->arg).name; };
  std::string name = "E";
  for (int64_t d : *value->shape())
    if (d != 1) name += "_" + (is_sym(d) ? size(ast->table->sym_var(d).get()) : std::to_string(d));
  std::string red;
  for (UOp* u : lowered->toposort())
    if (u->op == Ops::REDUCE)
      for (size_t i = 1; i < u->src.size(); i++)
        if (u->src[i]->op == Ops::RANGE) red += "_" + size(u->src[i]->src[0].get());
  if (!red.empty()) name = "r" + name.substr(1) + red;
  return name;
}
}  // namespace

Kernel lower(const UOpRef& ast, const Target& target, RewriteTrace* trace) {
  Kernel k;
  k.ast = ast;
  UOpRef g = lower_indexing(ast, trace);
  g = graph_rewrite(g, symbolic(), nullptr, {.name = "symbolic", .bottom_up = true, .trace = trace});
  g = fold_reductions(g, trace);
  g = simplify_gated_indices(g, trace);
  k.name = kernel_name(ast, g);  // before opts: the kernel as written, not as unrolled
  g = apply_opts(g, target, k, trace);
  g = vectorize_access(g, k, trace);
  if (target.gpu) g = assign_launch_dims(g, target, k, trace);
  k.lowered = g;
  char hash[20];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(g->hash));
  k.fn_name = k.name + "_" + hash;
  for (UOp* u : g->toposort()) {
    if (u->op == Ops::DEFINE_VAR) k.vars.push_back(u);
    if (u->op == Ops::DEFINE_GLOBAL) {
      k.n_params = std::max(k.n_params, int(std::get<int64_t>(u->arg)) + 1);
      k.bytes += double(u->dtype.ptr_size) * u->dtype.base().itemsize();
    }
  }
  std::stable_sort(k.vars.begin(), k.vars.end(), [](const UOp* a, const UOp* b) { return std::get<VarArg>(a->arg).name < std::get<VarArg>(b->arg).name; });
  k.lin = linearize(g, k.lane, k.outer_range, k.flops);
  if (target.gpu) k.flops *= double(k.gpu_threads);  // linearize counted one thread's work
  if (k.outer_range) k.outer = k.outer_range->src[0]->const_int();
  return k;
}

// One line per item; each value is named %N where it is computed and its operands by those
// names (constants and ranges inline).
std::string lin_str(const Kernel& k) {
  std::unordered_map<const UOp*, std::string> names;
  auto name = [&](const UOp* u) -> std::string {
    auto it = names.find(u);
    if (it != names.end()) return it->second;
    if (u == k.lane) return "lane";
    return render(u->ref());
  };
  std::unordered_map<const UOp*, std::string> accs;
  auto acc = [&](const UOp* r) -> const std::string& {
    std::string& a = accs[r];
    if (a.empty()) a = "acc" + std::to_string(accs.size() - 1);
    return a;
  };
  std::string out;
  int depth = 0, n = 0;
  for (const LinItem& it : k.lin) {
    if (it.kind == LinItem::LoopEnd) depth--;
    out += std::string(size_t(2 * depth), ' ');
    switch (it.kind) {
      case LinItem::LoopBegin:
        out += "for " + render(it.u->ref()) + (it.u == k.outer_range ? " (parallel)" : "");
        names[it.u] = render(it.u->ref());
        depth++;
        break;
      case LinItem::LoopEnd: out += "end " + render(it.u->ref()); break;
      case LinItem::AccInit: out += acc(it.u) + " = identity of " + op_name(std::get<Ops>(it.u->arg)); break;
      case LinItem::AccUpdate: out += acc(it.u) + " " + op_name(std::get<Ops>(it.u->arg)) + "= " + name(it.v); break;
      case LinItem::Op: {
        std::string id = "%" + std::to_string(n++);
        out += id + " = " + node_str(it.u);
        if (it.u->op == Ops::REDUCE) out += " " + acc(it.u);
        else
          for (const UOpRef& s : it.u->src) out += " " + name(s.get());
        names[it.u] = id;
        break;
      }
    }
    out += "\n";
  }
  if (k.lane) out = "lane: " + std::to_string(k.width) + " wide\n" + out;
  return out;
}

}  // namespace mg::codegen
