// N:M structured-sparsity masks for bidirectional weight pruning (BDWP; Fang et al., "Efficient
// N:M Sparse DNN Training Using Algorithm, Architecture, and Dataflow Co-Design", the SAT paper).
// The forward mask keeps the N largest-magnitude weights of every M consecutive input channels;
// the backward mask keeps N of every M along output channels, so dX = dY·W is N:M sparse too.
// Masks are recomputed from the dense master weights every iteration; the weight gradient stays
// dense (straight-through). SR-STE (Zhou et al., ICLR 2021) adds λ(1 − mask)·W to that gradient.
//
// Tail rule: when the grouped axis is not a multiple of M, the last group is shorter; it is read
// as if zero-padded to M, so it keeps min(N, length) weights. No layer width is rejected.
#pragma once
#include <cstdint>
#include <string>

#include "frugal/core/tensor.h"

namespace frugal::sparse {

struct NMPattern {
  int n = 0;
  int m = 0;
  std::string str() const { return std::to_string(n) + ":" + std::to_string(m); }
};

// Parses "N:M" with 1 <= N < M <= 16; `where` names the source (config file and key) in errors.
NMPattern parse_nm(const std::string& text, const std::string& where);
void check_nm(const NMPattern& p, const std::string& where);

// Chooses the kept members of one group of `len` values base[0], base[stride], ...: the
// min(n, len) largest magnitudes, ties going to the lower index, NaN counted smallest. Writes
// their positions in ascending order to `kept` and returns how many.
int select_group(const float* base, int64_t stride, int len, int n, uint8_t* kept);

// 0/1 masks of the weight's shape. Linear weight [out, in]: forward groups run along `in` per
// output row. Conv weight [O, C, KH, KW]: forward groups run along C per (o, kh, kw); backward
// groups run along O per (c, kh, kw) for both.
Tensor forward_mask(const Tensor& weight, const NMPattern& p);
Tensor backward_mask(const Tensor& weight, const NMPattern& p);

// grad += decay · (1 − mask) ⊙ weight: SR-STE's pull of pruned weights toward zero.
void add_sr_ste_decay(const Tensor& weight, const Tensor& mask, float decay, Tensor& grad);

}  // namespace frugal::sparse
