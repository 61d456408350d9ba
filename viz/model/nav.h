// Where the window's selection is, and how the keys move it: up/down go from step to step
// (across contexts, in tree order), left/right from match to match (into the neighbouring
// steps that have matches when a step's run out). Pure data, so the keys are tested without
// a window.
#pragma once
#include "viz/model/trace_model.h"

namespace mg::viz {

struct Selection {
  int ctx = -1, step = -1, match = -1;  // -1: none
  friend bool operator==(const Selection&, const Selection&) = default;
};

Selection first_step(const Trace& t);
Selection step_down(const Trace& t, Selection s);   // the next step (its first match unselected)
Selection step_up(const Trace& t, Selection s);
Selection match_right(const Trace& t, Selection s);
Selection match_left(const Trace& t, Selection s);
bool valid(const Trace& t, const Selection& s);

}  // namespace mg::viz
