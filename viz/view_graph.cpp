// Centre: the selected step's graph, laid out in layers; pan by dragging, zoom with the wheel.
#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <unordered_set>
#include <vector>

#include "viz/app.h"
#include "uop/ops.h"

namespace mg::viz {

namespace {

// One colour per op group (mg::OpGroup order).
ImU32 group_colour(uint8_t g) {
  static constexpr ImU32 k[] = {
      IM_COL32(90, 110, 150, 255),   // Define
      IM_COL32(150, 120, 70, 255),   // Movement
      IM_COL32(70, 130, 90, 255),    // Unary
      IM_COL32(60, 110, 70, 255),    // Binary
      IM_COL32(80, 100, 60, 255),    // Ternary
      IM_COL32(150, 80, 80, 255),    // Reduce
      IM_COL32(120, 80, 140, 255),   // Memory
      IM_COL32(60, 120, 140, 255),   // Control
      IM_COL32(130, 130, 60, 255),   // Vector
      IM_COL32(100, 100, 100, 255),  // Graph
  };
  return g < sizeof k / sizeof k[0] ? k[g] : IM_COL32(100, 100, 100, 255);
}

void node_tooltip(const Trace& t, uint32_t id) {
  const Node& n = t.nodes[id];
  ImGui::BeginTooltip();
  ImGui::Text("n%u  %s", id, n.op.c_str());
  ImGui::Text("dtype: %s", n.dtype.c_str());
  if (!n.shape.empty()) ImGui::Text("shape: %s", n.shape.c_str());
  if (!n.arg.empty()) ImGui::Text("arg: %s", n.arg.c_str());
  if (n.has_range) ImGui::Text("range: [%s, %s]", n.vmin.c_str(), n.vmax.c_str());
  if (!n.src.empty()) {
    std::string s;
    for (uint32_t x : n.src) s += (s.empty() ? "n" : ", n") + std::to_string(x);
    ImGui::Text("sources: %s", s.c_str());
  }
  ImGui::EndTooltip();
}

}  // namespace

void draw_graph(App& a) {
  if (a.sel.ctx < 0) {
    ImGui::TextDisabled("No rewrite was recorded (run with VIZ=1).");
    return;
  }
  const Step& st = a.trace.contexts[size_t(a.sel.ctx)].steps[size_t(a.sel.step)];
  if (ImGui::RadioButton("input", !a.show_output)) { a.show_output = false; a.fit = true; }
  ImGui::SameLine();
  if (ImGui::RadioButton("output", a.show_output)) { a.show_output = true; a.fit = true; }
  const StepView* v = a.step_view(a.sel.ctx, a.sel.step, a.show_output);
  ImGui::SameLine();
  ImGui::Text("  %s: %zu nodes, %zu matches, %.2f ms%s", st.name.c_str(), v ? v->sg.nodes.size() : 0, st.matches.size(), double(st.ns) / 1e6,
              st.bottom_up ? ", bottom-up" : "");
  if (!v || v->sg.nodes.empty()) return;
  const Layout& L = v->layout;

  // The selected match: what it replaced (input) or what it made (output) stands out.
  std::unordered_set<uint32_t> match_nodes;
  uint32_t match_root = kNone;
  if (a.sel.match >= 0) {
    const Match& m = st.matches[size_t(a.sel.match)];
    match_root = a.show_output ? m.after : m.before;
    for (uint32_t n : graph_nodes(a.trace, match_root)) match_nodes.insert(n);
  }

  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImVec2 size = ImGui::GetContentRegionAvail();
  size.x = std::max(size.x, 50.f), size.y = std::max(size.y, 50.f);
  ImGui::InvisibleButton("graph_canvas", size, ImGuiButtonFlags_MouseButtonLeft);
  const bool hovered = ImGui::IsItemHovered();
  // Where to look: the whole graph if it fits at a readable size, else the sink's end (the
  // right) at the smallest zoom that still shows labels; then the selected match, if any.
  constexpr float kReadable = 0.8f;
  if (a.fit) {
    const float whole = std::min(size.x / (L.width + 40), size.y / (L.height + 40));
    a.zoom = std::clamp(whole, kReadable, 1.5f);
    a.pan_x = whole >= kReadable ? (size.x / a.zoom - L.width) / 2 : size.x / a.zoom - L.width - 20;
    a.pan_y = (size.y / a.zoom - L.height) / 2;
    a.fit = false;
    a.recentre = a.sel.match >= 0;
  }
  if (a.recentre) {
    a.recentre = false;
    if (a.sel.match >= 0) {
      const Match& m = st.matches[size_t(a.sel.match)];
      const uint32_t want = a.show_output ? m.after : m.before;
      auto it = std::lower_bound(v->sg.nodes.begin(), v->sg.nodes.end(), want);  // sg.nodes is sorted
      if (it != v->sg.nodes.end() && *it == want) {
        const size_t i = size_t(it - v->sg.nodes.begin());
        a.pan_x = size.x / a.zoom / 2 - (L.pos[i].x + L.w[i] / 2);
        a.pan_y = size.y / a.zoom / 2 - (L.pos[i].y + L.h / 2);
      }
    }
  }
  ImGuiIO& io = ImGui::GetIO();
  if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left)) {
    a.pan_x += io.MouseDelta.x / a.zoom;
    a.pan_y += io.MouseDelta.y / a.zoom;
  }
  if (hovered && io.MouseWheel != 0) {
    // Zoom about the mouse: the graph point under it stays there.
    const float mx = (io.MousePos.x - p0.x) / a.zoom - a.pan_x, my = (io.MousePos.y - p0.y) / a.zoom - a.pan_y;
    a.zoom = std::clamp(a.zoom * (io.MouseWheel > 0 ? 1.2f : 1 / 1.2f), 0.01f, 8.f);
    a.pan_x = (io.MousePos.x - p0.x) / a.zoom - mx;
    a.pan_y = (io.MousePos.y - p0.y) / a.zoom - my;
  }
  auto to_screen = [&](Point p) { return ImVec2(p0.x + (p.x + a.pan_x) * a.zoom, p0.y + (p.y + a.pan_y) * a.zoom); };

  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(p0, ImVec2(p0.x + size.x, p0.y + size.y), true);
  dl->AddRectFilled(p0, ImVec2(p0.x + size.x, p0.y + size.y), IM_COL32(24, 24, 28, 255));
  std::vector<ImVec2> pts;
  for (const Layout::Edge& e : L.edges) {
    pts.clear();
    for (const Point& p : e.points) pts.push_back(to_screen(p));
    dl->AddPolyline(pts.data(), int(pts.size()), IM_COL32(140, 140, 150, 160), 0, 1.0f);
  }
  const bool text = ImGui::GetFontSize() * a.zoom >= 5.5f;  // smaller is unreadable
  int hover = -1;
  for (size_t i = 0; i < v->sg.nodes.size(); i++) {
    const uint32_t id = v->sg.nodes[i];
    const ImVec2 q0 = to_screen(L.pos[i]), q1 = to_screen({L.pos[i].x + L.w[i], L.pos[i].y + L.h});
    if (q1.x < p0.x || q0.x > p0.x + size.x || q1.y < p0.y || q0.y > p0.y + size.y) continue;  // off screen
    const Node& nd = a.trace.nodes[id];
    dl->AddRectFilled(q0, q1, group_colour(nd.group), 3);
    if (v->changed.count(id)) dl->AddRect(q0, q1, a.show_output ? IM_COL32(90, 230, 90, 255) : IM_COL32(240, 80, 80, 255), 3, 0, 2.5f);
    if (match_nodes.count(id)) dl->AddRect(q0, q1, IM_COL32(255, 200, 40, 255), 3, 0, id == match_root ? 4.f : 2.f);
    if (text) {
      std::string lab = node_label(nd);
      if (lab.size() > 40) lab = lab.substr(0, 37) + "...";
      // Text scales with the zoom: node widths were sized for the font at zoom 1.
      const ImVec4 clip(q0.x, q0.y, q1.x, q1.y);
      dl->AddText(ImGui::GetFont(), ImGui::GetFontSize() * a.zoom, ImVec2(q0.x + 5 * a.zoom, q0.y + 3 * a.zoom), IM_COL32(235, 235, 235, 255),
                  lab.c_str(), nullptr, 0, &clip);
    }
    if (hovered && io.MousePos.x >= q0.x && io.MousePos.x <= q1.x && io.MousePos.y >= q0.y && io.MousePos.y <= q1.y) hover = int(i);
  }
  dl->PopClipRect();
  if (hover >= 0) node_tooltip(a.trace, v->sg.nodes[size_t(hover)]);
}

}  // namespace mg::viz
