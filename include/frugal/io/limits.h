// Caps that every file parser (src/io and the TOML config reader) checks before it allocates, so a
// hostile header cannot make frugal allocate gigabytes or recurse without bound. The defaults fit
// every real file frugal reads; a program that needs more (or a test that wants less) sets them.
#pragma once
#include <cstdint>

namespace frugal::io {

struct Limits {
  int64_t max_tensor_elements = int64_t{1} << 31;  // one array, tensor or volume; keep below 2^40
  int max_nesting_depth = 64;                      // JSON/TOML nesting, nested NIR graphs
  int64_t max_string_bytes = int64_t{1} << 20;     // one name or string value stored in a file
};

const Limits& limits();
// Process-wide; set it before reading files (not while another thread parses).
void set_limits(const Limits& limits);

}  // namespace frugal::io
