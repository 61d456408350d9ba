// Symbolic simplification: the generic rule set that folds constants, applies algebraic
// identities and uses value ranges to shrink integer and index arithmetic.
// Semantics, and how to add a rule: docs/symbolic.md.
#pragma once
#include "rewrite/graph_rewrite.h"

namespace mg {

// Constant folding (every ALU op, CAST, BITCAST, through exec_alu) and identities that need no
// value ranges (x+0, x*1, x-x, where(true,a,b), ...). Cheap; safe to run anywhere.
const PatternMatcher& symbolic_simple();

// symbolic_simple() plus re-association of constants, value-range folding, comparison
// folding and division/modulo folding.
const PatternMatcher& symbolic();

// graph_rewrite(x, symbolic()) to a fixed point, parents first (bottom_up = true), which
// keeps idioms like (x//c)*c + x%c whole until their rule sees them.
UOpRef simplify(const UOpRef& x);

}  // namespace mg
