#include "rewrite/trace.h"

namespace mg {

TraceStep& RewriteTrace::add_step(std::string name, bool bottom_up, UOpRef input) {
  if (contexts.empty()) begin_context("default");
  std::deque<TraceStep>& steps = contexts.back().steps;
  steps.push_back({std::move(name), bottom_up, std::move(input), {}, {}, 0});
  return steps.back();
}

size_t RewriteTrace::match_count() const {
  size_t n = 0;
  for (const TraceContext& c : contexts)
    for (const TraceStep& s : c.steps) n += s.matches.size();
  return n;
}

}  // namespace mg
