// The one threading runtime is OpenMP (Debian's oneDNN runs on libgomp too). These helpers set
// and read the thread count in one place so `--threads` reaches frugal's kernels and oneDNN alike.
#pragma once

namespace frugal {

void set_num_threads(int threads);  // <= 0 keeps the OpenMP default
int num_threads();

}  // namespace frugal
