// ONNX reader: protobuf ModelProto -> OnnxGraph. See include/frugal/io/onnx.h.
#include "frugal/io/onnx.h"

#include <onnx/onnx_pb.h>

#include <bit>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "frugal/core/error.h"

namespace frugal::io {

namespace {

namespace fs = std::filesystem;

// raw_data is little-endian by the spec; decoding by memcpy is only right on such a host.
static_assert(std::endian::native == std::endian::little, "ONNX raw_data decoding assumes a little-endian host");

constexpr int64_t kMaxElements = int64_t{1} << 31;
constexpr int64_t kMinOpset = 9;
constexpr int64_t kMaxOpset = 18;

struct Source {
  std::string path;
  fs::path dir;  // external data locations are relative to it
};

std::string dims_str(const google::protobuf::RepeatedField<int64_t>& dims) {
  return shape_str(Shape(dims.begin(), dims.end()));
}

std::string type_name(int32_t data_type) {
  if (onnx::TensorProto_DataType_IsValid(data_type))
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(data_type));
  return "type " + std::to_string(data_type);
}

int64_t parse_offset(const std::string& text, const std::string& where) {
  require(!text.empty() && text.size() <= 18 && text.find_first_not_of("0123456789") == std::string::npos,
          where + ": expected a non-negative decimal number, got '" + text + "'");
  return std::stoll(text);
}

// Bytes of a tensor stored outside the model (data_location EXTERNAL): location, offset and
// length relative to the model's directory. Paths that leave that directory are refused so a
// model cannot make us read arbitrary files.
std::string read_external(const onnx::TensorProto& t, const Source& src, const std::string& what) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& entry : t.external_data()) {
    const std::string where = src.path + ": " + what + ": external_data '" + entry.key() + "'";
    if (entry.key() == "location") location = entry.value();
    else if (entry.key() == "offset") offset = parse_offset(entry.value(), where);
    else if (entry.key() == "length") length = parse_offset(entry.value(), where);
  }
  const std::string prefix = src.path + ": " + what + ": external data";
  require(!location.empty(), prefix + " has no location");
  const fs::path rel(location);
  require(rel.is_relative(), prefix + " location '" + location + "' must be relative to the model's directory");
  for (const auto& part : rel) require(part != "..", prefix + " location '" + location + "' leaves the model's directory");
  const fs::path file = src.dir / rel;
  std::error_code ec;
  const fs::path real_dir = fs::weakly_canonical(src.dir, ec);
  const fs::path real_file = fs::weakly_canonical(file, ec);
  require(!ec, prefix + " file '" + file.string() + "' cannot be resolved");
  std::string dir_text = real_dir.string();
  if (dir_text.empty() || dir_text.back() != '/') dir_text += '/';
  require(real_file.string().compare(0, dir_text.size(), dir_text) == 0,
          prefix + " file '" + file.string() + "' resolves outside the model's directory");
  require(fs::is_regular_file(real_file, ec), prefix + " file '" + file.string() + "' does not exist");
  const auto size = static_cast<int64_t>(fs::file_size(real_file, ec));
  require(!ec, prefix + " file '" + file.string() + "' cannot be read");
  require(offset <= size, prefix + " offset " + std::to_string(offset) + " is past the end of '" + file.string() +
                              "' (" + std::to_string(size) + " bytes)");
  if (length < 0) length = size - offset;
  require(length <= size - offset, prefix + " offset " + std::to_string(offset) + " + length " + std::to_string(length) +
                                       " is past the end of '" + file.string() + "' (" + std::to_string(size) + " bytes)");
  require(length <= kMaxElements * 8, prefix + " length " + std::to_string(length) + " exceeds the 2^31-element cap");
  std::ifstream in(real_file, std::ios::binary);
  require(in.good(), prefix + " file '" + file.string() + "' cannot be opened");
  std::string bytes(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(bytes.data(), length);
  require(in.gcount() == length, prefix + " file '" + file.string() + "': short read");
  return bytes;
}

