#include "frugal/sparse/nm_layers.h"

#include <chrono>
#include <cstdio>
#include <limits>

#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/nm_gemm.h"
#include "frugal/nn/builder.h"

namespace frugal::sparse {

using autograd::Var;

NmLinear::NmLinear(int in_features, int out_features, bool bias, Rng& rng, const NMConfig& nm, NMKernel kernel)
    : nn::Linear(in_features, out_features, bias, rng), nm(nm), kernel(kernel) {
  check_nm(nm.pattern, "nm_linear");
}

void NmLinear::prepare() {
  if (nm.mode != NMMode::dense) prepare_linear(weight.value(), nm, prepared_, backward_copy_);
  ready_ = true;
}

Var NmLinear::forward(const Var& x) {
  // The next prepare() makes the backward copy only if this input needs a gradient; an input
  // that starts needing one gets the copy here.
  bool needs_backward = nm.mode == NMMode::bdwp && x.requires_grad() && autograd::grad_enabled();
  if (!ready_ || (needs_backward && !prepared_.bw)) {
    backward_copy_ = true;
    prepare();
  }
  backward_copy_ = needs_backward;
  return nm_linear(x, weight, bias, nm, prepared_, kernel);
}

nn::Json NmLinear::spec() const {
  nn::Json s = nn::Linear::spec();
  s["type"] = "nm_linear";
  s["sparsity"] = nm.pattern.str();
  s["sparsity_mode"] = nm_mode_name(nm.mode);
  s["sr_ste_decay"] = nm.sr_ste_decay;
  s["nm_kernel"] = nm_kernel_name(kernel);
  return s;
}

NmConv2d::NmConv2d(int in_channels, int out_channels, int kernel_size, int stride, int pad, bool bias, Rng& rng,
                   const NMConfig& nm, NMKernel kernel)
    : nn::Conv2d(in_channels, out_channels, kernel_size, stride, pad, 1, bias, rng), nm(nm), kernel(kernel) {
  check_nm(nm.pattern, "nm_conv2d");
  require(kernel == NMKernel::masked_dense || conv2d_gemm_fits(weight.value(), nm.pattern),
          "nm_conv2d: kernel nm_gemm needs input channels (" + std::to_string(in_channels) + ") divisible by M = " +
              std::to_string(nm.pattern.m));
}

void NmConv2d::prepare() {
  if (nm.mode != NMMode::dense) prepared_ = prepare_conv2d(weight.value(), nm, kernel);
  ready_ = true;
}

Var NmConv2d::forward(const Var& x) {
  if (!ready_) prepare();
  return nm_conv2d(x, weight, bias, {stride, pad, 1}, nm, prepared_);
}

nn::Json NmConv2d::spec() const {
  nn::Json s = nn::Conv2d::spec();
  s["type"] = "nm_conv2d";
  s.erase("groups");
  s["sparsity"] = nm.pattern.str();
  s["sparsity_mode"] = nm_mode_name(nm.mode);
  s["sr_ste_decay"] = nm.sr_ste_decay;
  s["nm_kernel"] = nm_kernel_name(kernel);
  return s;
}

namespace {

NMKernel parse_kernel(const std::string& text, const std::string& where) {
  if (text == "nm_gemm") return NMKernel::nm_gemm;
  if (text == "masked_dense") return NMKernel::masked_dense;
  throw Error(where + ": kernel \"" + text + "\" is unknown; expected \"nm_gemm\" or \"masked_dense\"");
}

nn::ModulePtr try_build_sparse(const nn::Json& spec, Rng& rng, const std::string& where) {
  nn::SpecReader r(spec, where);
  std::string type = r.get_string("type");
  if (type != "nm_linear" && type != "nm_conv2d") return nullptr;
  nn::ModulePtr m;
  NMConfig nm;
  auto read_nm = [&]() {
    nm.pattern = parse_nm(r.get_string("sparsity"), where + ".sparsity");
    nm.mode = parse_nm_mode(r.get_string("sparsity_mode", "bdwp"), where + ".sparsity_mode");
    nm.sr_ste_decay = static_cast<float>(r.get_double("sr_ste_decay", 0.0));
    require(nm.sr_ste_decay >= 0, where + ".sr_ste_decay: expected >= 0");
    return parse_kernel(r.get_string("nm_kernel", "masked_dense"), where + ".nm_kernel");
  };
  if (type == "nm_linear") {
    int in = r.get_int("in"), out = r.get_int("out");
    bool bias = r.get_bool("bias", true);
    NMKernel k = read_nm();
    m = std::make_unique<NmLinear>(in, out, bias, rng, nm, k);
  } else {
    int in = r.get_int("in"), out = r.get_int("out"), ks = r.get_int("kernel");
    int stride = r.get_int("stride", 1), pad = r.get_int("pad", 0);
    bool bias = r.get_bool("bias", true);
    NMKernel k = read_nm();
    m = std::make_unique<NmConv2d>(in, out, ks, stride, pad, bias, rng, nm, k);
  }
  r.finish();
  return m;
}

// Visits the layers of the module tree in forward order with their names ("3", "2.1").
template <typename F>
void for_each_layer(nn::Module& m, const std::string& name, F&& f) {
  if (auto* seq = dynamic_cast<nn::Sequential*>(&m)) {
    for (size_t i = 0; i < seq->layers.size(); ++i)
      for_each_layer(*seq->layers[i], name.empty() ? std::to_string(i) : name + "." + std::to_string(i), f);
    return;
  }
  f(m, name);
}

std::string dims(int a, int b) { return std::to_string(a) + "->" + std::to_string(b); }

void sparsify_children(nn::Sequential& seq, const std::string& prefix, const NMConfig& nm,
                       std::vector<std::string>& lines) {
  Rng unused(0);  // the sparse layer takes the dense layer's weights; its own init is discarded
  for (size_t i = 0; i < seq.layers.size(); ++i) {
    std::string name = prefix.empty() ? std::to_string(i) : prefix + "." + std::to_string(i);
    nn::Module* layer = seq.layers[i].get();
    if (auto* inner = dynamic_cast<nn::Sequential*>(layer)) {
      sparsify_children(*inner, name, nm, lines);
    } else if (dynamic_cast<NmLinear*>(layer) || dynamic_cast<NmConv2d*>(layer)) {
      lines.push_back("layer " + name + " " + layer->type() + ": already sparse");
    } else if (auto* lin = dynamic_cast<nn::Linear*>(layer)) {
      auto s = std::make_unique<NmLinear>(lin->in_features, lin->out_features, lin->bias.defined(), unused, nm,
                                          NMKernel::nm_gemm);
      s->weight = lin->weight;
      s->bias = lin->bias;
      lines.push_back("layer " + name + " linear " + dims(lin->in_features, lin->out_features) + ": N:M " +
                      nm.pattern.str() + " " + nm_mode_name(nm.mode));
      seq.layers[i] = std::move(s);
    } else if (auto* conv = dynamic_cast<nn::Conv2d*>(layer)) {
      if (conv->groups != 1) {
        lines.push_back("layer " + name + " conv2d: left dense (groups = " + std::to_string(conv->groups) +
                        "; N:M groups run along all input channels)");
        continue;
      }
      NMKernel k = conv->in_channels % nm.pattern.m == 0 ? NMKernel::nm_gemm : NMKernel::masked_dense;
      auto s = std::make_unique<NmConv2d>(conv->in_channels, conv->out_channels, conv->kernel, conv->stride,
                                          conv->pad, conv->bias.defined(), unused, nm, k);
      s->weight = conv->weight;
      s->bias = conv->bias;
      lines.push_back("layer " + name + " conv2d " + dims(conv->in_channels, conv->out_channels) + " k" +
                      std::to_string(conv->kernel) + ": N:M " + nm.pattern.str() + " " + nm_mode_name(nm.mode));
      seq.layers[i] = std::move(s);
    }
  }
}

using Clock = std::chrono::steady_clock;

// Best-of-reps seconds of one training step of a layer: prepare, forward, backward to the input
// and the weights.
template <typename Layer>
double time_step(Layer& layer, const Tensor& input, int reps) {
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r <= reps; ++r) {  // the first run warms caches and oneDNN's primitive cache
    auto t0 = Clock::now();
    layer.prepare();
    Var x(input, true);
    Var y = layer.forward(x);
    autograd::backward(y);
    double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r > 0 && t < best) best = t;
    layer.weight.zero_grad();
    if (layer.bias.defined()) layer.bias.zero_grad();
  }
  return best;
}

