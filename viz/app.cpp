#include "viz/app.h"

#include <algorithm>

namespace mg::viz {

App::App(Trace t) : trace(std::move(t)) {
  timeline = build_timeline(trace);
  // Open on the first step where a rule fired: that is what a user comes to see.
  sel = first_step(trace);
  Selection m = match_right(trace, Selection{sel.ctx, sel.step, -1});
  if (valid(trace, m) && m.match >= 0) sel = Selection{m.ctx, m.step, -1};
  scroll_tree = true;  // its context opens in the tree
}

void App::select(Selection s) {
  if (!(s == sel)) {
    if (s.ctx != sel.ctx || s.step != sel.step) fit = true;
    if (s.match >= 0) recentre = true;
    sel = s;
    scroll_tree = true;
  }
}

const StepView* App::step_view(int ctx, int step, bool output) {
  auto key = std::make_tuple(ctx, step, output);
  auto it = views.find(key);
  if (it != views.end()) return it->second.get();
  if (ctx < 0 || ctx >= int(trace.contexts.size())) return nullptr;
  const Context& c = trace.contexts[size_t(ctx)];
  if (step < 0 || step >= int(c.steps.size())) return nullptr;
  const Step& s = c.steps[size_t(step)];
  auto v = std::make_unique<StepView>();
  v->sg = step_graph(trace, output ? s.output : s.input);
  v->layout = layout_graph(v->sg.graph);
  const GraphDiff d = diff_graphs(trace, s.input, s.output);
  for (uint32_t n : output ? d.added : d.removed) v->changed.insert(n);
  return views.emplace(key, std::move(v)).first->second.get();
}

}  // namespace mg::viz
