// The variable calls of the C ABI (docs/variables.md): symbolic sizes and their values.
#include <cctype>
#include <cstring>

#include "capi/context.h"

using mg::capi::run;

namespace {
bool valid_name(const char* n) {
  if (!n || !*n || std::strlen(n) > 64 || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (const char* c = n; *c; c++)
    if (!std::isalnum(static_cast<unsigned char>(*c)) && *c != '_') return false;
  return true;
}

const mg::VarArg& var_of(mg::Engine& e, int64_t dim) { return std::get<mg::VarArg>(e.uops.sym_var(dim)->arg); }
}  // namespace

extern "C" {

mg_status mg_variable(mg_ctx* ctx, const char* name, int64_t lo, int64_t hi, int64_t* dim) {
  return run(ctx, "mg_variable", [&](mg::Engine& e) {
    if (!dim) mg::fail(mg::ErrorKind::Invalid, "dim is NULL");
    if (!valid_name(name))
      mg::fail(mg::ErrorKind::Invalid, "name must be a letter or _ then letters, digits or _ (at most 64), got " + std::string(name ? "'" + std::string(name) + "'" : "NULL"));
    if (lo < 0 || lo > hi)
      mg::fail(mg::ErrorKind::Invalid, "variable '" + std::string(name) + "': bounds [" + std::to_string(lo) + ", " + std::to_string(hi) + "] must satisfy 0 <= lo <= hi");
    for (size_t i = 0; i < e.uops.sym_count(); i++) {
      const mg::VarArg& v = var_of(e, mg::kSymDim + int64_t(i));
      if (v.name == name && (v.lo != lo || v.hi != hi))
        mg::fail(mg::ErrorKind::Invalid, "variable '" + v.name + "' exists with bounds [" + std::to_string(v.lo) + ", " + std::to_string(v.hi) + "]");
    }
    *dim = e.uops.sym_dim(e.uops.var(name, lo, hi));
  });
}

mg_status mg_variable_bind(mg_ctx* ctx, int64_t dim, int64_t value) {
  return run(ctx, "mg_variable_bind", [&](mg::Engine& e) {
    const mg::UOpRef& var = e.uops.sym_var(dim);
    const mg::VarArg& v = std::get<mg::VarArg>(var->arg);
    if (value < v.lo || value > v.hi)
      mg::fail(mg::ErrorKind::Index, "variable '" + v.name + "': value " + std::to_string(value) + " outside its bounds [" + std::to_string(v.lo) + ", " +
                                         std::to_string(v.hi) + "]");
    e.runtime.var_values[var.get()] = value;
  });
}

mg_status mg_variable_info(mg_ctx* ctx, int64_t dim, const char** name, int64_t* lo, int64_t* hi, int64_t* value, int* bound) {
  return run(ctx, "mg_variable_info", [&](mg::Engine& e) {
    const mg::UOpRef& var = e.uops.sym_var(dim);
    const mg::VarArg& v = std::get<mg::VarArg>(var->arg);
    auto it = e.runtime.var_values.find(var.get());
    if (name) *name = v.name.c_str();
    if (lo) *lo = v.lo;
    if (hi) *hi = v.hi;
    if (value) *value = it == e.runtime.var_values.end() ? 0 : it->second;
    if (bound) *bound = it != e.runtime.var_values.end();
  });
}

}  // extern "C"
