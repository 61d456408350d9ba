#include "uop/ops.h"

namespace mg {

namespace {
constexpr const char* kNames[] = {
#define MG_OP_NAME(name, group) #name,
    MG_OPS(MG_OP_NAME)
#undef MG_OP_NAME
};
constexpr OpGroup kGroups[] = {
#define MG_OP_GROUP(name, group) OpGroup::group,
    MG_OPS(MG_OP_GROUP)
#undef MG_OP_GROUP
};
}  // namespace

const char* op_name(Ops op) { return kNames[int(op)]; }
OpGroup op_group(Ops op) { return kGroups[int(op)]; }
bool is_movement(Ops op) { return op_group(op) == OpGroup::Movement; }

bool is_alu(Ops op) {
  OpGroup g = op_group(op);
  if (op == Ops::CAST || op == Ops::BITCAST) return false;
  return g == OpGroup::Unary || g == OpGroup::Binary || g == OpGroup::Ternary;
}

bool is_commutative(Ops op) {
  static constexpr OpSet comm{Ops::ADD, Ops::MUL, Ops::MAX, Ops::CMPNE, Ops::CMPEQ, Ops::AND, Ops::OR, Ops::XOR};
  return comm.has(op);
}

OpSet OpSet::group(OpGroup g) {
  OpSet s;
  for (int i = 0; i < kNumOps; i++)
    if (kGroups[i] == g) s.add(Ops(i));
  return s;
}

OpSet OpSet::all() {
  OpSet s;
  for (int i = 0; i < kNumOps; i++) s.add(Ops(i));
  return s;
}

}  // namespace mg