template <typename T>
std::vector<T> decode_raw(const std::string& raw, int64_t numel, const std::string& where, const std::string& dims) {
  const auto expected = static_cast<uint64_t>(numel) * sizeof(T);
  require(raw.size() == expected, where + ": raw data has " + std::to_string(raw.size()) + " bytes, dims " + dims +
                                       " need " + std::to_string(expected));
  std::vector<T> values(static_cast<size_t>(numel));
  if (numel > 0) std::memcpy(values.data(), raw.data(), expected);
  return values;
}

template <typename Field>
void require_count(const Field& field, int64_t numel, const std::string& where, const std::string& field_name,
                   const std::string& dims) {
  require(static_cast<int64_t>(field.size()) == numel, where + ": " + field_name + " has " +
                                                           std::to_string(field.size()) + " values, dims " + dims +
                                                           " need " + std::to_string(numel));
}

OnnxConstant decode_tensor(const onnx::TensorProto& t, const Source& src, const std::string& what) {
  const std::string where = src.path + ": " + what;
  const std::string dims = dims_str(t.dims());
  Shape shape;
  int64_t numel = 1;
  for (int64_t d : t.dims()) {
    require(d >= 0, where + ": negative dimension in dims " + dims);
    require(d == 0 || numel <= kMaxElements / d, where + ": dims " + dims + " exceed the 2^31-element cap");
    numel *= d;
    shape.push_back(d);
  }
  require(numel <= kMaxElements, where + ": dims " + dims + " exceed the 2^31-element cap");
  const int32_t type = t.data_type();
  require(type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE ||
              type == onnx::TensorProto::INT32 || type == onnx::TensorProto::INT64 || type == onnx::TensorProto::BOOL,
          where + ": data type " + type_name(type) + " is not supported (expected FLOAT, DOUBLE, INT32, INT64 or BOOL)");

  const bool external = t.data_location() == onnx::TensorProto::EXTERNAL;
  std::string external_bytes;
  if (external) external_bytes = read_external(t, src, what);
  const bool raw = external || !t.raw_data().empty();
  const std::string& raw_bytes = external ? external_bytes : t.raw_data();

  OnnxConstant out;
  if (type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE) {
    std::vector<float> values;
    if (type == onnx::TensorProto::FLOAT) {
      if (raw) {
        values = decode_raw<float>(raw_bytes, numel, where, dims);
      } else {
        require_count(t.float_data(), numel, where, "float_data", dims);
        values.assign(t.float_data().begin(), t.float_data().end());
      }
    } else {
      std::vector<double> wide;
      if (raw) {
        wide = decode_raw<double>(raw_bytes, numel, where, dims);
      } else {
        require_count(t.double_data(), numel, where, "double_data", dims);
        wide.assign(t.double_data().begin(), t.double_data().end());
      }
      values.assign(wide.begin(), wide.end());
    }
    out.floats = Tensor(shape, values);
    return out;
  }
  out.is_int = true;
  out.ints.shape = shape;
  if (type == onnx::TensorProto::INT64) {
    if (raw) {
      out.ints.values = decode_raw<int64_t>(raw_bytes, numel, where, dims);
    } else {
      require_count(t.int64_data(), numel, where, "int64_data", dims);
      out.ints.values.assign(t.int64_data().begin(), t.int64_data().end());
    }
  } else if (type == onnx::TensorProto::BOOL) {
    if (raw) {
      const std::vector<uint8_t> bytes = decode_raw<uint8_t>(raw_bytes, numel, where, dims);
      out.ints.values.assign(bytes.begin(), bytes.end());
    } else {
      require_count(t.int32_data(), numel, where, "int32_data", dims);
      out.ints.values.assign(t.int32_data().begin(), t.int32_data().end());
    }
  } else {
    std::vector<int32_t> narrow;
    if (raw) {
      narrow = decode_raw<int32_t>(raw_bytes, numel, where, dims);
    } else {
      require_count(t.int32_data(), numel, where, "int32_data", dims);
      narrow.assign(t.int32_data().begin(), t.int32_data().end());
    }
    out.ints.values.assign(narrow.begin(), narrow.end());
  }
  return out;
}

