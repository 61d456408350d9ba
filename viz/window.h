// The VIZ window: GLFW + OpenGL 3 + Dear ImGui around the views of app.h.
#pragma once
#include <string>

#include "viz/app.h"

namespace mg::viz {

struct WindowOpts {
  int width = 1280, height = 800;
  std::string screenshot;  // non-empty: save a PNG of the window after a few frames, then close
  int screenshot_frame = 6;
  std::string title = "moongrad VIZ";
};

// Runs until the window is closed (or the screenshot is taken). false with *error set when
// there is no display or no OpenGL 3, or the screenshot cannot be written.
bool run_window(App& app, const WindowOpts& o, std::string* error);

}  // namespace mg::viz
