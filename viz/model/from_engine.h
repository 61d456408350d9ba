// Builds VIZ's model from a live engine: its rewrite trace, the code of the kernels it
// compiled, and its profile events.
#pragma once
#include "tensor/engine.h"
#include "viz/model/trace_model.h"

namespace mg::viz {

struct ExportOpts {
  bool assembly = true;  // ask each program for its disassembly (the CPU backend compiles again: slow)
};

Trace trace_from_engine(const Engine& e, const ExportOpts& o = {});

}  // namespace mg::viz
