#include "frugal/io/limits.h"

namespace frugal::io {

namespace {
Limits g_limits;
}

const Limits& limits() { return g_limits; }

void set_limits(const Limits& limits) { g_limits = limits; }

}  // namespace frugal::io
