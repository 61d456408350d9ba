// The window's state: the trace it shows, what is selected, and what is derived once and kept
// (graph layouts per step, the timeline). One function per view draws from it (views.h).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "viz/model/diff.h"
#include "viz/model/layout.h"
#include "viz/model/nav.h"
#include "viz/model/timeline.h"
#include "viz/model/trace_model.h"

namespace mg::viz {

// A step's graph (its input or its output), laid out once.
struct StepView {
  StepGraph sg;
  Layout layout;
  std::unordered_set<uint32_t> changed;  // input: nodes the step removed; output: nodes it added
};

enum class CentreTab { Graph, Source, Linear, Assembly };

struct App {
  Trace trace;
  Timeline timeline;
  Selection sel;
  bool show_output = false;  // the centre graph: the step's output instead of its input
  CentreTab want_tab = CentreTab::Graph;
  bool tab_request = false;  // select want_tab on the next frame (a click on a kernel bar)
  bool scroll_tree = false;  // bring the selected step into view in the tree

  // Centre graph: pan (in graph units) and zoom, refit when the shown graph changes.
  float zoom = 1, pan_x = 0, pan_y = 0;
  bool fit = true;
  bool recentre = false;  // bring the selected match's node to the middle of the graph view
  // Timeline view: the visible span in ns.
  double tl_from = 0, tl_to = 1;
  bool tl_init = false;

  std::map<std::tuple<int, int, bool>, std::unique_ptr<StepView>> views;
  // A live window (mgviz_show) asks for a kernel's disassembly when its tab is first shown:
  // making it compiles the kernel again, too slow to do for every kernel up front.
  std::function<std::string(const Context&)> disassemble;
  std::vector<bool> asked;  // per context: disassemble was called
  const StepView* step_view(int ctx, int step, bool output);

  explicit App(Trace t);
  void select(Selection s);
};

// Views (one function each).
void draw_tree(App& a);
void draw_graph(App& a);
void draw_rule(App& a);
void draw_code(App& a, CentreTab which);
void draw_timeline(App& a);
void handle_keys(App& a);

}  // namespace mg::viz
