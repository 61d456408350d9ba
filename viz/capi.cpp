// The C entry points of libmoongrad_viz (moongrad_viz.h): nothing thrown across them.
#include "viz/moongrad_viz.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/context.h"
#include "viz/app.h"
#include "viz/model/chrome_trace.h"
#include "viz/model/from_engine.h"
#include "viz/model/trace_file.h"
#include "viz/window.h"

using mg::capi::fail;
using mg::capi::guarded;

namespace {

void put_error(char* err, size_t cap, const std::string& msg) {
  if (!err || cap == 0) return;
  const size_t n = std::min(cap - 1, msg.size());
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

mg::viz::WindowOpts window_opts(const char* screenshot) {
  mg::viz::WindowOpts o;
  if (screenshot && *screenshot) o.screenshot = screenshot;
  return o;
}

}  // namespace

extern "C" mg_status mgviz_save_trace(mg_ctx* ctx, const char* path) {
  if (!ctx) return MG_ERR_INVALID;
  if (!path || !*path) return fail(ctx, MG_ERR_INVALID, "mgviz_save_trace: path must be a non-empty string");
  return guarded(ctx, "mgviz_save_trace", [&]() -> mg_status {
    std::string err;
    // VIZ_ASM=0 leaves disassembly out: making it compiles every kernel again.
    const char* asm_env = std::getenv("VIZ_ASM");
    const bool with_asm = !(asm_env && std::string(asm_env) == "0");
    if (!mg::viz::save_trace(mg::viz::trace_from_engine(ctx->engine, {.assembly = with_asm}), path, &err))
      return fail(ctx, MG_ERR_IO, ("mgviz_save_trace: " + err).c_str());
    return MG_OK;
  });
}

extern "C" mg_status mgviz_save_profile(mg_ctx* ctx, const char* path) {
  if (!ctx) return MG_ERR_INVALID;
  if (!path || !*path) return fail(ctx, MG_ERR_INVALID, "mgviz_save_profile: path must be a non-empty string");
  return guarded(ctx, "mgviz_save_profile", [&]() -> mg_status {
    std::string err;
    // The profile alone: no disassembly needed, so no compiling again.
    if (!mg::viz::save_chrome_trace(mg::viz::trace_from_engine(ctx->engine, {.assembly = false}), path, &err))
      return fail(ctx, MG_ERR_IO, ("mgviz_save_profile: " + err).c_str());
    return MG_OK;
  });
}

extern "C" mg_status mgviz_show(mg_ctx* ctx, const char* screenshot) {
  if (!ctx) return MG_ERR_INVALID;
  return guarded(ctx, "mgviz_show", [&]() -> mg_status {
    mg::viz::App app(mg::viz::trace_from_engine(ctx->engine, {.assembly = false}));
    const mg::Engine& eng = ctx->engine;  // alive while the window is open: this call blocks
    app.disassemble = [&eng](const mg::viz::Context& c) -> std::string {
      for (const auto& [key, cp] : eng.runtime.programs)
        if (cp.kernel.fn_name == c.kernel) {
          try {
            return cp.program->assembly();
          } catch (const std::exception& e) {
            return std::string("(no disassembly: ") + e.what() + ")";
          }
        }
      return "";
    };
    std::string err;
    if (!mg::viz::run_window(app, window_opts(screenshot), &err)) return fail(ctx, MG_ERR_DEVICE, ("mgviz_show: " + err).c_str());
    return MG_OK;
  });
}

extern "C" mg_status mgviz_show_file(const char* path, const char* screenshot, char* err, size_t errcap) {
  try {
    if (!path || !*path) { put_error(err, errcap, "mgviz_show_file: path must be a non-empty string"); return MG_ERR_INVALID; }
    std::string why;
    auto t = mg::viz::load_trace(path, &why);
    if (!t) { put_error(err, errcap, "mgviz_show_file: " + why); return MG_ERR_IO; }
    mg::viz::App app(std::move(*t));
    if (!mg::viz::run_window(app, window_opts(screenshot), &why)) { put_error(err, errcap, "mgviz_show_file: " + why); return MG_ERR_DEVICE; }
    return MG_OK;
  } catch (const std::exception& e) {
    put_error(err, errcap, std::string("mgviz_show_file: ") + e.what());
  } catch (...) {
    put_error(err, errcap, "mgviz_show_file: internal error");
  }
  return MG_ERR_INTERNAL;
}

extern "C" mg_status mgviz_check_file(const char* path, size_t* contexts, size_t* steps, size_t* events, char* err, size_t errcap) {
  try {
    if (!path || !*path) { put_error(err, errcap, "mgviz_check_file: path must be a non-empty string"); return MG_ERR_INVALID; }
    std::string why;
    auto t = mg::viz::load_trace(path, &why);
    if (!t) { put_error(err, errcap, "mgviz_check_file: " + why); return MG_ERR_IO; }
    size_t n = 0;
    for (const mg::viz::Context& c : t->contexts) n += c.steps.size();
    if (contexts) *contexts = t->contexts.size();
    if (steps) *steps = n;
    if (events) *events = t->events.size();
    return MG_OK;
  } catch (const std::exception& e) {
    put_error(err, errcap, std::string("mgviz_check_file: ") + e.what());
  } catch (...) {
    put_error(err, errcap, "mgviz_check_file: internal error");
  }
  return MG_ERR_INTERNAL;
}
