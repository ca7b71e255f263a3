// ONNX import: the reader (io/onnx.h) and the graph runner (nn/onnx_graph.h), on fixtures made by
// tests/data/onnx/make_onnx_fixtures.py (PyTorch exports at opsets 9, 13, 17 and with external data,
// an onnx.helper model with typed fields only, malformed files) and on protobufs built here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "frugal/core/error.h"
#include "frugal/io/npy.h"
#include "frugal/io/onnx.h"
#include "frugal/nn/onnx_graph.h"

namespace frugal {
namespace {

using ::testing::HasSubstr;

std::string fixture(const std::string& name) { return std::string(FRUGAL_SOURCE_DIR) + "/tests/data/onnx/" + name; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float worst = 0;
  for (int64_t k = 0; k < std::min(a.numel(), b.numel()); ++k) worst = std::max(worst, std::fabs(a[k] - b[k]));
  return worst;
}

const io::OnnxNode* find_op(const io::OnnxGraph& g, const std::string& op) {
  for (const auto& n : g.nodes)
    if (n.op_type == op) return &n;
  return nullptr;
}

TEST(OnnxReader, ReadsPyTorchExport) {
  const io::OnnxGraph g = io::read_onnx(fixture("cnn_opset13.onnx"));
  EXPECT_EQ(g.opset, 13);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].name, "input");
  EXPECT_EQ(g.inputs[0].shape, (Shape{-1, 1, 12, 12}));  // dynamic batch
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].name, "logits");
  ASSERT_TRUE(g.initializers.count("fc_a.weight"));
  EXPECT_EQ(g.initializers.at("fc_a.weight").shape(), (Shape{10, 16}));
  EXPECT_EQ(find_op(g, "Constant"), nullptr);  // folded into the initializers
  for (const char* op : {"Conv", "Clip", "MaxPool", "BatchNormalization", "Shape", "Gather", "Unsqueeze", "Reshape",
                         "Flatten", "Gemm", "GlobalAveragePool", "AveragePool"})
    EXPECT_NE(find_op(g, op), nullptr) << op;
  const io::OnnxNode* gather = find_op(g, "Gather");
  ASSERT_TRUE(g.int_initializers.count(gather->inputs[1]));
  const io::OnnxInts& index = g.int_initializers.at(gather->inputs[1]);
  EXPECT_EQ(index.shape, Shape{});  // a scalar index: Gather drops the axis
  EXPECT_EQ(index.values, std::vector<int64_t>{0});
  const io::OnnxNode* conv = find_op(g, "Conv");
  EXPECT_EQ(conv->attr_ints("pads", {}), (std::vector<int64_t>{1, 1, 1, 1}));
}

TEST(OnnxReader, ClipBoundsMoveFromAttributesToInputsAtOpset11) {
  const io::OnnxGraph old = io::read_onnx(fixture("cnn_opset9.onnx"));
  EXPECT_EQ(old.opset, 9);
  EXPECT_EQ(find_op(old, "Clip")->attr_float("max", 0), 6.0f);
  const io::OnnxGraph g = io::read_onnx(fixture("cnn_opset17.onnx"));
  const io::OnnxNode* clip = find_op(g, "Clip");
  ASSERT_EQ(clip->inputs.size(), 3u);
  ASSERT_TRUE(g.initializers.count(clip->inputs[2]));
  EXPECT_EQ(g.initializers.at(clip->inputs[2])[0], 6.0f);
}

TEST(OnnxReader, ExternalDataEqualsEmbeddedData) {
  const io::OnnxGraph embedded = io::read_onnx(fixture("cnn_opset13.onnx"));
  const io::OnnxGraph external = io::read_onnx(fixture("cnn_external.onnx"));
  ASSERT_EQ(external.initializers.size(), embedded.initializers.size());
  for (const auto& [name, t] : embedded.initializers) {
    ASSERT_TRUE(external.initializers.count(name)) << name;
    EXPECT_EQ(external.initializers.at(name).to_vector(), t.to_vector()) << name;
  }
}

