// graph_rewrite: apply a PatternMatcher over a whole graph, to a fixed point.
#pragma once
#include <string_view>

#include "rewrite/pattern_matcher.h"
#include "rewrite/trace.h"

namespace mg {

struct RewriteOpts {
  std::string_view name = "graph_rewrite";  // shown by VIZ and in errors
  // false: a node's sources are rewritten first, then the node (and whatever it becomes).
  // true: a node is rewritten first, to a fixed point, then its sources.
  bool bottom_up = false;
  RewriteTrace* trace = nullptr;            // record every match here; nullptr: off
  int max_chain = 1000;                     // successive rewrites at one place before it is a loop
};

// Memoized: a node shared by several parents is rewritten once and they all see one result.
// A rule that keeps rewriting (a cycle, or endless growth) fails with an error naming it.
UOpRef graph_rewrite(const UOpRef& sink, const PatternMatcher& pm, void* ctx = nullptr, const RewriteOpts& opts = {});

}  // namespace mg
