// Library-wide constants of the C ABI: version and status names.
#include "capi/moongrad.h"

#define MG_STR_(x) #x
#define MG_STR(x) MG_STR_(x)

extern "C" const char* mg_version(void) {
  return MG_STR(MG_VERSION_MAJOR) "." MG_STR(MG_VERSION_MINOR) "." MG_STR(MG_VERSION_PATCH);
}

extern "C" const char* mg_status_name(mg_status s) {
  switch (s) {
    case MG_OK: return "MG_OK";
    case MG_ERR_INVALID: return "MG_ERR_INVALID";
    case MG_ERR_SHAPE: return "MG_ERR_SHAPE";
    case MG_ERR_DTYPE: return "MG_ERR_DTYPE";
    case MG_ERR_INDEX: return "MG_ERR_INDEX";
    case MG_ERR_DEVICE: return "MG_ERR_DEVICE";
    case MG_ERR_IO: return "MG_ERR_IO";
    case MG_ERR_FREED: return "MG_ERR_FREED";
    case MG_ERR_OOM: return "MG_ERR_OOM";
    case MG_ERR_COMPILE: return "MG_ERR_COMPILE";
    case MG_ERR_INTERNAL: return "MG_ERR_INTERNAL";
  }
  return "MG_ERR_UNKNOWN";  // a value cast from an int outside the enum
}
