// The rewrite trace: what VIZ shows. Each context (a schedule, a kernel's codegen) holds the
// graph_rewrites run in it, each with its input graph and every match.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "uop/uop.h"

namespace mg {

struct TraceMatch {
  UOpRef before, after;
  std::string rule;   // the rule's name
  std::string where;  // its source location, "src/rewrite/symbolic.cpp:42"
  int64_t ns = 0;     // time spent matching and building the replacement
};

struct TraceStep {
  std::string name;
  bool bottom_up = false;
  UOpRef input, output;
  std::vector<TraceMatch> matches;
  int64_t ns = 0;  // the whole graph_rewrite
};

struct TraceContext {
  std::string name;
  std::deque<TraceStep> steps;  // a deque: a rewrite nested in a rule's callback adds steps while
                                // an outer step is still being filled
  std::string kernel;  // a kernel's codegen: its fn_name, which finds its program (code tabs)
  std::string device;  // ... and the device it was compiled for
};

class RewriteTrace {
 public:
  // Later graph_rewrites go into a new context of this name.
  void begin_context(std::string name) { contexts.push_back({std::move(name), {}, {}, {}}); }
  TraceStep& add_step(std::string name, bool bottom_up, UOpRef input);
  void clear() { contexts.clear(); }
  size_t match_count() const;

  std::deque<TraceContext> contexts;
};

}  // namespace mg
