// AVX2 event-driven conv2d backward (kernels/event_backward.h): the plain loops of
// event_backward_loops.h, built with AVX2 and FMA so the compiler vectorizes each event's run over
// output channels (weights) or input channels (data) 8 floats at a time. Any shape.
#include "../event_backward_loops.h"
#include "frugal/kernels/event_backward.h"

namespace frugal::kernels {

void event_conv2d_backward_weights_avx2(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                                        float* db) {
  event_loops::backward_weights(s, x, dy, dw, db);
}

void event_conv2d_backward_data_avx2(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  event_loops::backward_data(s, dy, w, dx);
}

}  // namespace frugal::kernels