template <typename Layer>
std::string choose_kernel(Layer& layer, const std::string& name, const std::string& what, const Tensor& input,
                          bool gemm_fits, int reps) {
  std::string line = "schedule layer " + name + " " + what + " " + layer.nm.pattern.str() + " " +
                     nm_mode_name(layer.nm.mode) + ", input " + shape_str(input.shape()) + ": ";
  if (!gemm_fits) {
    layer.kernel = NMKernel::masked_dense;
    return line + "masked_dense (input channels not divisible by M)";
  }
  layer.kernel = NMKernel::nm_gemm;
  double t_gemm = time_step(layer, input, reps);
  layer.kernel = NMKernel::masked_dense;
  double t_dense = time_step(layer, input, reps);
  layer.kernel = t_gemm <= t_dense ? NMKernel::nm_gemm : NMKernel::masked_dense;
  layer.prepare();
  char buf[160];
  std::snprintf(buf, sizeof buf, "nm_gemm (%s) %.3f ms, masked_dense %.3f ms per step -> %s",
                kernels::nm_gemm_variant(), t_gemm * 1e3, t_dense * 1e3, nm_kernel_name(layer.kernel));
  return line + buf;
}

Var schedule_walk(nn::Module& m, const std::string& name, Var h, int reps, std::vector<std::string>& lines) {
  if (auto* seq = dynamic_cast<nn::Sequential*>(&m)) {
    for (size_t i = 0; i < seq->layers.size(); ++i)
      h = schedule_walk(*seq->layers[i], name.empty() ? std::to_string(i) : name + "." + std::to_string(i), h, reps,
                        lines);
    return h;
  }
  if (auto* lin = dynamic_cast<NmLinear*>(&m); lin && lin->nm.mode != NMMode::dense)
    lines.push_back(choose_kernel(*lin, name, "nm_linear " + dims(lin->in_features, lin->out_features), h.value(),
                                  true, reps));
  if (auto* conv = dynamic_cast<NmConv2d*>(&m); conv && conv->nm.mode != NMMode::dense)
    lines.push_back(choose_kernel(*conv, name, "nm_conv2d " + dims(conv->in_channels, conv->out_channels),
                                  h.value(), conv2d_gemm_fits(conv->weight.value(), conv->nm.pattern), reps));
  autograd::NoGradGuard no_grad;
  return m.forward(h);
}

}  // namespace

