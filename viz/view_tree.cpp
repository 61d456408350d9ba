// Left: contexts and their rewrite steps with match counts; the keys that move the selection.
#include <imgui.h>

#include <cstdio>

#include "viz/app.h"

namespace mg::viz {

void draw_tree(App& a) {
  const Trace& t = a.trace;
  ImGui::Text("%zu contexts, %zu nodes", t.contexts.size(), t.nodes.size());
  ImGui::TextDisabled("up/down: step  left/right: match  tab: in/out");
  ImGui::Separator();
  ImGui::BeginChild("tree_scroll");
  for (size_t c = 0; c < t.contexts.size(); c++) {
    const Context& ctx = t.contexts[c];
    char label[256];
    std::snprintf(label, sizeof label, "%s  (%zu steps, %zu matches)###ctx%zu", ctx.name.c_str(), ctx.steps.size(), ctx.match_count(), c);
    if (a.sel.ctx == int(c) && a.scroll_tree) ImGui::SetNextItemOpen(true);
    if (!ImGui::TreeNode(label)) continue;
    for (size_t s = 0; s < ctx.steps.size(); s++) {
      const Step& st = ctx.steps[s];
      const bool selected = a.sel.ctx == int(c) && a.sel.step == int(s);
      std::snprintf(label, sizeof label, "%s  %zu###st%zu_%zu", st.name.c_str(), st.matches.size(), c, s);
      if (!st.matches.empty()) ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 220, 120, 255));
      if (ImGui::Selectable(label, selected)) a.select({int(c), int(s), -1});
      if (!st.matches.empty()) ImGui::PopStyleColor();
      if (selected && a.scroll_tree) {
        ImGui::SetScrollHereY(0.5f);
        a.scroll_tree = false;
      }
    }
    ImGui::TreePop();
  }
  ImGui::EndChild();
}

void handle_keys(App& a) {
  if (ImGui::GetIO().WantTextInput) return;
  auto pressed = [](ImGuiKey k) { return ImGui::IsKeyPressed(ImGui::GetKeyIndex(k)); };
  if (pressed(ImGuiKey_DownArrow)) a.select(step_down(a.trace, a.sel));
  if (pressed(ImGuiKey_UpArrow)) a.select(step_up(a.trace, a.sel));
  if (pressed(ImGuiKey_RightArrow)) a.select(match_right(a.trace, a.sel));
  if (pressed(ImGuiKey_LeftArrow)) a.select(match_left(a.trace, a.sel));
  if (pressed(ImGuiKey_Tab)) { a.show_output = !a.show_output; a.fit = true; }
  if (pressed(ImGuiKey_Home)) a.fit = true;
}

}  // namespace mg::viz
