// What every oneDNN kernel of frugal shares: one CPU engine and stream, and the boundary between
// frugal's plain-layout tensors and the (often blocked) layouts oneDNN primitives choose. Every
// buffer handed to oneDNN, its scratchpad included, is a Tensor from the tracking allocator.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include "frugal/core/tensor.h"

namespace frugal::kernels::onednn {

dnnl::engine& engine();
dnnl::stream& stream();

// The same dims with layout left to the primitive (format_tag::any).
dnnl::memory::desc any_like(const dnnl::memory::desc& md);
// Primitive attributes asking for a caller-provided (tracked) scratchpad.
dnnl::primitive_attr user_scratchpad();

// A view of a frugal buffer in layout `want`, reordered from `plain` into `holder` if they differ.
dnnl::memory input_as(const dnnl::memory::desc& want, const dnnl::memory::desc& plain, const float* ptr,
                      Tensor& holder);
// Memory for an output in layout `have` (`holder` when it differs from `plain`); finish_output
// then copies it into the plain buffer.
dnnl::memory output_as(const dnnl::memory::desc& have, const dnnl::memory::desc& plain, float* ptr, Tensor& holder);
void finish_output(dnnl::memory& m, const dnnl::memory::desc& plain, float* ptr);
dnnl::memory scratchpad(const dnnl::memory::desc& md, Tensor& holder);

}  // namespace frugal::kernels::onednn
