// Bottom: one row per track (devices, compiler, user markers), kernels as bars; memory in use
// below. Wheel zooms about the mouse, dragging pans; clicking a kernel opens its codegen.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "viz/app.h"

namespace mg::viz {

namespace {

std::string fmt_ns(double ns) {
  char b[64];
  if (ns >= 1e9) std::snprintf(b, sizeof b, "%.3f s", ns / 1e9);
  else if (ns >= 1e6) std::snprintf(b, sizeof b, "%.3f ms", ns / 1e6);
  else std::snprintf(b, sizeof b, "%.1f us", ns / 1e3);
  return b;
}

std::string fmt_bytes(double b) {
  char s[64];
  if (b >= 1 << 30) std::snprintf(s, sizeof s, "%.2f GiB", b / (1 << 30));
  else if (b >= 1 << 20) std::snprintf(s, sizeof s, "%.2f MiB", b / (1 << 20));
  else if (b >= 1 << 10) std::snprintf(s, sizeof s, "%.1f KiB", b / (1 << 10));
  else std::snprintf(s, sizeof s, "%.0f B", b);
  return s;
}

ImU32 bar_colour(const std::string& name) {
  uint32_t h = 2166136261u;  // FNV-1a: the same kernel keeps its colour
  for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
  return IM_COL32(80 + h % 120, 80 + (h >> 8) % 120, 110 + (h >> 16) % 120, 255);
}

}  // namespace

void draw_timeline(App& a) {
  const Trace& t = a.trace;
  const Timeline& tl = a.timeline;
  if (t.events.empty()) {
    ImGui::TextDisabled("No profile events (VIZ=1 or PROFILE=1 records them).");
    return;
  }
  if (!a.tl_init) {
    const double span = std::max<double>(1000, double(tl.end_ns - tl.start_ns));
    a.tl_from = double(tl.start_ns) - span * 0.01;
    a.tl_to = double(tl.end_ns) + span * 0.01;
    a.tl_init = true;
  }
  ImGui::Text("%zu events, %s, peak memory %s%s", t.events.size(), fmt_ns(double(tl.end_ns - tl.start_ns)).c_str(), fmt_bytes(double(tl.peak)).c_str(),
              t.dropped_events ? " (some events dropped)" : "");
  ImGui::SameLine();
  if (ImGui::SmallButton("fit")) a.tl_init = false;

  const float label_w = 90, row_h = 20, mem_h = 48;
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImVec2 size = ImGui::GetContentRegionAvail();
  size.x = std::max(size.x, label_w + 50);
  size.y = std::max(size.y, row_h * float(tl.tracks.size()) + mem_h + 10);
  ImGui::InvisibleButton("timeline_canvas", size, ImGuiButtonFlags_MouseButtonLeft);
  const bool hovered = ImGui::IsItemHovered();
  ImGuiIO& io = ImGui::GetIO();
  const float x0 = p0.x + label_w, w = size.x - label_w;
  const double span = std::max(1.0, a.tl_to - a.tl_from);
  auto to_x = [&](double ns) { return x0 + float((ns - a.tl_from) / span * w); };
  if (hovered && io.MouseWheel != 0 && io.MousePos.x > x0) {
    const double at = a.tl_from + double(io.MousePos.x - x0) / w * span;
    const double f = io.MouseWheel > 0 ? 1 / 1.25 : 1.25;
    a.tl_from = at - (at - a.tl_from) * f;
    a.tl_to = at + (a.tl_to - at) * f;
  }
  if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 2.f)) {
    const double d = double(io.MouseDelta.x) / w * span;
    a.tl_from -= d;
    a.tl_to -= d;
  }

  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(p0, ImVec2(p0.x + size.x, p0.y + size.y), true);
  dl->AddRectFilled(p0, ImVec2(p0.x + size.x, p0.y + size.y), IM_COL32(20, 20, 24, 255));
  int hover = -1;
  for (size_t k = 0; k < tl.tracks.size(); k++) {
    const float y = p0.y + float(k) * row_h;
    dl->AddText(ImVec2(p0.x + 4, y + 3), IM_COL32(200, 200, 200, 255), tl.tracks[k].name.c_str());
    dl->AddLine(ImVec2(x0, y + row_h), ImVec2(p0.x + size.x, y + row_h), IM_COL32(50, 50, 55, 255));
    float last_x = -1e9f;
    for (uint32_t i : tl.tracks[k].events) {
      const Event& e = t.events[i];
      if (double(e.start_ns + e.dur_ns) < a.tl_from || double(e.start_ns) > a.tl_to) continue;
      float bx0 = to_x(double(e.start_ns)), bx1 = std::max(bx0 + 1, to_x(double(e.start_ns + e.dur_ns)));
      if (e.kind == EventKind::Marker) {
        dl->AddLine(ImVec2(bx0, p0.y), ImVec2(bx0, p0.y + size.y - mem_h), IM_COL32(255, 210, 80, 140));
        dl->AddText(ImVec2(bx0 + 2, y + 3), IM_COL32(255, 210, 80, 255), t.str(e.name).c_str());
        bx1 = bx0 + 4;
      } else {
        if (bx1 < last_x + 0.5f) continue;  // thousands of runs in one pixel: draw one
        dl->AddRectFilled(ImVec2(bx0, y + 2), ImVec2(bx1, y + row_h - 2), bar_colour(t.str(e.name)));
        if (bx1 - bx0 > 40) {
          dl->PushClipRect(ImVec2(bx0, y), ImVec2(bx1, y + row_h), true);
          dl->AddText(ImVec2(bx0 + 3, y + 3), IM_COL32(20, 20, 20, 255), t.str(e.name).c_str());
          dl->PopClipRect();
        }
        last_x = bx1;
      }
      if (hovered && io.MousePos.y >= y && io.MousePos.y < y + row_h && io.MousePos.x >= bx0 - 1 && io.MousePos.x <= bx1 + 1) hover = int(i);
    }
  }
  // Memory in use: a step line scaled to the peak.
  const float my0 = p0.y + size.y - mem_h, my1 = p0.y + size.y - 2;
  dl->AddText(ImVec2(p0.x + 4, my0 + 2), IM_COL32(200, 200, 200, 255), "memory");
  dl->AddText(ImVec2(p0.x + 4, my0 + 16), IM_COL32(150, 150, 150, 255), fmt_bytes(double(tl.peak)).c_str());
  if (tl.peak > 0 && !tl.memory.empty()) {
    std::vector<ImVec2> pts;
    double last = 0;
    for (const Timeline::MemPoint& m : tl.memory) {
      const float x = std::clamp(to_x(double(m.t_ns)), x0, p0.x + size.x);
      const float yv = my1 - float(double(m.bytes) / double(tl.peak)) * (my1 - my0 - 4);
      if (!pts.empty()) pts.push_back(ImVec2(x, pts.back().y));  // hold the value until it changes
      pts.push_back(ImVec2(x, yv));
      last = double(m.bytes);
    }
    pts.push_back(ImVec2(p0.x + size.x, pts.back().y));
    dl->AddPolyline(pts.data(), int(pts.size()), IM_COL32(120, 200, 255, 255), 0, 1.5f);
    (void)last;
  }
  dl->PopClipRect();

  if (hover >= 0) {
    const Event& e = t.events[size_t(hover)];
    ImGui::BeginTooltip();
    ImGui::Text("%s", t.str(e.name).c_str());
    ImGui::Text("%s, at %s", t.str(e.device).c_str(), fmt_ns(double(e.start_ns)).c_str());
    if (e.kind != EventKind::Marker) ImGui::Text("duration %s", fmt_ns(double(e.dur_ns)).c_str());
    if (e.kind == EventKind::Kernel && e.dur_ns > 0) {
      const double s = double(e.dur_ns) * 1e-9;
      ImGui::Text("%.2f GFLOP/s, %.2f GB/s", e.flops / s * 1e-9, e.bytes / s * 1e-9);
      if (t.context_of_kernel(t.str(e.kernel)) >= 0) ImGui::TextDisabled("click: its codegen");
    }
    if (e.kind == EventKind::Copy) ImGui::Text("%s", fmt_bytes(e.bytes).c_str());
    ImGui::EndTooltip();
    if (ImGui::IsMouseReleased(ImGuiMouseButton_Left) && io.MouseDragMaxDistanceSqr[0] < 9 && e.kernel) {
      const int c = t.context_of_kernel(t.str(e.kernel));
      if (c >= 0 && !t.contexts[size_t(c)].steps.empty()) {
        a.select({c, 0, -1});
        a.want_tab = CentreTab::Graph;
        a.tab_request = true;
      }
    }
  }
}

}  // namespace mg::viz
