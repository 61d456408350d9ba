// PROFILE=1's output: the profile events as Chrome trace-event JSON (the "JSON object" form,
// which Perfetto and chrome://tracing open). Kernel runs, copies and compiles are complete
// ("X") events with flops and bytes as args, one thread per track; memory in use is a counter
// ("C"); markers are global instants ("i").
#pragma once
#include <string>

#include "viz/model/trace_model.h"

namespace mg::viz {

std::string chrome_trace_json(const Trace& t);
bool save_chrome_trace(const Trace& t, const std::string& path, std::string* error);

}  // namespace mg::viz
