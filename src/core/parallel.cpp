#include "frugal/core/parallel.h"

#include <omp.h>

namespace frugal {

void set_num_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace frugal
