// Right: the selected match's rule (name, source location, time) and the text diff of the
// subgraph it rewrote; the step's matches as a list.
#include <imgui.h>

#include <cstdio>

#include "viz/app.h"

namespace mg::viz {

void draw_rule(App& a) {
  if (a.sel.ctx < 0) return;
  const Context& c = a.trace.contexts[size_t(a.sel.ctx)];
  const Step& st = c.steps[size_t(a.sel.step)];
  ImGui::TextWrapped("%s", c.name.c_str());
  ImGui::TextWrapped("step: %s", st.name.c_str());
  ImGui::Separator();
  if (st.matches.empty()) {
    ImGui::TextDisabled("No rule fired in this step.");
    return;
  }
  if (a.sel.match < 0) {
    ImGui::TextDisabled("%zu matches: pick one (left/right)", st.matches.size());
  } else {
    const Match& m = st.matches[size_t(a.sel.match)];
    ImGui::Text("match %d of %zu", a.sel.match + 1, st.matches.size());
    ImGui::TextColored(ImVec4(1, 0.85f, 0.4f, 1), "%s", m.rule.c_str());
    ImGui::TextDisabled("%s  (%.1f us)", m.where.c_str(), double(m.ns) / 1e3);
    ImGui::Separator();
    ImGui::BeginChild("diff", ImVec2(0, ImGui::GetContentRegionAvail().y * 0.6f), true, ImGuiWindowFlags_HorizontalScrollbar);
    for (const DiffLine& l : match_text_diff(a.trace, m)) {
      const ImVec4 col = l.tag == '-' ? ImVec4(1, 0.45f, 0.45f, 1) : l.tag == '+' ? ImVec4(0.45f, 1, 0.45f, 1) : ImVec4(0.8f, 0.8f, 0.8f, 1);
      ImGui::TextColored(col, "%c %s", l.tag, l.text.c_str());
    }
    ImGui::EndChild();
  }
  ImGui::BeginChild("matches");
  for (size_t i = 0; i < st.matches.size(); i++) {
    char label[300];
    std::snprintf(label, sizeof label, "%zu  %s###m%zu", i + 1, st.matches[i].rule.c_str(), i);
    if (ImGui::Selectable(label, a.sel.match == int(i))) a.select({a.sel.ctx, a.sel.step, int(i)});
  }
  ImGui::EndChild();
}

void draw_code(App& a, CentreTab which) {
  if (a.sel.ctx < 0) return;
  Context& c = a.trace.contexts[size_t(a.sel.ctx)];
  if (which == CentreTab::Assembly && c.code.assembly.empty() && a.disassemble && !c.kernel.empty()) {
    a.asked.resize(a.trace.contexts.size(), false);
    if (!a.asked[size_t(a.sel.ctx)]) {
      a.asked[size_t(a.sel.ctx)] = true;
      c.code.assembly = a.disassemble(c);
    }
  }
  const std::string& s = which == CentreTab::Source ? c.code.source : which == CentreTab::Linear ? c.code.linear : c.code.assembly;
  if (s.empty()) {
    ImGui::TextDisabled(c.kernel.empty() ? "%s is not a kernel: no code." : "%s: none recorded.", c.name.c_str());
    return;
  }
  ImGui::BeginChild("code", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  ImGui::TextUnformatted(s.data(), s.data() + s.size());
  ImGui::EndChild();
}

}  // namespace mg::viz
