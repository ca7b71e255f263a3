// The oneDNN convolution primitives of one shape, cached for the life of the process, and the
// backward steps that run them on memory already in the primitives' layouts. Shared by the plain
// NCHW kernels (conv2d_onednn.cpp) and the fused convolution + max-pool that keeps the
// convolution's output in its blocked layout (conv2d_pool_onednn.cpp).
#pragma once
#include <memory>

#include "frugal/kernels/conv2d.h"
#include "onednn_context.h"

namespace frugal::kernels::onednn {

struct ConvDescs {
  dnnl::memory::desc src, weights, bias, dst;  // plain layouts of frugal's tensors
  dnnl::memory::dims strides, padding;
};

using ForwardPd = dnnl::convolution_forward::primitive_desc;
using BackwardDataPd = dnnl::convolution_backward_data::primitive_desc;
using BackwardWeightsPd = dnnl::convolution_backward_weights::primitive_desc;

struct ConvPrimitives {
  ConvDescs plain;
  ForwardPd fwd_pd;
  dnnl::convolution_forward fwd;
  std::unique_ptr<BackwardDataPd> bwd_data_pd;
  std::unique_ptr<BackwardWeightsPd> bwd_weights_pd;
  // Generated on first use.
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
};

ConvPrimitives& conv_primitives(const Conv2dShape& s);

// y (in fwd_pd.dst_desc(), the caller's memory) = conv(x, w) + b; x is plain NCHW, its view in the
// primitive's layout is returned in mx (held by hx) so a later backward-weights can reuse it.
void run_forward(ConvPrimitives& p, const float* x, const float* w, const float* b, dnnl::memory& my,
                 dnnl::memory& mx, Tensor& hx);
// dy must be in the backward-data primitive's diff_dst layout; dx is written plain.
void run_backward_data(ConvPrimitives& p, const dnnl::memory& mdy, const float* w, float* dx);
// x and dy in the backward-weights primitive's layouts; dw plain OIHW; db may be null.
void run_backward_weights(ConvPrimitives& p, const dnnl::memory& mx, const dnnl::memory& mdy, float* dw, float* db);

}  // namespace frugal::kernels::onednn
