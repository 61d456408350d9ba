// Text forms of a graph: the node list that tests and DEBUG output use, and expressions.
#include <unordered_map>

#include "uop/uop.h"

namespace mg {

namespace {
// A CONST's value as its dtype reads it (uint64 past 2^63 is not negative).
std::string arg_text(const UOp* u) {
  if (u->op == Ops::CONST && u->dtype.scalar == Scalar::UInt64 && std::holds_alternative<int64_t>(u->arg))
    return std::to_string(uint64_t(std::get<int64_t>(u->arg)));
  return arg_str(u->arg);
}
}  // namespace

std::string shape_str(const Shape& s) {
  std::string r = "{";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + (is_sym(s[i]) ? "var" + std::to_string(s[i] - kSymDim) : std::to_string(s[i]));
  return r + "}";
}

std::string node_str(const UOp* u) {
  std::string s = std::string(op_name(u->op)) + " " + u->dtype.name();
  std::string a = arg_text(u);
  if (!a.empty()) s += " " + a;
  return s;
}

std::string print_graph(const UOpRef& root) {
  const std::vector<UOp*>& order = root->toposort();
  std::unordered_map<const UOp*, size_t> id;
  std::string out;
  for (const UOp* u : order) {
    size_t n = id.size();
    id[u] = n;
    out += "%" + std::to_string(n) + " = " + node_str(u);
    for (const UOpRef& s : u->src) out += " %" + std::to_string(id.at(s.get()));
    out += "\n";
  }
  return out;
}

namespace {
const char* infix(Ops op) {
  switch (op) {
    case Ops::ADD: return "+"; case Ops::SUB: return "-"; case Ops::MUL: return "*";
    case Ops::FDIV: return "/"; case Ops::IDIV: return "//"; case Ops::MOD: return "%";
    case Ops::CMPLT: return "<"; case Ops::CMPNE: return "!="; case Ops::CMPEQ: return "==";
    case Ops::AND: return "&"; case Ops::OR: return "|"; case Ops::XOR: return "^";
    case Ops::SHL: return "<<"; case Ops::SHR: return ">>";
    default: return nullptr;
  }
}
}  // namespace

std::string render(const UOpRef& root) {
  // Iterative: expressions can be long chains. Shared subexpressions are written out again.
  std::unordered_map<const UOp*, std::string> done;
  for (const UOp* u : root->toposort()) {
    std::string s;
    auto arg = [&](size_t i) -> const std::string& { return done.at(u->src[i].get()); };
    if (u->op == Ops::CONST) {
      s = arg_text(u);
      if (u->dtype.is_bool()) s = u->const_int() ? "true" : "false";
    } else if (u->op == Ops::DEFINE_VAR) {
      s = std::get<VarArg>(u->arg).name;
    } else if (const char* op = infix(u->op); op && u->src.size() == 2) {
      s = "(" + arg(0) + op + arg(1) + ")";
    } else if (u->op == Ops::NEG) {
      s = "-" + arg(0);
    } else {
      s = op_name(u->op);
      for (auto& c : s) c = char(std::tolower(c));
      if (u->op == Ops::CAST || u->op == Ops::BITCAST) s += "<" + u->dtype.name() + ">";
      s += "(";
      for (size_t i = 0; i < u->src.size(); i++) s += (i ? ", " : "") + arg(i);
      std::string a = arg_str(u->arg);
      if (!a.empty()) s += (u->src.empty() ? "" : ", ") + a;
      s += ")";
    }
    done[u] = std::move(s);
  }
  return done.at(root.get());
}

}  // namespace mg