OnnxValueInfo value_info(const onnx::ValueInfoProto& v) {
  OnnxValueInfo info;
  info.name = v.name();
  if (v.type().has_tensor_type() && v.type().tensor_type().has_shape()) {
    for (const auto& d : v.type().tensor_type().shape().dim())
      info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return info;
}

void read_attributes(const onnx::NodeProto& proto, OnnxNode& node, const Source& src) {
  for (const auto& a : proto.attribute()) {
    const std::string what = node.label() + ": attribute '" + a.name() + "'";
    switch (a.type()) {
      case onnx::AttributeProto::INT: node.ints[a.name()] = {a.i()}; break;
      case onnx::AttributeProto::INTS: node.ints[a.name()].assign(a.ints().begin(), a.ints().end()); break;
      case onnx::AttributeProto::FLOAT: node.floats[a.name()] = {a.f()}; break;
      case onnx::AttributeProto::FLOATS: node.floats[a.name()].assign(a.floats().begin(), a.floats().end()); break;
      case onnx::AttributeProto::STRING: node.strings[a.name()] = a.s(); break;
      case onnx::AttributeProto::TENSOR: node.tensors[a.name()] = decode_tensor(a.t(), src, what); break;
      default: break;  // graphs, sparse tensors, type protos: no supported op takes them
    }
  }
}

// A Constant node's value as one of the attribute forms the opsets allow.
OnnxConstant constant_value(const OnnxNode& node, const std::string& path) {
  const std::string where = path + ": " + node.label();
  require(node.outputs.size() == 1, where + ": expected one output");
  if (auto it = node.tensors.find("value"); it != node.tensors.end()) return it->second;
  OnnxConstant c;
  if (auto it = node.floats.find("value_float"); it != node.floats.end()) {
    c.floats = Tensor(Shape{}, it->second);
    return c;
  }
  if (auto it = node.floats.find("value_floats"); it != node.floats.end()) {
    c.floats = Tensor(Shape{static_cast<int64_t>(it->second.size())}, it->second);
    return c;
  }
  c.is_int = true;
  if (auto it = node.ints.find("value_int"); it != node.ints.end()) {
    c.ints = {Shape{}, it->second};
    return c;
  }
  if (auto it = node.ints.find("value_ints"); it != node.ints.end()) {
    c.ints = {Shape{static_cast<int64_t>(it->second.size())}, it->second};
    return c;
  }
  throw Error(where + ": expected a value, value_float(s) or value_int(s) attribute (sparse and string constants are not supported)");
}

}  // namespace

int64_t OnnxNode::attr_int(const std::string& key, int64_t fallback) const {
  auto it = ints.find(key);
  if (it == ints.end()) return fallback;
  require(it->second.size() == 1, label() + ": attribute '" + key + "' should hold one integer");
  return it->second[0];
}

float OnnxNode::attr_float(const std::string& key, float fallback) const {
  auto it = floats.find(key);
  if (it == floats.end()) return fallback;
  require(it->second.size() == 1, label() + ": attribute '" + key + "' should hold one float");
  return it->second[0];
}

std::vector<int64_t> OnnxNode::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  auto it = ints.find(key);
  return it == ints.end() ? fallback : it->second;
}

std::string OnnxNode::attr_string(const std::string& key, const std::string& fallback) const {
  auto it = strings.find(key);
  return it == strings.end() ? fallback : it->second;
}

std::string OnnxNode::label() const { return "node '" + name + "' (" + op_type + ")"; }

