#include "viz/model/diff.h"

#include <algorithm>
#include <iterator>

namespace mg::viz {

GraphDiff diff_graphs(const Trace& t, uint32_t before, uint32_t after) {
  GraphDiff d;
  d.from = before;
  d.to = after;
  const std::vector<uint32_t> a = graph_nodes(t, before), b = graph_nodes(t, after);  // both sorted
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(d.added));
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(d.removed));
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(d.kept));
  return d;
}

std::string node_line(const Trace& t, uint32_t n) {
  const Node& nd = t.nodes.at(n);
  std::string s = "n" + std::to_string(n) + " = " + node_label(nd);
  if (!nd.src.empty()) {
    s += " (";
    for (size_t i = 0; i < nd.src.size(); i++) s += (i ? ", n" : "n") + std::to_string(nd.src[i]);
    s += ")";
  }
  return s;
}

std::vector<DiffLine> text_diff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<DiffLine> out;
  const size_t n = a.size(), m = b.size();
  // LCS table: fine for the subgraphs of one match; beyond that, all out and all in.
  if (n * m > 4'000'000) {
    for (const std::string& s : a) out.push_back({'-', s});
    for (const std::string& s : b) out.push_back({'+', s});
    return out;
  }
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;) at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) { out.push_back({' ', a[i]}); i++, j++; }
    else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) out.push_back({'-', a[i++]});
    else out.push_back({'+', b[j++]});
  }
  return out;
}

std::vector<DiffLine> match_text_diff(const Trace& t, const Match& m) {
  std::vector<std::string> a, b;
  for (uint32_t n : graph_nodes(t, m.before)) a.push_back(node_line(t, n));
  for (uint32_t n : graph_nodes(t, m.after)) b.push_back(node_line(t, n));
  return text_diff(a, b);
}

}  // namespace mg::viz
