#include "viz/model/nav.h"

namespace mg::viz {

namespace {

// Steps in tree order as (ctx, step) pairs, walked from s by dir (+1/-1); nullopt-like {-1}.
Selection neighbour_step(const Trace& t, Selection s, int dir) {
  int c = s.ctx, k = s.step;
  if (c < 0) return first_step(t);
  for (;;) {
    k += dir;
    while (c >= 0 && c < int(t.contexts.size()) && (k < 0 || k >= int(t.contexts[size_t(c)].steps.size()))) {
      c += dir;
      if (c < 0 || c >= int(t.contexts.size())) return {-1, -1, -1};
      k = dir > 0 ? 0 : int(t.contexts[size_t(c)].steps.size()) - 1;
    }
    if (c < 0 || c >= int(t.contexts.size())) return {-1, -1, -1};
    return {c, k, -1};
  }
}

}  // namespace

bool valid(const Trace& t, const Selection& s) {
  if (s.ctx < 0 || s.ctx >= int(t.contexts.size())) return false;
  const Context& c = t.contexts[size_t(s.ctx)];
  if (s.step < 0 || s.step >= int(c.steps.size())) return false;
  return s.match >= -1 && s.match < int(c.steps[size_t(s.step)].matches.size());
}

Selection first_step(const Trace& t) {
  for (size_t c = 0; c < t.contexts.size(); c++)
    if (!t.contexts[c].steps.empty()) return {int(c), 0, -1};
  return {};
}

Selection step_down(const Trace& t, Selection s) {
  Selection n = neighbour_step(t, s, +1);
  return n.ctx < 0 ? s : n;
}

Selection step_up(const Trace& t, Selection s) {
  if (s.ctx < 0) return first_step(t);
  Selection n = neighbour_step(t, s, -1);
  return n.ctx < 0 ? Selection{s.ctx, s.step, -1} : n;
}

Selection match_right(const Trace& t, Selection s) {
  if (!valid(t, s)) return first_step(t);
  const Step& st = t.contexts[size_t(s.ctx)].steps[size_t(s.step)];
  if (s.match + 1 < int(st.matches.size())) return {s.ctx, s.step, s.match + 1};
  for (Selection n = neighbour_step(t, s, +1); n.ctx >= 0; n = neighbour_step(t, n, +1))
    if (!t.contexts[size_t(n.ctx)].steps[size_t(n.step)].matches.empty()) return {n.ctx, n.step, 0};
  return s;
}

Selection match_left(const Trace& t, Selection s) {
  if (!valid(t, s)) return first_step(t);
  if (s.match > 0) return {s.ctx, s.step, s.match - 1};
  for (Selection n = neighbour_step(t, s, -1); n.ctx >= 0; n = neighbour_step(t, n, -1)) {
    const size_t m = t.contexts[size_t(n.ctx)].steps[size_t(n.step)].matches.size();
    if (m) return {n.ctx, n.step, int(m) - 1};
  }
  return s;
}

}  // namespace mg::viz
