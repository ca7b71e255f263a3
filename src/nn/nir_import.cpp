// NIR <-> NirGraph. Neuron parameters use the forward-Euler step of NIR's ODEs with step dt, as
// snnTorch's export_nir.py / import_nir.py do (docs/nir.md): beta = 1 - dt/tau, alpha =
// 1 - dt/tau_syn, and the input gain (r*dt/tau_mem, times w_in*dt/tau_syn for CuBa) folded into the
// threshold, so the spikes are those of the NIR neuron with v_leak = v_reset = 0. Export writes a
// NirGraph, or a Sequential trained by frugal (plain and spiking layers), with the inverse formulas
// and refuses, naming the layer, what NIR's nodes would compute differently (docs/nir.md).
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "frugal/core/error.h"
#include "frugal/nn/layers.h"
#include "frugal/nn/nir_graph.h"

namespace frugal::nn {

namespace {

struct Flat {
  std::string name;
  const io::NirNode* node;
  bool identity = false;  // Input/Output of a nested graph
};

// Nested graphs are inlined: "sub/child" names, edges into "sub" go to its Input node and edges
// out of it leave from its Output node.
void flatten_graph(const io::NirNode& g, const std::string& prefix, std::vector<Flat>& nodes,
                   std::vector<std::pair<std::string, std::string>>& edges, const std::string& where) {
  auto port = [&](const std::string& name, const char* type) {
    const io::NirNode* n = g.find_node(name);
    if (n->type != "NIRGraph") return prefix + name;
    for (const io::NirNode& c : n->nodes)
      if (c.type == type) return prefix + name + "/" + c.name;
    throw Error(where + ": node '" + prefix + name + "': nested graph without an " + type + " node");
  };
  for (const io::NirNode& n : g.nodes) {
    if (n.type == "NIRGraph") {
      flatten_graph(n, prefix + n.name + "/", nodes, edges, where);
    } else {
      nodes.push_back({prefix + n.name, &n, !prefix.empty() && (n.type == "Input" || n.type == "Output")});
    }
  }
  for (const auto& e : g.edges) edges.push_back({port(e.first, "Output"), port(e.second, "Input")});
}

Tensor to_tensor(const io::NirArray& a, Shape shape) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(a.values[static_cast<size_t>(i)]);
  return t;
}

// Per-neuron values of a parameter broadcast to `n` entries (1 when all are shared).
std::vector<double> per_neuron(const io::NirNode& node, const std::string& key, double fallback, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n), fallback);
  if (const io::NirArray* a = node.find(key))
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = a->values[static_cast<size_t>(i) % a->values.size()];
  return v;
}

