#include "app/app_context.hpp"

#ifndef EVALD_VERSION
#define EVALD_VERSION "0.0.0"
#endif
#ifndef EVALD_COMMIT
#define EVALD_COMMIT "unknown"
#endif

namespace evald {

const BuildInfo& build_info() {
  static const BuildInfo info{EVALD_VERSION, EVALD_COMMIT, __DATE__ " " __TIME__};
  return info;
}

}  // namespace evald
