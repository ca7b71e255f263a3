// The deployable int8 L2MU (issue 6, "compression for edge CPUs"): the file layout that
// lmu/compress.h counts (per weight matrix int8 values and one float32 scale per output row, or a
// nonzero bitmask plus the nonzero int8 values when that is smaller) and a small runtime that
// executes it with integer weights. Spike inputs make every recurrent product an int32 sum of the
// int8 weights of the neurons that fired, multiplied once by the row's scale; only the raw input
// x (plain encoder) meets the weights as a float dot product of int8 levels. Neuron updates follow
// lmu_core / kernels/lif.h exactly, so with the same int8-valued weights the runtime reproduces
// frugal's float forward pass (bit for bit when every product and sum is exact in float32).
//
// File (little-endian): "FL2MU8\n" + NUL, u32 version 1, i32 in, memory_size, order, hidden, out,
// neuron (0 lif, 1 cuba_lif), reset (0 subtract, 1 zero, 2 none); f32 E[order*order] (the matrix
// the memory is multiplied by: Ā, or Āᵀ with transpose_a), f32 B̄[order]; populations u, m, h,
// out, each i32 n + f32 beta[n], i32 n + f32 threshold[n], i32 n + f32 alpha[n] (n = 0 for lif);
// matrices e_x, e_h, e_m, W_x, W_h, W_m, out.weight, each i32 rows, i32 cols (rows 0: absent),
// u8 layout (0 dense, 1 sparse), f32 scale[rows], then int8 level[rows*cols] (dense) or
// u8 bitmask[ceil(rows*cols/8)] (bit i of byte i/8, LSB first) + int8 level[popcount] (sparse);
// f32 out_bias[out]. Only the plain encoder and the spike-count readout are supported.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/core/tensor.h"
#include "frugal/lmu/l2mu.h"

namespace frugal::lmu {

struct Int8Matrix {
  int64_t rows = 0, cols = 0;  // rows 0: the term is off
  std::vector<float> scale;    // [rows]
  std::vector<int8_t> level;   // [rows*cols], decoded to dense in memory
  bool sparse = false;         // how the file stores it
};

struct Int8Population {
  std::vector<float> beta, threshold, alpha;  // per neuron (expanded), beta and alpha clamped to [0, 1]
};

struct Int8L2mu {
  int in = 0, memory_size = 0, order = 0, hidden = 0, out = 0;
  bool cuba = false;
  int reset = 0;  // kernels::Reset as 0 subtract, 1 zero, 2 none
  std::vector<float> E, B;  // [order*order], [order]
  Int8Population u, m, h, o;
  Int8Matrix e_x, e_h, e_m, W_x, W_h, W_m, W_o;
  std::vector<float> out_bias;
};

// Quantizes the model's weight matrices per row (hardwire::quantize_row, int8) into the
// deployable form; a matrix is marked sparse when bitmask + nonzeros is smaller than dense.
Int8L2mu export_int8(L2mu& model);
// Writes the weights of `q` back into `model` as scale * level (the float model the runtime equals).
void load_int8_weights(L2mu& model, const Int8L2mu& q);

void write_int8_l2mu(const std::string& path, const Int8L2mu& q);
Int8L2mu read_int8_l2mu(const std::string& path);

// x [N, T, in] (batch first) -> output spike counts [N, out].
Tensor run_int8(const Int8L2mu& q, const Tensor& x);

}  // namespace frugal::lmu
