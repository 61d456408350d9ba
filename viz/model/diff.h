// What a rewrite changed. Nodes are interned, so "the same node" is the same pool index: a
// node under both graphs was kept, one only under the new graph was added, one only under
// the old was removed (from that subgraph; it may live on elsewhere).
#pragma once
#include <string>
#include <vector>

#include "viz/model/trace_model.h"

namespace mg::viz {

struct GraphDiff {
  std::vector<uint32_t> added, removed, kept;  // pool indices, ascending
  uint32_t from = kNone, to = kNone;           // the root that was replaced, and by what
};
GraphDiff diff_graphs(const Trace& t, uint32_t before, uint32_t after);

// The two subgraphs printed one node per line (`n12 = ADD float32 (n3, n7)`, names are pool
// indices, so kept nodes print the same), and the lines of their shortest edit script.
struct DiffLine {
  char tag;  // ' ' kept, '-' removed, '+' added
  std::string text;
};
std::string node_line(const Trace& t, uint32_t n);
std::vector<DiffLine> text_diff(const std::vector<std::string>& a, const std::vector<std::string>& b);
std::vector<DiffLine> match_text_diff(const Trace& t, const Match& m);

}  // namespace mg::viz
