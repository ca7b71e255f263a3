// Running a NirGraph. The step-by-step path repeats the neuron kernels' update order (kernels/lif.h:
// detached reset decided by the previous step's spike) with autograd ops, and asks snn::lif for the
// spike and its surrogate gradient, so both paths give the same spikes on graphs without cycles.
#include "frugal/nn/nir_graph.h"

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/snn/neurons.h"

namespace frugal::nn {

namespace ag = autograd;

namespace {

bool is_neuron(const std::string& kind) {
  return kind == "lif" || kind == "cuba_lif" || kind == "if" || kind == "li" || kind == "cuba_li";
}

// p (one value or one per trailing element) repeated to `shape`, as a constant.
Tensor broadcast(const Tensor& p, const Shape& shape) {
  Tensor out = Tensor::empty(shape);
  const int64_t n = out.numel(), k = p.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = p[i % k];
  return out;
}

Var constant(const Tensor& t) { return Var(t, false); }

// x[t] as [1, batch, ...], with gradient.
Var time_slice(const Var& x, int64_t t) {
  Shape s = x.shape();
  const int64_t step = x.value().numel() / s[0];
  s[0] = 1;
  Tensor y = Tensor::empty(s);
  for (int64_t i = 0; i < step; ++i) y[i] = x.value()[t * step + i];
  return ag::record(y, {x}, [x, t, step](const Tensor& dy) {
    Tensor dx(x.shape());
    for (int64_t i = 0; i < step; ++i) dx[t * step + i] = dy[i];
    x.add_grad(dx);
  });
}

Var spikes_of(const Var& u, const Tensor& threshold) {
  snn::NeuronOptions o;
  o.reset = snn::Reset::none;
  return snn::lif(u, constant(Tensor::full({1}, 0.0f)), constant(threshold), o).spikes;
}

// Shapes [lead..., per-sample]: conv and pools take [T, N, C, H, W] directly.
Var run_layer(const NirGraphNode& n, const Var& x) {
  if (n.kind == "identity") return x;
  if (n.kind == "linear") return ag::linear(x, n.weight, n.bias);
  if (n.kind == "conv2d") return ag::conv2d(x, n.weight, n.bias, {n.stride, n.pad, n.groups});
  if (n.kind == "avgpool") return ag::avg_pool2d(x, n.kernel, n.stride, n.pad);
  if (n.kind == "sumpool") return ag::scale(ag::avg_pool2d(x, n.kernel, n.stride, n.pad), float(n.kernel * n.kernel));
  if (n.kind == "flatten") {
    Shape s(x.shape().begin(), x.shape().begin() + 2);
    s.insert(s.end(), n.out_shape.begin(), n.out_shape.end());
    return ag::reshape(x, s);
  }
  if (n.kind == "scale") return ag::mul(x, constant(broadcast(n.scale, x.shape())));
  if (n.kind == "threshold") {
    Tensor y = Tensor::empty(x.shape());
    Tensor thr = broadcast(n.threshold, x.shape());
    for (int64_t i = 0; i < y.numel(); ++i) y[i] = x.value()[i] > thr[i] ? 1.0f : 0.0f;
    return constant(y);
  }
  throw Error("nir_graph: node '" + n.name + "' of kind '" + n.kind + "' is not a layer");
}

// A neuron node over the whole sequence through the fused kernels.
Var run_neuron_sequence(const NirGraphNode& n, const Var& x) {
  Var thr = constant(n.threshold), beta = constant(n.beta);
  if (n.kind == "lif") {
    snn::NeuronOptions o;
    o.reset = snn::Reset::zero;
    return snn::lif(x, beta, thr, o).spikes;
  }
  if (n.kind == "cuba_lif") {
    snn::NeuronOptions o;
    o.reset = snn::Reset::zero;
    return snn::cuba_lif(x, constant(n.alpha), beta, thr, o).spikes;
  }
  if (n.kind == "if") return snn::if_neuron(x, thr).spikes;
  // Leaky integrators output their membrane; the NIR input gain r*dt/tau is applied to the input.
  snn::NeuronOptions o;
  o.reset = snn::Reset::none;
  o.membranes = true;
  Var xin = ag::mul(x, constant(broadcast(n.gain, x.shape())));
  if (n.kind == "li") return snn::lif(xin, beta, thr, o).membranes;
  return snn::cuba_lif(xin, constant(n.alpha), beta, thr, o).membranes;
}

struct NeuronState {
  Var u, i;       // membrane, synaptic current (undefined before the first step)
  Tensor spikes;  // previous step's spikes, detached (decides the reset)
};

Var run_neuron_step(const NirGraphNode& n, const Var& x, NeuronState& st) {
  const Shape& s = x.shape();
  const int64_t numel = x.value().numel();
  if (!st.u.defined()) {
    st.u = constant(Tensor(s));
    st.i = constant(Tensor(s));
    st.spikes = Tensor(s);
  }
  Tensor keep(s);  // 1 - S[t-1]
  for (int64_t k = 0; k < numel; ++k) keep[k] = st.spikes[k] > 0.0f ? 0.0f : 1.0f;
  Tensor beta = broadcast(n.beta, s);
  if (n.kind == "lif") {
    Tensor c(s);
    for (int64_t k = 0; k < numel; ++k) c[k] = beta[k] * keep[k];
    st.u = ag::add(ag::mul(st.u, constant(c)), x);
  } else if (n.kind == "cuba_lif") {
    st.i = ag::add(ag::mul(st.i, constant(broadcast(n.alpha, s))), x);
    st.u = ag::mul(ag::add(ag::mul(st.u, constant(beta)), st.i), constant(keep));
  } else if (n.kind == "if") {
    Tensor sub(s);
    Tensor thr = broadcast(n.threshold, s);
    for (int64_t k = 0; k < numel; ++k) sub[k] = st.spikes[k] > 0.0f ? -thr[k] : 0.0f;
    st.u = ag::add(ag::add(st.u, x), constant(sub));
  } else {
    Var xin = ag::mul(x, constant(broadcast(n.gain, s)));
    if (n.kind == "cuba_li") {
      st.i = ag::add(ag::mul(st.i, constant(broadcast(n.alpha, s))), xin);
      xin = st.i;
    }
    st.u = ag::add(ag::mul(st.u, constant(beta)), xin);
    return st.u;
  }
  Var spikes = spikes_of(st.u, n.threshold);
  st.spikes = spikes.value();
  return spikes;
}

Var sum_inputs(const std::vector<Var>& xs) {
  Var acc = xs[0];
  for (size_t k = 1; k < xs.size(); ++k) acc = ag::add(acc, xs[k]);
  return acc;
}

Json shape_json(const Shape& s) {
  Json j = Json::array();
  for (int64_t v : s) j.push_back(v);
  return j;
}

Shape json_shape(const Json& j, const std::string& where) {
  require(j.is_array() && j.size() <= 8, where + ": expected a list of sizes");
  Shape s;
  for (const Json& v : j) {
    require(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= (int64_t(1) << 28),
            where + ": sizes must be integers in [0, 2^28]");
    s.push_back(v.get<int64_t>());
  }
  return s;
}

}  // namespace

bool NirGraph::recurrent() const {
  for (const NirGraphNode& n : nodes)
    for (bool r : n.recurrent)
      if (r) return true;
  return false;
}

Var NirGraph::forward(const Var& x) {
  const Shape& in = nodes[0].out_shape;
  require(x.shape().size() == in.size() + 2 && Shape(x.shape().begin() + 2, x.shape().end()) == in,
          "nir_graph: input must be [T, batch] + " + shape_str(in) + ", got " + shape_str(x.shape()));
  if (!recurrent()) {
    std::vector<Var> out(nodes.size());
    out[0] = x;
    for (size_t k = 1; k < nodes.size(); ++k) {
      const NirGraphNode& n = nodes[k];
      std::vector<Var> xs;
      for (int i : n.inputs) xs.push_back(out[static_cast<size_t>(i)]);
      Var v = sum_inputs(xs);
      out[k] = is_neuron(n.kind) ? run_neuron_sequence(n, v) : run_layer(n, v);
    }
    return out[static_cast<size_t>(output)];
  }
  const int64_t steps = x.shape()[0], batch = x.shape()[1];
  std::vector<NeuronState> state(nodes.size());
  std::vector<Var> prev(nodes.size()), results;
  for (size_t k = 0; k < nodes.size(); ++k) {
    Shape s = {1, batch};
    s.insert(s.end(), nodes[k].out_shape.begin(), nodes[k].out_shape.end());
    prev[k] = constant(Tensor(s));
  }
  for (int64_t t = 0; t < steps; ++t) {
    std::vector<Var> cur(nodes.size());
    cur[0] = time_slice(x, t);
    for (size_t k = 1; k < nodes.size(); ++k) {
      const NirGraphNode& n = nodes[k];
      std::vector<Var> xs;
      for (size_t j = 0; j < n.inputs.size(); ++j) {
        const size_t i = static_cast<size_t>(n.inputs[j]);
        xs.push_back(n.recurrent[j] ? prev[i] : cur[i]);
      }
      Var v = sum_inputs(xs);
      cur[k] = is_neuron(n.kind) ? run_neuron_step(n, v, state[k]) : run_layer(n, v);
    }
    results.push_back(cur[static_cast<size_t>(output)]);
    prev = cur;
  }
  return ag::concat(results, 0);
}

std::vector<Param> NirGraph::parameters() {
  std::vector<Param> ps;
  for (NirGraphNode& n : nodes) {
    if (n.weight.defined()) ps.push_back({n.name + ".weight", n.weight});
    if (n.bias.defined()) ps.push_back({n.name + ".bias", n.bias});
  }
  return ps;
}

std::vector<Buffer> NirGraph::buffers() {
  std::vector<Buffer> bs;
  for (NirGraphNode& n : nodes) {
    for (auto [key, t] : {std::pair<const char*, Tensor*>{"beta", &n.beta}, {"alpha", &n.alpha},
                          {"threshold", &n.threshold}, {"gain", &n.gain}, {"scale", &n.scale}}) {
      if (t->defined()) bs.push_back({n.name + "." + key, t});
    }
  }
  return bs;
}

Json NirGraph::spec() const {
  Json js = Json::array();
  for (const NirGraphNode& n : nodes) {
    Json j = {{"name", n.name}, {"kind", n.kind}, {"inputs", n.inputs}, {"recurrent", n.recurrent},
              {"shape", shape_json(n.out_shape)}};
    if (n.kind == "conv2d" || n.kind == "avgpool" || n.kind == "sumpool") {
      j["stride"] = n.stride;
      j["pad"] = n.pad;
      j["groups"] = n.groups;
      j["kernel"] = n.kernel;
    }
    if (n.weight.defined()) j["weight_shape"] = shape_json(n.weight.shape());
    j["bias"] = n.bias.defined();
    for (auto [key, t] : {std::pair<const char*, const Tensor*>{"beta", &n.beta}, {"alpha", &n.alpha},
                          {"threshold", &n.threshold}, {"gain", &n.gain}, {"scale", &n.scale}}) {
      if (t->defined()) j[std::string(key) + "_shape"] = shape_json(t->shape());
    }
    js.push_back(j);
  }
  return {{"type", "nir_graph"}, {"dt", dt}, {"output", output}, {"nodes", js}};
}

ModulePtr try_build_nir(const Json& spec, const std::string& where) {
  if (!spec.contains("type") || spec["type"] != "nir_graph") return nullptr;
  for (const char* key : {"dt", "output", "nodes"}) require(spec.contains(key), where + ": missing key '" + key + "'");
  auto g = std::make_unique<NirGraph>();
  require(spec["dt"].is_number() && spec["dt"].get<double>() > 0, where + ".dt: expected a positive number");
  g->dt = spec["dt"].get<double>();
  const Json& js = spec["nodes"];
  require(js.is_array() && !js.empty() && js.size() < 100000, where + ".nodes: expected a non-empty list");
  for (size_t k = 0; k < js.size(); ++k) {
    const Json& j = js[k];
    const std::string w = where + ".nodes[" + std::to_string(k) + "]";
    require(j.is_object() && j.contains("name") && j.contains("kind") && j.contains("inputs") &&
                j.contains("recurrent") && j.contains("shape"),
            w + ": expected name, kind, inputs, recurrent and shape");
    NirGraphNode n;
    n.name = j["name"].get<std::string>();
    n.kind = j["kind"].get<std::string>();
    n.out_shape = json_shape(j["shape"], w + ".shape");
    for (const Json& i : j["inputs"]) {
      require(i.is_number_integer() && i.get<int>() >= 0 && i.get<size_t>() < js.size(), w + ".inputs: bad index");
      n.inputs.push_back(i.get<int>());
    }
    for (const Json& r : j["recurrent"]) n.recurrent.push_back(r.get<bool>());
    require(n.inputs.size() == n.recurrent.size() && (k == 0) == n.inputs.empty(),
            w + ": inputs and recurrent must match, and only the first node has no inputs");
    for (size_t i = 0; i < n.inputs.size(); ++i)
      require(n.recurrent[i] || static_cast<size_t>(n.inputs[i]) < k, w + ": a forward input must come earlier");
    n.stride = j.value("stride", 1);
    n.pad = j.value("pad", 0);
    n.groups = j.value("groups", 1);
    n.kernel = j.value("kernel", 1);
    if (j.contains("weight_shape")) n.weight = Var(Tensor(json_shape(j["weight_shape"], w)), true);
    if (j.value("bias", false)) n.bias = Var(Tensor({n.weight.defined() ? n.weight.shape()[0] : 0}), true);
    for (auto [key, t] : {std::pair<const char*, Tensor*>{"beta", &n.beta}, {"alpha", &n.alpha},
                          {"threshold", &n.threshold}, {"gain", &n.gain}, {"scale", &n.scale}}) {
      const std::string skey = std::string(key) + "_shape";
      if (j.contains(skey)) *t = Tensor(json_shape(j[skey], w + "." + skey));
    }
    g->nodes.push_back(std::move(n));
  }
  require(spec["output"].is_number_integer() && spec["output"].get<int>() > 0 &&
              spec["output"].get<size_t>() < js.size(),
          where + ".output: bad index");
  g->output = spec["output"].get<int>();
  return g;
}

}  // namespace frugal::nn
