#include "viz/model/layout.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

namespace mg::viz {

namespace {

// Virtual nodes: the real ones (0..n-1), then the dummies long edges pass through.
struct Virtual {
  std::vector<int> layer;
  std::vector<std::vector<uint32_t>> up, down;  // neighbours in the layer before / after
  std::vector<std::vector<uint32_t>> layers;    // per layer, in order
  std::vector<uint32_t> pos;                    // index within its layer
  uint32_t add(int l) {
    layer.push_back(l);
    up.emplace_back();
    down.emplace_back();
    return uint32_t(layer.size() - 1);
  }
  void link(uint32_t a, uint32_t b) { down[a].push_back(b); up[b].push_back(a); }
};

// Crossings between layer l and l+1: inversions among the edges sorted by their left end.
int64_t crossings(const Virtual& v, size_t l) {
  std::vector<std::pair<uint32_t, uint32_t>> e;
  for (uint32_t a : v.layers[l])
    for (uint32_t b : v.down[a]) e.push_back({v.pos[a], v.pos[b]});
  std::sort(e.begin(), e.end());
  std::vector<int64_t> fen(v.layers[l + 1].size() + 1, 0);  // counts of right ends seen so far
  int64_t seen = 0, c = 0;
  for (const auto& [a, b] : e) {
    int64_t le = 0;  // right ends <= b seen so far
    for (size_t i = b + 1; i > 0; i -= i & (~i + 1)) le += fen[i];
    c += seen - le;
    for (size_t i = b + 1; i < fen.size(); i += i & (~i + 1)) fen[i]++;
    seen++;
  }
  return c;
}

int64_t all_crossings(const Virtual& v) {
  int64_t c = 0;
  for (size_t l = 0; l + 1 < v.layers.size(); l++) c += crossings(v, l);
  return c;
}

// Orders layer l by the mean position of each node's neighbours on one side; nodes with none
// keep their place (their own position is their key).
void sort_layer(Virtual& v, size_t l, bool by_up) {
  std::vector<uint32_t>& ly = v.layers[l];
  std::vector<std::pair<double, uint32_t>> key;
  key.reserve(ly.size());
  for (uint32_t a : ly) {
    const std::vector<uint32_t>& nb = by_up ? v.up[a] : v.down[a];
    double k = v.pos[a];
    if (!nb.empty()) {
      double s = 0;
      for (uint32_t b : nb) s += v.pos[b];
      k = s / double(nb.size());
    }
    key.push_back({k, a});
  }
  std::stable_sort(key.begin(), key.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (size_t i = 0; i < ly.size(); i++) {
    ly[i] = key[i].second;
    v.pos[ly[i]] = uint32_t(i);
  }
}

// Places one layer's nodes (in order) as near their wanted centres as the gaps allow: the
// least-squares placement, by merging blocks of nodes that would overlap (pool adjacent
// violators).
void place_layer(const std::vector<uint32_t>& ly, const std::vector<double>& want, const std::vector<float>& hgt, float gap,
                 std::vector<double>& y) {
  const size_t m = ly.size();
  if (!m) return;
  std::vector<double> P(m, 0);  // P[i]: distance from node 0's centre to node i's when packed
  for (size_t i = 1; i < m; i++) P[i] = P[i - 1] + (hgt[ly[i - 1]] + hgt[ly[i]]) / 2 + gap;
  struct Block { size_t first; double sum; size_t cnt; double pos() const { return sum / double(cnt); } };
  std::vector<Block> bs;
  for (size_t i = 0; i < m; i++) {
    Block b{i, want[ly[i]], 1};
    while (!bs.empty()) {
      Block& p = bs.back();
      if (p.pos() + (P[b.first] - P[p.first]) <= b.pos()) break;
      p.sum += b.sum - double(b.cnt) * (P[b.first] - P[p.first]);
      p.cnt += b.cnt;
      b = p;
      bs.pop_back();
    }
    bs.push_back(b);
  }
  for (size_t k = 0; k < bs.size(); k++) {
    const size_t end = k + 1 < bs.size() ? bs[k + 1].first : m;
    for (size_t i = bs[k].first; i < end; i++) y[ly[i]] = bs[k].pos() + P[i] - P[bs[k].first];
  }
}

}  // namespace

Layout layout_graph(const LayoutGraph& g, const LayoutOpts& o) {
  const uint32_t n = uint32_t(g.src.size());
  Layout out;
  out.h = o.node_h;
  if (n == 0) return out;

  // Edges (deduplicated: ADD(x, x) is drawn once), and layers by longest path from the leaves.
  std::vector<std::pair<uint32_t, uint32_t>> edges;
  std::vector<std::vector<uint32_t>> consumers(n);
  std::vector<int> L(n, 0);
  for (uint32_t v = 0; v < n; v++) {
    std::vector<uint32_t> s = g.src[v];
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    for (uint32_t a : s) {
      if (a >= v) continue;  // not a topological order: ignored rather than trusted
      edges.push_back({a, v});
      consumers[a].push_back(v);
      L[v] = std::max(L[v], L[a] + 1);
    }
  }
  // A leaf (a CONST, a buffer) sits just before its first consumer, not in layer 0: that keeps
  // constants next to their use and spares most long edges.
  for (uint32_t v = 0; v < n; v++) {
    bool leaf = true;
    for (uint32_t a : g.src[v]) leaf = leaf && a >= v;
    if (!leaf || consumers[v].empty()) continue;
    int m = L[consumers[v][0]];
    for (uint32_t c : consumers[v]) m = std::min(m, L[c]);
    L[v] = m - 1;
  }
  const int nl = *std::max_element(L.begin(), L.end()) + 1;

  Virtual vg;
  for (uint32_t v = 0; v < n; v++) vg.add(L[v]);
  size_t budget = o.max_dummies_per_node * n + 64;
  std::vector<std::vector<uint32_t>> chains;  // per edge: its virtual nodes, from -> to
  chains.reserve(edges.size());
  for (const auto& [a, b] : edges) {
    std::vector<uint32_t> ch{a};
    const size_t span = size_t(L[b] - L[a]);
    if (span > 1 && span - 1 <= budget) {
      budget -= span - 1;
      for (int l = L[a] + 1; l < L[b]; l++) {
        uint32_t d = vg.add(l);
        vg.link(ch.back(), d);
        ch.push_back(d);
      }
      vg.link(ch.back(), b);
    } else if (span == 1) {
      vg.link(a, b);
    }  // else: over budget, drawn straight and left out of the ordering
    ch.push_back(b);
    chains.push_back(std::move(ch));
  }

  // Order: start from creation order, then barycenter sweeps down and up; keep the best.
  const size_t nv = vg.layer.size();
  vg.layers.assign(size_t(nl), {});
  vg.pos.assign(nv, 0);
  for (uint32_t v = 0; v < nv; v++) {
    vg.pos[v] = uint32_t(vg.layers[size_t(vg.layer[v])].size());
    vg.layers[size_t(vg.layer[v])].push_back(v);
  }
  std::vector<std::vector<uint32_t>> best = vg.layers;
  int64_t best_c = all_crossings(vg);
  for (int it = 0; it < o.sweeps && best_c > 0; it++) {
    for (size_t l = 1; l < size_t(nl); l++) sort_layer(vg, l, true);
    for (size_t l = size_t(nl) - 1; l-- > 0;) sort_layer(vg, l, false);
    const int64_t c = all_crossings(vg);
    if (c < best_c) { best_c = c; best = vg.layers; }
  }
  vg.layers = best;
  for (const std::vector<uint32_t>& ly : vg.layers)
    for (size_t i = 0; i < ly.size(); i++) vg.pos[ly[i]] = uint32_t(i);
  out.crossings = best_c;

  // Coordinates. x: layers side by side, each as wide as its widest node.
  std::vector<float> lw(size_t(nl), 0), lx(size_t(nl), 0);
  for (uint32_t v = 0; v < n; v++) lw[size_t(L[v])] = std::max(lw[size_t(L[v])], g.width.size() > v ? g.width[v] : 0.f);
  for (size_t l = 1; l < size_t(nl); l++) lx[l] = lx[l - 1] + lw[l - 1] + o.layer_gap;
  // y (centres): packed, then pulled towards the neighbours' centres a few times each way.
  std::vector<float> hgt(nv, 0);
  for (uint32_t v = 0; v < n; v++) hgt[v] = o.node_h;
  std::vector<double> y(nv, 0), want(nv, 0);
  for (const std::vector<uint32_t>& ly : vg.layers) {
    for (uint32_t a : ly) want[a] = 0;
    place_layer(ly, want, hgt, o.node_gap, y);
  }
  for (int it = 0; it < 4; it++) {
    for (int pass = 0; pass < 2; pass++) {
      const bool by_up = pass == 0;
      for (size_t k = 0; k < size_t(nl); k++) {
        const size_t l = by_up ? k : size_t(nl) - 1 - k;
        for (uint32_t a : vg.layers[l]) {
          const std::vector<uint32_t>& nb = by_up ? vg.up[a] : vg.down[a];
          if (nb.empty()) { want[a] = y[a]; continue; }
          double s = 0;
          for (uint32_t b : nb) s += y[b];
          want[a] = s / double(nb.size());
        }
        place_layer(vg.layers[l], want, hgt, o.node_gap, y);
      }
    }
  }
  double top = 1e300, bottom = -1e300;
  for (uint32_t v = 0; v < nv; v++) {
    top = std::min(top, y[v] - hgt[v] / 2);
    bottom = std::max(bottom, y[v] + hgt[v] / 2);
  }
  out.pos.resize(n);
  out.w.resize(n);
  out.layer = L;
  for (uint32_t v = 0; v < n; v++) {
    out.w[v] = g.width.size() > v ? g.width[v] : 0.f;
    out.pos[v] = {lx[size_t(L[v])], float(y[v] - o.node_h / 2 - top)};
  }
  out.width = lx.back() + lw.back();
  out.height = float(bottom - top);
  for (size_t e = 0; e < edges.size(); e++) {
    const auto& [a, b] = edges[e];
    Layout::Edge ed{a, b, {}};
    ed.points.push_back({out.pos[a].x + out.w[a], out.pos[a].y + o.node_h / 2});
    for (size_t k = 1; k + 1 < chains[e].size(); k++) {
      const uint32_t d = chains[e][k];
      const float dy = float(y[d] - top);
      ed.points.push_back({lx[size_t(vg.layer[d])], dy});
      ed.points.push_back({lx[size_t(vg.layer[d])] + lw[size_t(vg.layer[d])], dy});
    }
    ed.points.push_back({out.pos[b].x, out.pos[b].y + o.node_h / 2});
    out.edges.push_back(std::move(ed));
  }
  return out;
}

StepGraph step_graph(const Trace& t, uint32_t root, float char_w, float pad) {
  StepGraph sg;
  sg.nodes = graph_nodes(t, root);
  std::unordered_map<uint32_t, uint32_t> local;
  local.reserve(sg.nodes.size());
  for (uint32_t i = 0; i < sg.nodes.size(); i++) local[sg.nodes[i]] = i;
  sg.graph.src.resize(sg.nodes.size());
  sg.graph.width.resize(sg.nodes.size());
  for (uint32_t i = 0; i < sg.nodes.size(); i++) {
    const Node& nd = t.nodes[sg.nodes[i]];
    for (uint32_t s : nd.src) sg.graph.src[i].push_back(local.at(s));
    sg.graph.width[i] = float(std::min<size_t>(node_label(nd).size(), 40)) * char_w + pad;
  }
  return sg;
}

}  // namespace mg::viz
