// NumPy's .npy format (numpy.lib.format, NEP 1): magic "\x93NUMPY", version 1.0/2.0/3.0, a
// little-endian header length (2 bytes in 1.0, 4 after), a Python dict literal
// {'descr', 'fortran_order', 'shape'}, then the raw C-ordered data. `frugal run` reads inputs from it.
#pragma once
#include <string>

#include "frugal/core/tensor.h"

namespace frugal::io {

// dtypes <f4 <f8 <i8 <i4 |u1 |b1, converted to float32. Fortran order and other dtypes are errors
// naming the file and the field.
Tensor read_npy(const std::string& path);

// float32 (<f4), format version 1.0, header padded to 64 bytes as NumPy does. Atomic.
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace frugal::io
