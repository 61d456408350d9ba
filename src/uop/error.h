// Engine errors: thrown inside the engine, turned into MG_ERR_* statuses at the C ABI.
#pragma once
#include <stdexcept>
#include <string>

namespace mg {

enum class ErrorKind { Invalid, Shape, DType, Index, Device, IO, Freed, OOM, Compile, Internal };

struct Error : std::runtime_error {
  ErrorKind kind;
  Error(ErrorKind k, const std::string& msg) : std::runtime_error(msg), kind(k) {}
};

[[noreturn]] inline void fail(ErrorKind k, const std::string& msg) { throw Error(k, msg); }

}  // namespace mg
