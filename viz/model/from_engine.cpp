#include "viz/model/from_engine.h"

#include <string>
#include <unordered_map>

#include "codegen/codegen.h"

namespace mg::viz {

namespace {

std::string i128_str(i128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
  std::string s;
  while (u) { s.insert(s.begin(), char('0' + int(u % 10))); u /= 10; }
  return neg ? "-" + s : s;
}

// Interns engine nodes into the pool, sources first (iteratively: graphs can be deep).
class Pool {
 public:
  explicit Pool(Trace& t) : t_(t) {}
  uint32_t add(const UOp* root) {
    if (!root) return kNone;
    if (auto it = ids_.find(root); it != ids_.end()) return it->second;
    std::vector<std::pair<const UOp*, size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto& [u, next] = stack.back();
      if (next < u->src.size()) {
        const UOp* s = u->src[next++].get();
        if (!ids_.count(s)) stack.push_back({s, 0});
        continue;
      }
      if (!ids_.count(u)) ids_[u] = emit(u);
      stack.pop_back();
    }
    return ids_.at(root);
  }

 private:
  uint32_t emit(const UOp* u) {
    Node n;
    n.op = op_name(u->op);
    n.dtype = u->dtype.name();
    n.arg = arg_str(u->arg);
    if (const Shape* s = u->shape()) n.shape = shape_str(*s);
    n.group = uint8_t(op_group(u->op));
    if ((u->dtype.is_int() || u->dtype.is_bool()) && !u->dtype.is_vec()) {
      n.has_range = true;
      n.vmin = i128_str(u->vmin());
      n.vmax = i128_str(u->vmax());
    }
    for (const UOpRef& s : u->src) n.src.push_back(ids_.at(s.get()));
    t_.nodes.push_back(std::move(n));
    return uint32_t(t_.nodes.size() - 1);
  }
  Trace& t_;
  std::unordered_map<const UOp*, uint32_t> ids_;
};

}  // namespace

Trace trace_from_engine(const Engine& e, const ExportOpts& o) {
  Trace t;
  Pool pool(t);
  std::unordered_map<std::string, const Runtime::CachedProgram*> programs;
  for (const auto& [key, cp] : e.runtime.programs) programs[cp.kernel.fn_name] = &cp;
  for (const TraceContext& c : e.trace.contexts) {
    Context vc;
    vc.name = c.name;
    vc.kernel = c.kernel;
    vc.device = c.device;
    for (const TraceStep& s : c.steps) {
      Step vs;
      vs.name = s.name;
      vs.bottom_up = s.bottom_up;
      vs.input = pool.add(s.input.get());
      vs.output = pool.add(s.output.get());
      vs.ns = s.ns;
      for (const TraceMatch& m : s.matches)
        vs.matches.push_back({pool.add(m.before.get()), pool.add(m.after.get()), m.rule, m.where, m.ns});
      vc.steps.push_back(std::move(vs));
    }
    if (auto it = programs.find(c.kernel); it != programs.end()) {
      const Runtime::CachedProgram& cp = *it->second;
      vc.code.source = cp.program->source();
      vc.code.linear = codegen::lin_str(cp.kernel);
      if (o.assembly) {
        try {
          vc.code.assembly = cp.program->assembly();
        } catch (const std::exception& err) {
          vc.code.assembly = std::string("(no disassembly: ") + err.what() + ")";
        }
      }
    }
    t.contexts.push_back(std::move(vc));
  }
  const Profile& p = e.runtime.profile;
  t.strings = p.strings();
  t.events.reserve(p.events().size());
  for (const ProfileEvent& pe : p.events())
    t.events.push_back({EventKind(pe.kind), pe.name, pe.device, pe.kernel, pe.start_ns, pe.dur_ns, pe.flops, pe.bytes, pe.in_use});
  t.dropped_events = p.dropped;
  return t;
}

}  // namespace mg::viz