TEST(OnnxReader, TypedFieldsWithoutRawData) {
  const io::OnnxGraph g = io::read_onnx(fixture("helper_mlp.onnx"));
  EXPECT_EQ(g.initializers.at("w1").shape(), (Shape{6, 5}));
  EXPECT_EQ(g.initializers.at("b1").shape(), (Shape{5}));  // DOUBLE, narrowed to float
  EXPECT_EQ(g.int_initializers.at("shape").values, (std::vector<int64_t>{-1, 2, 2}));
  EXPECT_EQ(g.initializers.at("lo").shape(), Shape{});  // Constant value_float
  EXPECT_EQ(g.initializers.at("lo")[0], -0.25f);
  EXPECT_EQ(g.initializers.at("hi")[0], 1.5f);  // Constant value tensor
  ASSERT_FALSE(g.nodes.empty());
  EXPECT_EQ(g.nodes[0].name, "MatMul_0");  // unnamed nodes are named by op and position
}

class OnnxPyTorchLogits : public ::testing::TestWithParam<const char*> {};

TEST_P(OnnxPyTorchLogits, MatchWithin1e4) {
  const nn::OnnxGraphRunner runner(io::read_onnx(fixture(GetParam())));
  const Tensor logits = runner.run(io::read_npy(fixture("cnn_input.npy")));
  const Tensor expected = io::read_npy(fixture("cnn_logits.npy"));
  EXPECT_LE(max_abs_diff(logits, expected), 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(Exports, OnnxPyTorchLogits,
                         ::testing::Values("cnn_opset9.onnx", "cnn_opset13.onnx", "cnn_opset17.onnx",
                                           "cnn_external.onnx"));

TEST(OnnxRunner, BatchSizeFlowsThroughTheShapeChain) {
  // x.view(x.size(0), -1) exports as Shape->Gather->Unsqueeze->Concat->Reshape; with one sample
  // instead of the exported two, the reshape target must follow.
  const nn::OnnxGraphRunner runner(io::read_onnx(fixture("cnn_opset9.onnx")));
  const Tensor input = io::read_npy(fixture("cnn_input.npy"));
  const Tensor expected = io::read_npy(fixture("cnn_logits.npy"));
  Tensor one({1, 1, 12, 12});
  for (int64_t k = 0; k < one.numel(); ++k) one[k] = input[one.numel() + k];
  const Tensor logits = runner.run(one);
  ASSERT_EQ(logits.shape(), (Shape{1, 10}));
  for (int64_t k = 0; k < 10; ++k) EXPECT_NEAR(logits[k], expected[10 + k], 1e-4f);
}

TEST(OnnxRunner, HelperModelMatchesNumpy) {
  const nn::OnnxGraphRunner runner(io::read_onnx(fixture("helper_mlp.onnx")));
  const Tensor y = runner.run(io::read_npy(fixture("helper_input.npy")));
  EXPECT_LE(max_abs_diff(y, io::read_npy(fixture("helper_output.npy"))), 1e-5f);
}

TEST(OnnxErrors, TruncatedFile) {
  const std::string msg = error_of([] { io::read_onnx(fixture("bad_truncated.onnx")); });
  EXPECT_THAT(msg, HasSubstr("bad_truncated.onnx"));
  EXPECT_THAT(msg, HasSubstr("truncated"));
}

TEST(OnnxErrors, RandomBytes) {
  EXPECT_THAT(error_of([] { io::read_onnx(fixture("bad_random.onnx")); }), HasSubstr("bad_random.onnx: "));
}

TEST(OnnxErrors, EveryPrefixOfAModelFailsCleanlyOrLoads) {
  std::ifstream in(fixture("helper_mlp.onnx"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 100u);
  size_t failed = 0;
  for (size_t len = 0; len < bytes.size(); ++len) {
    try {
      nn::OnnxGraphRunner runner(io::parse_onnx(bytes.substr(0, len), "prefix.onnx"));
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("prefix.onnx: "));
      ++failed;
    }
  }
  EXPECT_GT(failed, bytes.size() * 9 / 10);
}

TEST(OnnxErrors, UnsupportedOpNamesNodeAndOp) {
  const io::OnnxGraph g = io::read_onnx(fixture("bad_unsupported_op.onnx"));
  EXPECT_THAT(error_of([&] { nn::OnnxGraphRunner runner(g); }),
              HasSubstr("bad_unsupported_op.onnx: node 'squash': unsupported op Softsign"));
}

TEST(OnnxErrors, MissingInitializerNamesNodeAndInput) {
  const std::string msg = error_of([] { io::read_onnx(fixture("bad_missing_initializer.onnx")); });
  EXPECT_THAT(msg, HasSubstr("node 'add_bias' (Add): input 'bias'"));
}

TEST(OnnxErrors, TensorBytesMustMatchDims) {
  const std::string msg = error_of([] { io::read_onnx(fixture("bad_tensor_size.onnx")); });
  EXPECT_THAT(msg, HasSubstr("tensor 'bias': raw data has 12 bytes, dims [1, 4] need 16"));
}

TEST(OnnxErrors, ExternalDataMayNotLeaveTheModelDirectory) {
  const std::string msg = error_of([] { io::read_onnx(fixture("bad_external_path.onnx")); });
  EXPECT_THAT(msg, HasSubstr("tensor 'bias': external data location '../secret.npy' leaves the model's directory"));
}

TEST(OnnxErrors, OpsetOutOfRange) {
  EXPECT_THAT(error_of([] { io::read_onnx(fixture("bad_opset.onnx")); }), HasSubstr("opset 7 is not supported"));
}

TEST(OnnxErrors, MissingFile) {
  EXPECT_THAT(error_of([] { io::read_onnx(fixture("no_such.onnx")); }), HasSubstr("no_such.onnx: no such ONNX file"));
}

TEST(OnnxErrors, WrongInputRank) {
  const nn::OnnxGraphRunner runner(io::read_onnx(fixture("cnn_opset13.onnx")));
  EXPECT_THAT(error_of([&] { runner.run(Tensor({12, 12})); }),
              HasSubstr("input 'input' expects shape [-1, 1, 12, 12] (-1: any), got [12, 12]"));
}

// A one-node model built here, for cases no exporter writes.
onnx::ModelProto one_node_model(const std::string& op) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  auto* shape = in->mutable_type()->mutable_tensor_type()->mutable_shape();
  for (int64_t d : {1, 1, 4, 4}) shape->add_dim()->set_dim_value(d);
  g->add_output()->set_name("y");
  onnx::NodeProto* n = g->add_node();
  n->set_name("n0");
  n->set_op_type(op);
  n->add_input("x");
  n->add_output("y");
  return m;
}

void add_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void add_int(onnx::NodeProto* n, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

std::string load_error(const onnx::ModelProto& m) {
  return error_of([&] { nn::OnnxGraphRunner runner(io::parse_onnx(m.SerializeAsString(), "built.onnx")); });
}

TEST(OnnxErrors, ElementCountIsCapped) {
  onnx::ModelProto m = one_node_model("Add");
  m.mutable_graph()->mutable_node(0)->add_input("huge");
  onnx::TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name("huge");
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {1 << 20, 1 << 20}) t->add_dims(d);
  EXPECT_THAT(load_error(m), HasSubstr("built.onnx: tensor 'huge': dims [1048576, 1048576] exceed the 2^31-element cap"));
}

TEST(OnnxErrors, TypedFieldCountMustMatchDims) {
  onnx::ModelProto m = one_node_model("Add");
  m.mutable_graph()->mutable_node(0)->add_input("b");
  onnx::TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name("b");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(4);
  t->add_float_data(1.0f);
  EXPECT_THAT(load_error(m), HasSubstr("tensor 'b': float_data has 1 values, dims [4] need 4"));
}

// A model in its own temporary directory whose initializer 'b' [4] lives in `location`.
std::string external_model(const std::string& dir, const std::string& location, const std::string& offset,
                           const std::string& length) {
  onnx::ModelProto m = one_node_model("Add");
  m.mutable_graph()->mutable_node(0)->add_input("b");
  onnx::TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name("b");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(4);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  for (const auto& [key, value] : {std::pair{"location", location}, {"offset", offset}, {"length", length}}) {
    auto* entry = t->add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  }
  const std::string path = dir + "/model.onnx";
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

TEST(OnnxErrors, ExternalDataOffsetsAndLinksAreChecked) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("frugal_onnx_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "model");
  const std::string dir = (root / "model").string();
  const float values[4] = {1, 2, 3, 4};
  std::ofstream(dir + "/w.data", std::ios::binary).write(reinterpret_cast<const char*>(values), sizeof(values));
  std::ofstream(root / "outside.data", std::ios::binary).write(reinterpret_cast<const char*>(values), sizeof(values));
  fs::create_symlink(root / "outside.data", root / "model" / "link.data");

  EXPECT_EQ(io::read_onnx(external_model(dir, "w.data", "0", "16")).initializers.at("b").to_vector(),
            (std::vector<float>{1, 2, 3, 4}));
  EXPECT_THAT(error_of([&] { io::read_onnx(external_model(dir, "w.data", "8", "16")); }),
              HasSubstr("tensor 'b': external data offset 8 + length 16 is past the end"));
  EXPECT_THAT(error_of([&] { io::read_onnx(external_model(dir, "w.data", "-4", "16")); }),
              HasSubstr("external_data 'offset': expected a non-negative decimal number, got '-4'"));
  EXPECT_THAT(error_of([&] { io::read_onnx(external_model(dir, "link.data", "0", "16")); }),
              HasSubstr("resolves outside the model's directory"));
  EXPECT_THAT(error_of([&] { io::read_onnx(external_model(dir, (root / "outside.data").string(), "0", "16")); }),
              HasSubstr("must be relative to the model's directory"));
  EXPECT_THAT(error_of([&] { io::read_onnx(external_model(dir, "missing.data", "0", "16")); }),
              HasSubstr("does not exist"));
  fs::remove_all(root);
}

TEST(OnnxErrors, UnsupportedAttributeNamesNodeAndOp) {
  onnx::ModelProto m = one_node_model("MaxPool");
  add_ints(m.mutable_graph()->mutable_node(0), "kernel_shape", {2, 3});
  EXPECT_THAT(load_error(m), HasSubstr("built.onnx: node 'n0' (MaxPool): kernel_shape [2, 3] must be equal"));
}

TEST(OnnxErrors, NonDefaultDomainIsUnsupported) {
  onnx::ModelProto m = one_node_model("Relu");
  m.mutable_graph()->mutable_node(0)->set_domain("com.example");
  EXPECT_THAT(load_error(m), HasSubstr("node 'n0': unsupported op com.example.Relu"));
}

TEST(OnnxRunner, PaddedAveragePoolCountsPaddingOnlyWhenAsked) {
  onnx::ModelProto m = one_node_model("AveragePool");
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  add_ints(n, "kernel_shape", {2, 2});
  add_ints(n, "pads", {1, 1, 1, 1});
  EXPECT_THAT(load_error(m), HasSubstr("node 'n0' (AveragePool): padding with count_include_pad=0 is not supported"));
  add_int(n, "count_include_pad", 1);
  const nn::OnnxGraphRunner runner(io::parse_onnx(m.SerializeAsString(), "built.onnx"));
  const Tensor y = runner.run(Tensor::full({1, 1, 4, 4}, 8.0f));
  ASSERT_EQ(y.shape(), (Shape{1, 1, 5, 5}));
  EXPECT_FLOAT_EQ(y[0], 2.0f);  // the corner window holds one input value and three pads
  EXPECT_FLOAT_EQ(y[1], 4.0f);
  EXPECT_FLOAT_EQ(y[6], 8.0f);
}

TEST(OnnxErrors, RunTimeShapeErrorsNameTheNode) {
  onnx::ModelProto m = one_node_model("Reshape");
  m.mutable_graph()->mutable_node(0)->add_input("target");
  onnx::TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name("target");
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(2);
  t->add_int64_data(3);
  t->add_int64_data(-1);
  const nn::OnnxGraphRunner runner(io::parse_onnx(m.SerializeAsString(), "built.onnx"));
  EXPECT_THAT(error_of([&] { runner.run(Tensor({1, 1, 4, 4})); }),
              HasSubstr("built.onnx: node 'n0' (Reshape): cannot reshape [1, 1, 4, 4] to [3, -1]"));
}

}  // namespace
}  // namespace frugal
