// A layered (Sugiyama-style) layout of a DAG, left to right: inputs on the left, the sink on
// the right. Layers by longest path (leaves pulled next to their first consumer), long edges
// through dummy points, crossings reduced by barycenter sweeps (the best order seen is kept),
// then coordinates: layers side by side, nodes in a layer stacked in order and pulled towards
// the centre of their neighbours without overlapping.
#pragma once
#include <cstdint>
#include <vector>

#include "viz/model/trace_model.h"

namespace mg::viz {

// The graph to lay out: node i's sources are src[i], each < i (a topological order).
struct LayoutGraph {
  std::vector<std::vector<uint32_t>> src;
  std::vector<float> width;  // per node; all nodes have the same height (LayoutOpts::node_h)
};

struct LayoutOpts {
  float node_h = 20, layer_gap = 40, node_gap = 8;
  int sweeps = 8;                 // barycenter sweep pairs (down, then up)
  size_t max_dummies_per_node = 8;  // long edges beyond this budget are drawn straight
};

struct Point { float x = 0, y = 0; };

struct Layout {
  std::vector<Point> pos;       // per node: top-left corner
  std::vector<float> w;         // per node
  float h = 0;                  // every node's height
  std::vector<int> layer;       // per node
  struct Edge { uint32_t from, to; std::vector<Point> points; };  // from -> to, through its bends
  std::vector<Edge> edges;
  float width = 0, height = 0;  // of the whole drawing
  int64_t crossings = 0;        // between adjacent layers, after the sweeps
};

Layout layout_graph(const LayoutGraph& g, const LayoutOpts& o = {});

// The graph under root, as the window draws it: nodes[i] is the pool index of layout node i.
struct StepGraph {
  std::vector<uint32_t> nodes;
  LayoutGraph graph;
};
StepGraph step_graph(const Trace& t, uint32_t root, float char_w = 7, float pad = 12);

}  // namespace mg::viz