OnnxGraph parse_onnx(const std::string& bytes, const std::string& path) {
  require(bytes.size() <= static_cast<size_t>(INT_MAX), path + ": file is larger than protobuf's 2 GiB limit");
  onnx::ModelProto model;
  require(model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())),
          path + ": protobuf parse failed (truncated, or not an ONNX ModelProto)");
  require(model.has_graph(), path + ": model has no graph (truncated, or not an ONNX model)");

  Source src{path, fs::path(path).parent_path()};
  if (src.dir.empty()) src.dir = ".";
  OnnxGraph g;
  g.path = path;
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  require(g.opset != 0, path + ": opset_import has no default-domain (ai.onnx) entry");
  require(g.opset >= kMinOpset && g.opset <= kMaxOpset, path + ": opset " + std::to_string(g.opset) +
                                                             " is not supported (expected " + std::to_string(kMinOpset) +
                                                             " to " + std::to_string(kMaxOpset) + ")");

  const onnx::GraphProto& graph = model.graph();
  std::set<std::string> known;  // names a node may read: graph inputs, initializers, earlier outputs
  auto add_constant = [&](const std::string& name, OnnxConstant c, const std::string& what) {
    require(!name.empty(), path + ": " + what + " has no name");
    require(known.insert(name).second, path + ": " + what + ": name '" + name + "' is defined twice");
    if (c.is_int) g.int_initializers[name] = std::move(c.ints);
    else g.initializers[name] = std::move(c.floats);
  };
  for (const auto& t : graph.initializer()) {
    const std::string what = "tensor '" + t.name() + "'";
    add_constant(t.name(), decode_tensor(t, src, what), what);
  }
  // IR < 4 lists initializers among the inputs as well; only the others are real inputs.
  for (const auto& v : graph.input()) {
    if (known.count(v.name())) continue;
    require(!v.name().empty(), path + ": a graph input has no name");
    g.inputs.push_back(value_info(v));
  }
  for (const auto& v : g.inputs) known.insert(v.name);

  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& proto = graph.node(i);
    OnnxNode node;
    node.op_type = proto.op_type();
    node.domain = proto.domain() == "ai.onnx" ? "" : proto.domain();
    node.name = proto.name().empty() ? node.op_type + "_" + std::to_string(i) : proto.name();
    require(!node.op_type.empty(), path + ": node " + std::to_string(i) + " ('" + proto.name() + "') has no op_type");
    node.inputs.assign(proto.input().begin(), proto.input().end());
    node.outputs.assign(proto.output().begin(), proto.output().end());
    read_attributes(proto, node, src);
    for (const auto& in : node.inputs)
      require(in.empty() || known.count(in), path + ": " + node.label() + ": input '" + in +
                                                 "' is not a graph input, initializer or earlier node output");
    if (node.op_type == "Constant" && node.domain.empty()) {
      add_constant(node.outputs.empty() ? "" : node.outputs[0], constant_value(node, path), node.label());
      continue;
    }
    for (const auto& out : node.outputs) {
      if (out.empty()) continue;
      require(known.insert(out).second, path + ": " + node.label() + ": output '" + out + "' is defined twice");
    }
    g.nodes.push_back(std::move(node));
  }
  for (const auto& v : graph.output()) {
    require(known.count(v.name()), path + ": graph output '" + v.name() + "' is produced by no node");
    g.outputs.push_back(value_info(v));
  }
  require(!g.outputs.empty(), path + ": graph has no outputs");
  return g;
}

OnnxGraph read_onnx(const std::string& path) {
  std::error_code ec;
  require(fs::is_regular_file(path, ec), path + ": no such ONNX file");
  const auto size = fs::file_size(path, ec);
  require(!ec, path + ": cannot read the file size");
  require(size <= static_cast<uintmax_t>(INT_MAX), path + ": file is larger than protobuf's 2 GiB limit");
  std::ifstream in(path, std::ios::binary);
  require(in.good(), path + ": cannot open");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  require(in.gcount() == static_cast<std::streamsize>(size), path + ": short read");
  return parse_onnx(bytes, path);
}

}  // namespace frugal::io
