#include "viz/window.h"

#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <GLFW/glfw3.h>

#include <algorithm>
#include <vector>

#include "viz/model/png.h"

namespace mg::viz {

namespace {

// The layout of the main window: tree | centre tabs | rule, and the timeline below.
void draw_frame(App& a, int w, int h) {
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(ImVec2(float(w), float(h)));
  ImGui::Begin("moongrad VIZ", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoBringToFrontOnFocus);
  handle_keys(a);
  const float avail_h = ImGui::GetContentRegionAvail().y;
  const float tl_h = std::max(150.f, avail_h * 0.28f), top_h = avail_h - tl_h - 4;
  const float left_w = 280, right_w = 340;
  ImGui::BeginChild("left", ImVec2(left_w, top_h), true);
  draw_tree(a);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("centre", ImVec2(ImGui::GetContentRegionAvail().x - right_w - 8, top_h), true);
  if (ImGui::BeginTabBar("centre_tabs")) {
    const char* names[] = {"Graph", "Source", "Linearized UOps", "Disassembly"};
    for (int i = 0; i < 4; i++) {
      const CentreTab which = CentreTab(i);
      const ImGuiTabItemFlags f = a.tab_request && a.want_tab == which ? ImGuiTabItemFlags_SetSelected : 0;
      if (ImGui::BeginTabItem(names[i], nullptr, f)) {
        if (which == CentreTab::Graph) draw_graph(a);
        else draw_code(a, which);
        ImGui::EndTabItem();
      }
    }
    a.tab_request = false;
    ImGui::EndTabBar();
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("right", ImVec2(0, top_h), true);
  draw_rule(a);
  ImGui::EndChild();
  ImGui::BeginChild("timeline", ImVec2(0, 0), true);
  draw_timeline(a);
  ImGui::EndChild();
  ImGui::End();
}

// The framebuffer as top-to-bottom RGBA rows (OpenGL reads bottom up).
std::vector<uint8_t> read_pixels(int w, int h) {
  std::vector<uint8_t> px(size_t(w) * size_t(h) * 4), flipped(px.size());
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, px.data());
  const size_t row = size_t(w) * 4;
  for (int y = 0; y < h; y++) std::copy_n(px.data() + size_t(h - 1 - y) * row, row, flipped.data() + size_t(y) * row);
  return flipped;
}

}  // namespace

bool run_window(App& app, const WindowOpts& o, std::string* error) {
  if (!glfwInit()) {
    if (error) *error = "cannot open a window (no display? DISPLAY is unset or unreachable)";
    return false;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  GLFWwindow* win = glfwCreateWindow(o.width, o.height, o.title.c_str(), nullptr, nullptr);
  if (!win) {
    glfwTerminate();
    if (error) *error = "cannot create an OpenGL 3.3 window";
    return false;
  }
  glfwMakeContextCurrent(win);
  glfwSwapInterval(o.screenshot.empty() ? 1 : 0);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // no imgui.ini left in the user's directory
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(win, true);
  ImGui_ImplOpenGL3_Init("#version 330 core");

  bool ok = true;
  for (int frame = 0; !glfwWindowShouldClose(win); frame++) {
    if (o.screenshot.empty()) glfwWaitEventsTimeout(0.1);  // idle while nothing happens
    else glfwPollEvents();
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(win, &fw, &fh);
    draw_frame(app, int(ImGui::GetIO().DisplaySize.x), int(ImGui::GetIO().DisplaySize.y));
    ImGui::Render();
    glViewport(0, 0, fw, fh);
    glClearColor(0.08f, 0.08f, 0.1f, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    if (!o.screenshot.empty() && frame == o.screenshot_frame) {
      const std::vector<uint8_t> px = read_pixels(fw, fh);
      ok = save_png(px.data(), fw, fh, o.screenshot, error);
      glfwSetWindowShouldClose(win, 1);
    }
    glfwSwapBuffers(win);
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(win);
  glfwTerminate();
  return ok;
}

}  // namespace mg::viz