Tensor from_values(const std::vector<double>& v) {
  Tensor t({static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = static_cast<float>(v[i]);
  return t;
}

int64_t param_count(const io::NirNode& node) {
  int64_t n = 1;
  for (const io::NirArray& a : node.arrays)
    if (a.name != "input_type" && a.name != "output_type") n = std::max<int64_t>(n, static_cast<int64_t>(a.values.size()));
  return n;
}

int same_pair(const io::NirArray& a, const std::string& where) {
  require(a.values.size() == 1 || a.values[0] == a.values[1],
          where + ": '" + a.name + "' differs between height and width (frugal's ops take one value)");
  return static_cast<int>(a.values[0]);
}

void map_neuron(const io::NirNode& nir, NirGraphNode& n, double dt, const std::string& where) {
  const int64_t k = param_count(nir);
  for (const char* key : {"v_leak", "v_reset"})
    for (double v : per_neuron(nir, key, 0.0, k))
      require(v == 0.0, where + ": '" + key + "' must be 0 (frugal's neurons have no leak or reset potential)");
  auto decay = [&](const std::string& key) {
    std::vector<double> tau = per_neuron(nir, key, 0.0, k), out;
    for (double t : tau) {
      require(t >= dt, where + ": '" + key + "' = " + std::to_string(t) + " is shorter than dt = " + std::to_string(dt));
      out.push_back(1.0 - dt / t);
    }
    return out;
  };
  std::vector<double> r = per_neuron(nir, "r", 1.0, k), gain(static_cast<size_t>(k), 1.0);
  const std::string& type = nir.type;
  if (type == "LIF" || type == "LI") {
    std::vector<double> tau = per_neuron(nir, "tau", 0.0, k);
    n.beta = from_values(decay("tau"));
    for (int64_t i = 0; i < k; ++i) gain[size_t(i)] = r[size_t(i)] * dt / tau[size_t(i)];
  } else if (type == "CubaLIF" || type == "CubaLI") {
    std::vector<double> ts = per_neuron(nir, "tau_syn", 0.0, k), tm = per_neuron(nir, "tau_mem", 0.0, k);
    std::vector<double> w_in = per_neuron(nir, "w_in", 1.0, k);
    n.alpha = from_values(decay("tau_syn"));
    n.beta = from_values(decay("tau_mem"));
    for (int64_t i = 0; i < k; ++i) {
      const size_t j = size_t(i);
      gain[j] = w_in[j] * (dt / ts[j]) * (r[j] * dt / tm[j]);
    }
  } else if (type == "IF") {
    n.beta = Tensor::full({1}, 1.0f);
    gain = r;
  } else {  // I: dv/dt = r*I
    n.beta = Tensor::full({1}, 1.0f);
    for (int64_t i = 0; i < k; ++i) gain[size_t(i)] = r[size_t(i)] * dt;
  }
  for (double g : gain) require(g > 0.0, where + ": the input gain (r, w_in) must be positive");
  if (type == "LIF" || type == "CubaLIF" || type == "IF") {
    std::vector<double> vthr = per_neuron(nir, "v_threshold", 0.0, k), thr;
    for (int64_t i = 0; i < k; ++i) {
      thr.push_back(vthr[size_t(i)] / gain[size_t(i)]);
      require(thr.back() > 0.0, where + ": 'v_threshold' must be positive");
    }
    n.threshold = from_values(thr);
    n.kind = type == "LIF" ? "lif" : type == "CubaLIF" ? "cuba_lif" : "if";
  } else {
    n.threshold = Tensor::full({1}, 1.0f);  // unused: integrators output their membrane
    n.gain = from_values(gain);
    n.kind = type == "CubaLI" ? "cuba_li" : "li";
  }
}

void map_node(const Flat& f, NirGraphNode& n, double dt, const std::string& file) {
  const io::NirNode& nir = *f.node;
  const std::string where = file + ": node '" + f.name + "'";
  const std::string& type = nir.type;
  n.name = f.name;
  n.out_shape = nir.output_shape;
  if (f.identity || type == "Input" || type == "Output") {
    n.kind = "identity";
  } else if (type == "Affine" || type == "Linear") {
    require(nir.input_shape.size() == 1, where + ": input must be a vector, got " + shape_str(nir.input_shape));
    const io::NirArray& w = nir.get("weight", where);
    n.kind = "linear";
    n.weight = Var(to_tensor(w, w.shape), true);
    if (type == "Affine") n.bias = Var(to_tensor(nir.get("bias", where), {w.shape[0]}), true);
  } else if (type == "Conv2d") {
    const io::NirArray& w = nir.get("weight", where);
    for (double d : nir.get("dilation", where).values) require(d == 1, where + ": dilation other than 1 is not supported");
    n.kind = "conv2d";
    n.stride = same_pair(nir.get("stride", where), where);
    n.pad = same_pair(nir.get("padding", where), where);
    n.groups = static_cast<int>(nir.get("groups", where).values[0]);
    n.weight = Var(to_tensor(w, w.shape), true);
    n.bias = Var(to_tensor(nir.get("bias", where), {w.shape[0]}), true);
  } else if (type == "SumPool2d" || type == "AvgPool2d") {
    n.kind = type == "SumPool2d" ? "sumpool" : "avgpool";
    n.kernel = same_pair(nir.get("kernel_size", where), where);
    n.stride = same_pair(nir.get("stride", where), where);
    n.pad = same_pair(nir.get("padding", where), where);
  } else if (type == "Flatten") {
    n.kind = "flatten";
  } else if (type == "Scale") {
    n.kind = "scale";
    const io::NirArray& s = nir.get("scale", where);
    n.scale = to_tensor(s, {static_cast<int64_t>(s.values.size())});
  } else if (type == "Threshold") {
    n.kind = "threshold";
    const io::NirArray& s = nir.get("threshold", where);
    n.threshold = to_tensor(s, {static_cast<int64_t>(s.values.size())});
  } else if (type == "LIF" || type == "CubaLIF" || type == "IF" || type == "LI" || type == "CubaLI" || type == "I") {
    map_neuron(nir, n, dt, where);
  } else {
    throw Error(where + ": " + type + " nodes are read but frugal cannot run them yet");
  }
}

bool stateful(const io::NirNode& n) {
  return n.type == "LIF" || n.type == "CubaLIF" || n.type == "IF" || n.type == "LI" || n.type == "CubaLI" ||
         n.type == "I";
}

}  // namespace

std::unique_ptr<NirGraph> import_nir(const io::NirFile& file, double dt, const std::string& where) {
  require(dt > 0 && dt < 1, where + ": dt must be in (0, 1) seconds");
  std::vector<Flat> flat;
  std::vector<std::pair<std::string, std::string>> edges;
  flatten_graph(file.graph, "", flat, edges, where);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < flat.size(); ++i) index[flat[i].name] = i;
  std::vector<std::vector<size_t>> succ(flat.size());
  for (const auto& e : edges) succ[index.at(e.first)].push_back(index.at(e.second));
  int input = -1, output = -1;
  for (size_t i = 0; i < flat.size(); ++i) {
    if (flat[i].identity) continue;
    if (flat[i].node->type == "Input") {
      require(input < 0, where + ": more than one Input node ('" + flat[i].name + "')");
      input = static_cast<int>(i);
    }
    if (flat[i].node->type == "Output") {
      require(output < 0, where + ": more than one Output node ('" + flat[i].name + "')");
      output = static_cast<int>(i);
    }
  }
  require(input >= 0 && output >= 0, where + ": the graph needs one Input and one Output node");

  // Depth-first from the Input: an edge into a node still on the stack closes a cycle; it becomes
  // a recurrent (previous-step) edge, allowed only when a neuron on the cycle holds state.
  std::vector<int> mark(flat.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<size_t> stack, post;
  std::set<std::pair<size_t, size_t>> back;
  std::function<void(size_t)> visit = [&](size_t v) {
    mark[v] = 1;
    stack.push_back(v);
    for (size_t w : succ[v]) {
      if (mark[w] == 1) {
        bool has_state = false;
        for (size_t k = stack.size(); k-- > 0;) {
          has_state = has_state || stateful(*flat[stack[k]].node);
          if (stack[k] == w) break;
        }
        require(has_state, where + ": node '" + flat[w].name + "': cycle through '" + flat[v].name +
                               "' has no neuron on it (only recurrent loops through a neuron can run)");
        back.insert({v, w});
      } else if (mark[w] == 0) {
        visit(w);
      }
    }
    stack.pop_back();
    mark[v] = 2;
    post.push_back(v);
  };
  visit(static_cast<size_t>(input));
  for (size_t i = 0; i < flat.size(); ++i)
    require(mark[i] == 2, where + ": node '" + flat[i].name + "' is not reachable from the Input");

  auto g = std::make_unique<NirGraph>();
  g->dt = dt;
  std::vector<int> order(flat.size());
  for (size_t k = 0; k < post.size(); ++k) {
    const size_t v = post[post.size() - 1 - k];
    order[v] = static_cast<int>(k);
    NirGraphNode n;
    map_node(flat[v], n, dt, where);
    g->nodes.push_back(std::move(n));
  }
  for (const auto& e : edges) {
    const size_t a = index.at(e.first), b = index.at(e.second);
    NirGraphNode& n = g->nodes[static_cast<size_t>(order[b])];
    n.inputs.push_back(order[a]);
    n.recurrent.push_back(back.count({a, b}) > 0);
  }
  g->output = order[static_cast<size_t>(output)];
  return g;
}

namespace {

io::NirArray arr(const std::string& name, Shape shape, std::vector<double> values, io::NirDtype dtype) {
  io::NirArray a;
  a.name = name;
  a.shape = std::move(shape);
  a.values = std::move(values);
  a.dtype = dtype;
  return a;
}

io::NirArray floats(const std::string& name, const Tensor& t, io::NirDtype dtype = io::NirDtype::f32) {
  std::vector<double> v(t.data(), t.data() + t.numel());
  return arr(name, t.shape(), v, dtype);
}

io::NirArray ints(const std::string& name, std::vector<double> v) {
  Shape s = {static_cast<int64_t>(v.size())};
  return arr(name, s, std::move(v), io::NirDtype::i64);
}

io::NirArray f64(const std::string& name, std::vector<double> v) {
  Shape s = {static_cast<int64_t>(v.size())};
  return arr(name, s, std::move(v), io::NirDtype::f64);
}

// One value per neuron of `count`, from a shared or per-neuron buffer.
std::vector<double> values_of(const Tensor& t, int64_t count) {
  std::vector<double> v;
  for (int64_t i = 0; i < count; ++i) v.push_back(t[i % t.numel()]);
  return v;
}

io::NirNode export_node(const NirGraphNode& n, const Shape& in_shape, double dt, bool is_input, bool is_output) {
  io::NirNode out;
  out.name = n.name;
  const int64_t k = shape_numel(n.out_shape);
  const std::string where = "export: node '" + n.name + "'";
  auto tau = [&](const std::vector<double>& decay) {
    std::vector<double> t;
    for (double d : decay) {
      require(d < 1.0, where + ": a decay of 1 has no finite NIR time constant");
      t.push_back(dt / (1.0 - d));
    }
    return t;
  };
  std::vector<double> zeros(static_cast<size_t>(k), 0.0);
  if (is_input || is_output) {
    out.type = is_input ? "Input" : "Output";
    std::vector<double> s(n.out_shape.begin(), n.out_shape.end());
    out.arrays.push_back(ints("shape", s));
  } else if (n.kind == "identity") {
    out.type = "Scale";
    out.arrays.push_back(f64("scale", std::vector<double>(static_cast<size_t>(k), 1.0)));
  } else if (n.kind == "linear") {
    out.type = n.bias.defined() ? "Affine" : "Linear";
    out.arrays.push_back(floats("weight", n.weight.value()));
    if (n.bias.defined()) out.arrays.push_back(floats("bias", n.bias.value()));
  } else if (n.kind == "conv2d") {
    out.type = "Conv2d";
    out.arrays.push_back(floats("weight", n.weight.value()));
    out.arrays.push_back(n.bias.defined() ? floats("bias", n.bias.value())
                                          : arr("bias", {n.weight.shape()[0]},
                                                std::vector<double>(size_t(n.weight.shape()[0]), 0.0), io::NirDtype::f32));
    out.arrays.push_back(ints("input_shape", {double(in_shape.at(1)), double(in_shape.at(2))}));
    out.arrays.push_back(ints("stride", {double(n.stride), double(n.stride)}));
    out.arrays.push_back(ints("padding", {double(n.pad), double(n.pad)}));
    out.arrays.push_back(ints("dilation", {1, 1}));
    out.arrays.push_back(arr("groups", {}, {double(n.groups)}, io::NirDtype::i64));
  } else if (n.kind == "avgpool" || n.kind == "sumpool") {
    out.type = n.kind == "avgpool" ? "AvgPool2d" : "SumPool2d";
    out.arrays.push_back(ints("kernel_size", {double(n.kernel), double(n.kernel)}));
    out.arrays.push_back(ints("stride", {double(n.stride), double(n.stride)}));
    out.arrays.push_back(ints("padding", {double(n.pad), double(n.pad)}));
  } else if (n.kind == "flatten") {
    out.type = "Flatten";
    out.arrays.push_back(arr("start_dim", {}, {0}, io::NirDtype::i64));
    out.arrays.push_back(arr("end_dim", {}, {-1}, io::NirDtype::i64));
    out.arrays.push_back(ints("input_type", std::vector<double>(in_shape.begin(), in_shape.end())));
  } else if (n.kind == "scale") {
    out.type = "Scale";
    out.arrays.push_back(f64("scale", values_of(n.scale, n.scale.numel())));
  } else if (n.kind == "threshold") {
    out.type = "Threshold";
    out.arrays.push_back(f64("threshold", values_of(n.threshold, n.threshold.numel())));
  } else if (n.kind == "lif") {
    // Inverse of the import with unit gain (r = tau/dt), as snnTorch's exporter writes it.
    std::vector<double> t = tau(values_of(n.beta, k)), r;
    for (double v : t) r.push_back(v / dt);
    out.type = "LIF";
    out.arrays = {f64("tau", t), f64("r", r), f64("v_leak", zeros), f64("v_threshold", values_of(n.threshold, k))};
  } else if (n.kind == "cuba_lif") {
    std::vector<double> ts = tau(values_of(n.alpha, k)), tm = tau(values_of(n.beta, k)), r, w_in;
    for (int64_t i = 0; i < k; ++i) {
      r.push_back(tm[size_t(i)] / dt);
      w_in.push_back(ts[size_t(i)] / dt);
    }
    out.type = "CubaLIF";
    out.arrays = {f64("tau_syn", ts), f64("tau_mem", tm), f64("r", r), f64("v_leak", zeros),
                  f64("v_threshold", values_of(n.threshold, k)), f64("w_in", w_in)};
  } else if (n.kind == "if") {
    out.type = "IF";
    out.arrays = {f64("r", std::vector<double>(size_t(k), 1.0)), f64("v_threshold", values_of(n.threshold, k))};
  } else if (n.kind == "li" || n.kind == "cuba_li") {
    std::vector<double> beta = values_of(n.beta, k), gain = values_of(n.gain, k);
    bool integrator = n.kind == "li";
    for (double b : beta) integrator = integrator && b == 1.0;
    if (integrator) {
      std::vector<double> r;
      for (double g : gain) r.push_back(g / dt);
      out.type = "I";
      out.arrays = {f64("r", r)};
    } else if (n.kind == "li") {
      std::vector<double> t = tau(beta), r;
      for (int64_t i = 0; i < k; ++i) r.push_back(gain[size_t(i)] * t[size_t(i)] / dt);
      out.type = "LI";
      out.arrays = {f64("tau", t), f64("r", r), f64("v_leak", zeros)};
    } else {
      std::vector<double> ts = tau(values_of(n.alpha, k)), tm = tau(beta), r, w_in;
      for (int64_t i = 0; i < k; ++i) {
        r.push_back(tm[size_t(i)] / dt);
        w_in.push_back(gain[size_t(i)] * ts[size_t(i)] / dt);
      }
      out.type = "CubaLI";
      out.arrays = {f64("tau_syn", ts), f64("tau_mem", tm), f64("r", r), f64("v_leak", zeros), f64("w_in", w_in)};
    }
  } else {
    throw Error(where + ": kind '" + n.kind + "' has no NIR node");
  }
  // Per-neuron arrays keep the layer's shape ([C, H, W] after a conv), as NIR's shape checks expect.
  if (!out.arrays.empty() && out.type != "Input" && out.type != "Output" && n.kind != "linear" && n.kind != "conv2d")
    for (io::NirArray& a : out.arrays)
      if (a.dtype == io::NirDtype::f64 && static_cast<int64_t>(a.values.size()) == k) a.shape = n.out_shape;
  return out;
}

// A spiking layer's parameter as the values its kernel uses: the learned tensor or the spec's
// fixed value, clamped to [0, 1] for decays (snn/neuron_op.cpp clamps in the forward pass). The
// layer is read through its spec and parameters, so nn does not depend on the snn family.
Tensor kernel_values(Module& m, const Json& spec, const std::string& key, bool clamp01) {
  Tensor t;
  for (const Param& p : m.parameters())
    if (p.name == key) t = p.var.value().clone();
  if (!t.defined()) t = Tensor::full({1}, spec.at(key).get<float>());
  if (clamp01)
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = std::clamp(t[i], 0.0f, 1.0f);
  return t;
}

// A trained spiking layer (snn/layers.h: lif, cuba_lif, if, rlif) as a NIR neuron node. Only what NIR's
// neurons compute exactly is written: NIR's LIF and CubaLIF reset to v_reset (frugal's reset =
// "zero"); its IF is frugal's if (reset by subtraction, as snnTorch's importer reads it).
// Everything else is refused, naming the layer, rather than exported as a different network.
void neuron_node(Module& m, NirGraphNode& n, const std::string& where) {
  const Json spec = m.spec();
  require(spec.value("output", "spikes") == "spikes",
          where + ": output = \"membrane\" has no NIR equivalent (NIR's spiking neurons output spikes)");
  n.kind = m.type() == "rlif" ? "lif" : m.type();  // rlif: the LIF of a LIF + recurrent Affine loop
  n.threshold = kernel_values(m, spec, "threshold", false);
  for (int64_t i = 0; i < n.threshold.numel(); ++i)
    require(n.threshold[i] > 0.0f, where + ": threshold " + std::to_string(n.threshold[i]) +
                                       " is not positive (NIR's v_threshold maps to a positive threshold)");
  if (n.kind == "if") {
    const double init = spec.value("init_frac", 0.0);
    require(init == 0.0, where + ": init_frac = " + std::to_string(init) +
                             " has no NIR equivalent (NIR's IF starts at rest, v = 0); use init_frac = 0");
    return;
  }
  const std::string reset = spec.value("reset", "subtract");
  require(reset == "zero", where + ": reset = \"" + reset + "\" has no NIR equivalent: NIR's " +
                               (n.kind == "lif" ? "LIF" : "CubaLIF") +
                               " resets to v_reset (train with reset = \"zero\"; snnTorch exports a subtracting "
                               "Leaky as a resetting LIF, which changes its spikes)");
  n.beta = kernel_values(m, spec, "beta", true);
  for (int64_t i = 0; i < n.beta.numel(); ++i)
    require(n.beta[i] < 1.0f, where + ": beta = 1 has no finite NIR time constant (tau = dt / (1 - beta))");
  if (n.kind == "cuba_lif") {
    n.alpha = kernel_values(m, spec, "alpha", true);
    for (int64_t i = 0; i < n.alpha.numel(); ++i)
      require(n.alpha[i] < 1.0f, where + ": alpha = 1 has no finite NIR time constant (tau_syn = dt / (1 - alpha))");
  }
}

bool is_neuron_layer(const Module& m) { return m.type() == "lif" || m.type() == "cuba_lif" || m.type() == "if"; }

bool has_spiking_layer(const Sequential& seq) {
  for (const ModulePtr& m : seq.layers)
    if (is_neuron_layer(*m) || m->type() == "encoder" || m->type() == "rlif") return true;
  return false;
}

// A Sequential as NirGraph nodes (same export code for both kinds of model). NIR graphs run one
// time step at a time, so layers map per sample; a direct encoder (the static input repeated
// T times) becomes the sequence the NIR Input receives, and a closing count readout (spike
// counts over T) is left to the NIR consumer: the Output is the spike train it would count.
NirGraph graph_of_sequential(Sequential& seq, const Shape& input_shape, std::vector<std::string>& notes) {
  require(!input_shape.empty(), "export: a Sequential model needs the input shape (--input-shape)");
  NirGraph g;
  NirGraphNode in;
  in.name = "input";
  in.kind = "identity";
  in.out_shape = input_shape;
  g.nodes.push_back(in);
  Shape shape = input_shape;
  int last = 0;  // the node whose output the next layer takes
  // Whether the layer input is [T, N, ...]: after an encoder, or from the start in a spiking net
  // without one (it is fed spike sequences).
  bool sequence = false;
  if (has_spiking_layer(seq)) {
    sequence = true;
    for (const ModulePtr& m : seq.layers)
      if (m->type() == "encoder") sequence = false;
  }
  for (size_t i = 0; i < seq.layers.size(); ++i) {
    Module& m = *seq.layers[i];
    NirGraphNode n;
    n.name = std::to_string(i);
    n.inputs = {last};
    n.recurrent = {false};
    const std::string where = "export: layer " + n.name + " (" + m.type() + ")";
    if (auto* l = dynamic_cast<Linear*>(&m)) {
      require(shape.size() == 1 && shape[0] == l->in_features, where + ": input " + shape_str(shape) + " is not [in]");
      n.kind = "linear";
      n.weight = l->weight;
      n.bias = l->bias;
      shape = {l->out_features};
    } else if (auto* c = dynamic_cast<Conv2d*>(&m)) {
      require(shape.size() == 3 && shape[0] == c->in_channels, where + ": input " + shape_str(shape) + " is not [C, H, W]");
      n.kind = "conv2d";
      n.weight = c->weight;
      n.bias = c->bias;
      n.stride = c->stride;
      n.pad = c->pad;
      n.groups = c->groups;
      shape = {c->out_channels, (shape[1] + 2 * c->pad - c->kernel) / c->stride + 1,
               (shape[2] + 2 * c->pad - c->kernel) / c->stride + 1};
    } else if (auto* p = dynamic_cast<AvgPool2d*>(&m)) {
      require(shape.size() == 3, where + ": input " + shape_str(shape) + " is not [C, H, W]");
      n.kind = "avgpool";
      n.kernel = p->kernel;
      n.stride = p->stride;
      n.pad = p->pad;
      shape = {shape[0], (shape[1] + 2 * p->pad - p->kernel) / p->stride + 1,
               (shape[2] + 2 * p->pad - p->kernel) / p->stride + 1};
    } else if (auto* f = dynamic_cast<Flatten*>(&m)) {
      // NIR's Flatten here folds a whole sample; frugal's flattens from start_axis on.
      const int whole = sequence ? 2 : 1;
      require(f->start_axis == whole, where + ": start_axis = " + std::to_string(f->start_axis) + " on " +
                                          (sequence ? "[T, N, ...]" : "[N, ...]") + " input keeps part of a sample; " +
                                          "only start_axis = " + std::to_string(whole) + " maps to NIR's Flatten");
      n.kind = "flatten";
      shape = {shape_numel(shape)};
    } else if (dynamic_cast<MaxPool2d*>(&m)) {
      throw Error(where + ": NIR has no max pooling (only SumPool2d and AvgPool2d); use avgpool2d");
    } else if (dynamic_cast<Dropout*>(&m)) {
      notes.push_back(where + ": dropout is the identity at inference, not written");
      continue;
    } else if (is_neuron_layer(m)) {
      require(sequence, where + ": a neuron layer before the encoder runs on static input; NIR has no such node");
      neuron_node(m, n, where);
    } else if (m.type() == "rlif") {
      // snnTorch's RLeaky as NIR writes it (and snnTorch's importer finds it): a LIF whose spikes
      // feed back through a Linear; the back edge carries the previous step's spikes, zero at
      // t = 0. The recurrent layer's bias is a constant current, present from t = 0 (V(0) = b), so
      // it joins the bias of the linear layer before the rlif instead of the back edge.
      require(sequence, where + ": a neuron layer before the encoder runs on static input; NIR has no such node");
      const int64_t features = m.spec().at("features").get<int64_t>();
      require(shape == Shape{features}, where + ": input " + shape_str(shape) + " is not [" +
                                            std::to_string(features) + "]");
      neuron_node(m, n, where);
      NirGraphNode& before = g.nodes[static_cast<size_t>(last)];
      require(before.kind == "linear", where + ": its recurrent bias folds into a linear layer before it, found " +
                                           (last == 0 ? std::string("the input") : "layer " + before.name));
      n.out_shape = shape;
      const int self = static_cast<int>(g.nodes.size());
      n.inputs.push_back(self + 1);
      n.recurrent.push_back(true);
      NirGraphNode w;
      w.name = n.name + ".recurrent";
      w.kind = "linear";
      Tensor bias = before.bias.defined() ? before.bias.value().clone() : Tensor({features});
      for (const Param& p : m.parameters()) {
        if (p.name == "weight") w.weight = p.var;
        if (p.name == "bias")
          for (int64_t i = 0; i < features; ++i) bias[i] += p.var.value()[i];
      }
      before.bias = Var(bias, true);
      w.inputs = {self};
      w.recurrent = {false};
      w.out_shape = shape;
      g.nodes.push_back(std::move(n));
      g.nodes.push_back(std::move(w));
      last = self;
      continue;
    } else if (m.type() == "encoder") {
      const Json spec = m.spec();
      const std::string code = spec.at("code").get<std::string>();
      require(code == "direct", where + ": the " + code + " encoder has no NIR node (NIR graphs take spikes or " +
                                    "currents as input); only the direct encoder maps");
      require(!sequence, where + ": a second encoder on a sequence");
      sequence = true;
      notes.push_back(where + ": the direct encoder repeats the input " + std::to_string(spec.at("steps").get<int>()) +
                      " times; the NIR Input takes that sequence, [T, N] + " + shape_str(input_shape));
      continue;
    } else if (m.type() == "readout") {
      require(m.spec().at("mode") == "count" && i + 1 == seq.layers.size(),
              where + ": only a closing count readout maps (its spikes are the NIR Output); membrane readouts " +
                  "need a neuron's membrane, which NIR's spiking neurons do not output");
      notes.push_back(where + ": the count readout sums the Output's spikes over time; the NIR Output is those spikes");
      continue;
    } else {
      throw Error(where + ": no NIR node for this layer");
    }
    n.out_shape = shape;
    last = static_cast<int>(g.nodes.size());
    g.nodes.push_back(std::move(n));
  }
  NirGraphNode out;
  out.name = "output";
  out.kind = "identity";
  out.inputs = {last};
  out.recurrent = {false};
  out.out_shape = shape;
  g.nodes.push_back(out);
  g.output = static_cast<int>(g.nodes.size()) - 1;
  return g;
}

}  // namespace

io::NirFile export_nir(Module& model, double dt, const Shape& input_shape, std::vector<std::string>* notes) {
  require(dt > 0 && dt < 1, "export: dt must be in (0, 1) seconds");
  NirGraph seq_graph;
  NirGraph* g = dynamic_cast<NirGraph*>(&model);
  if (!g) {
    auto* seq = dynamic_cast<Sequential*>(&model);
    require(seq != nullptr, "export: only nir_graph and sequential models map to NIR, not " + model.type());
    std::vector<std::string> ignored;
    seq_graph = graph_of_sequential(*seq, input_shape, notes ? *notes : ignored);
    g = &seq_graph;
  }
  io::NirFile f;
  f.version = "0.2.0";
  f.graph.type = "NIRGraph";
  std::set<std::string> names;
  for (size_t k = 0; k < g->nodes.size(); ++k) {
    const NirGraphNode& n = g->nodes[k];
    const Shape& in_shape = n.inputs.empty() ? n.out_shape : g->nodes[size_t(n.inputs[0])].out_shape;
    io::NirNode node = export_node(n, in_shape, dt, k == 0, static_cast<int>(k) == g->output);
    // Inlined nested graphs have "sub/child" names; HDF5 would read "/" as a path.
    for (char& c : node.name)
      if (c == '/') c = '.';
    require(names.insert(node.name).second, "export: two nodes named '" + node.name + "'");
    f.graph.nodes.push_back(std::move(node));
  }
  for (size_t k = 0; k < g->nodes.size(); ++k)
    for (int i : g->nodes[k].inputs) f.graph.edges.push_back({f.graph.nodes[size_t(i)].name, f.graph.nodes[k].name});
  infer_nir_shapes(f.graph, "export");
  return f;
}

}  // namespace frugal::nn
