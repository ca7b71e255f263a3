// Event-driven backward products of a 2-D convolution, for spiking nets: the input x of a conv
// after a spiking layer is binary and sparse (~10 % spikes), and its output gradient dy after a
// max-pool is 3/4 structural zeros. Backward-weights visits the nonzero inputs only
// (dW[c][ky][kx][:] += x · dy[n][oy][ox][:], dy transposed channel-last), backward-data visits
// the nonzero output gradients only (dX[n][iy][ix][:] += dy · W[o][ky][kx][:], dX channel-last).
// Same layouts and results as kernels::ref::conv2d_backward_* (NCHW, OIHW), up to float
// summation order.
#pragma once
#include <cstdint>

#include "frugal/kernels/conv2d.h"

namespace frugal::kernels {

// dw [O, C/groups, KH, KW] and db [O] (db may be null) from the nonzero entries of x.
void event_conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db);
// dx [N, C, H, W] from the nonzero entries of dy.
void event_conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx);
// Both (dx, or dw and db, may be null), sharing one pass over dy.
void event_conv2d_backward(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx,
                           float* dw, float* db);

// Density crossovers measured with bench/event_backward.cpp against oneDNN (docs/snn.md): the
// weights product takes events when x's nonzero fraction is at most the first, the data product
// when dy's is at most the second. They depend on which kernel runs for this shape and CPU.
double event_backward_weights_threshold(const Conv2dShape& s);
double event_backward_data_threshold(const Conv2dShape& s);

// What the conv2d backward should run for a product whose sparse operand is v, under the current
// EventMode (kernels/event.h).
bool use_backward_events(const float* v, int64_t n, double threshold);

// Plain loops, any shape.
void event_conv2d_backward_weights_ref(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db);
void event_conv2d_backward_data_ref(const Conv2dShape& s, const float* dy, const float* w, float* dx);

// The plain loops compiled for AVX2 + FMA; call only when cpu_has_avx2() (kernels/lif.h).
void event_conv2d_backward_weights_avx2(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db);
void event_conv2d_backward_data_avx2(const Conv2dShape& s, const float* dy, const float* w, float* dx);

// AVX-512 versions; call only when cpu_has_avx512() and the *_fits test holds.
bool cpu_has_avx512();
bool event_conv2d_backward_weights_avx512_fits(const Conv2dShape& s);
bool event_conv2d_backward_data_avx512_fits(const Conv2dShape& s);
void event_conv2d_backward_weights_avx512(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                                          float* db);
void event_conv2d_backward_data_avx512(const Conv2dShape& s, const float* dy, const float* w, float* dx);
void event_conv2d_backward_avx512(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx,
                                  float* dw, float* db);

}  // namespace frugal::kernels