void register_layers() { nn::add_module_builder(try_build_sparse); }

std::vector<std::string> sparsify(nn::Module& model, const NMConfig& nm) {
  check_nm(nm.pattern, "sparse::sparsify");
  std::vector<std::string> lines;
  auto* seq = dynamic_cast<nn::Sequential*>(&model);
  require(seq != nullptr, "sparse::sparsify: the model must be a sequential (got " + model.type() + ")");
  sparsify_children(*seq, "", nm, lines);
  return lines;
}

std::vector<std::string> schedule(nn::Module& model, const Shape& input_shape, int reps) {
  require(reps > 0, "sparse::schedule: reps must be positive");
  require(autograd::tape_size() == 0, "sparse::schedule: must run outside a training step (the tape is not empty)");
  Tensor input = Tensor::empty(input_shape);
  Rng rng(1);
  for (int64_t i = 0; i < input.numel(); ++i) input[i] = rng.uniform(0.0f, 1.0f);
  std::vector<std::string> lines;
  // Evaluation mode: the walk must not move batch-norm statistics or dropout's random stream.
  bool was_training = model.training();
  model.set_training(false);
  schedule_walk(model, "", Var(input), reps, lines);
  model.set_training(was_training);
  return lines;
}

void prepare_all(nn::Module& model) {
  for_each_layer(model, "", [](nn::Module& m, const std::string&) {
    if (auto* lin = dynamic_cast<NmLinear*>(&m)) lin->prepare();
    if (auto* conv = dynamic_cast<NmConv2d*>(&m)) conv->prepare();
  });
}

void prune_to_masks(nn::Module& model) {
  auto prune = [](Tensor& w, const NMConfig& nm) {
    if (nm.mode == NMMode::dense) return;
    Tensor mask = forward_mask(w, nm.pattern);
    for (int64_t i = 0; i < w.numel(); ++i) w[i] *= mask[i];
  };
  for_each_layer(model, "", [&](nn::Module& m, const std::string&) {
    if (auto* lin = dynamic_cast<NmLinear*>(&m)) {
      prune(lin->weight.value(), lin->nm);
      lin->prepare();
    }
    if (auto* conv = dynamic_cast<NmConv2d*>(&m)) {
      prune(conv->weight.value(), conv->nm);
      conv->prepare();
    }
  });
}

std::vector<SparseLayerInfo> describe(nn::Module& model) {
  std::vector<SparseLayerInfo> out;
  auto add = [&](const std::string& name, const std::string& type, const Tensor& w, const NMConfig& nm,
                 NMKernel kernel) {
    SparseLayerInfo info;
    info.name = name;
    info.type = type;
    info.pattern = nm.pattern.str();
    info.mode = nm_mode_name(nm.mode);
    info.kernel = nm_kernel_name(kernel);
    int64_t zeros = 0;
    for (int64_t i = 0; i < w.numel(); ++i) zeros += w[i] == 0.0f;
    info.zero_fraction = static_cast<double>(zeros) / static_cast<double>(w.numel());
    info.dense_bytes = w.numel() * static_cast<int64_t>(sizeof(float));
    info.packed_bytes = pack_forward(w, nm.pattern).bytes();
    out.push_back(info);
  };
  for_each_layer(model, "", [&](nn::Module& m, const std::string& name) {
    if (auto* lin = dynamic_cast<NmLinear*>(&m)) add(name, m.type(), lin->weight.value(), lin->nm, lin->kernel);
    if (auto* conv = dynamic_cast<NmConv2d*>(&m)) add(name, m.type(), conv->weight.value(), conv->nm, conv->kernel);
  });
  return out;
}

}  // namespace frugal::sparse
