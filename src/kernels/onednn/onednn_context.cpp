#include "onednn_context.h"

namespace frugal::kernels::onednn {

using dnnl::memory;

namespace {
Tensor scratch_for(const memory::desc& md) {
  return Tensor::empty({static_cast<int64_t>((md.get_size() + sizeof(float) - 1) / sizeof(float)) + 1});
}
}  // namespace

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

memory::desc any_like(const memory::desc& md) {
  return memory::desc(md.dims(), memory::data_type::f32, memory::format_tag::any);
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory input_as(const memory::desc& want, const memory::desc& plain, const float* ptr, Tensor& holder) {
  memory user(plain, engine(), const_cast<float*>(ptr));
  if (want == plain) return user;
  holder = scratch_for(want);
  memory m(want, engine(), holder.data());
  dnnl::reorder(user, m).execute(stream(), user, m);
  return m;
}

memory output_as(const memory::desc& have, const memory::desc& plain, float* ptr, Tensor& holder) {
  if (have == plain) return memory(plain, engine(), ptr);
  holder = scratch_for(have);
  return memory(have, engine(), holder.data());
}

void finish_output(memory& m, const memory::desc& plain, float* ptr) {
  if (m.get_desc() == plain) return;
  memory user(plain, engine(), ptr);
  dnnl::reorder(m, user).execute(stream(), m, user);
}

memory scratchpad(const memory::desc& md, Tensor& holder) {
  holder = scratch_for(md);
  return memory(md, engine(), holder.data());
}

}  // namespace frugal::kernels::onednn
