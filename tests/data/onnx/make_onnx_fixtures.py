#!/usr/bin/python3
"""Makes the ONNX fixtures for tests/test_onnx.cpp (run with Debian's python3: torch 1.13, onnx).

- cnn_opset{9,13,17}.onnx: a small CNN exported by PyTorch (BatchNorm, ReLU6 as Clip, max and
  average pooling (both padded), a grouped Conv, global average pooling, a residual Add, Concat, x.view(x.size(0), -1) which
  exports as the Shape->Gather->Unsqueeze->Concat->Reshape chain, torch.flatten, Gemm).
- cnn_external.onnx + cnn_external.data: the opset 13 model with every tensor in an external file.
- cnn_input.npy, cnn_logits.npy: a fixed input [2, 1, 12, 12] and PyTorch's logits [2, 10].
- helper_mlp.onnx (+ helper_input.npy, helper_output.npy): built with onnx.helper, typed fields only
  (float_data, double_data, int64_data, no raw_data), Constant nodes, MatMul, broadcast Add,
  Identity, Dropout, Gemm with transB=0 and alpha/beta, Clip with inputs, Reshape; output by numpy.
- bad_*.onnx: malformed files (truncated, random bytes, unsupported op, missing input, tensor size
  mismatch, external data escaping the directory).
"""
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from onnx.external_data_helper import set_external_data

HERE = os.path.dirname(os.path.abspath(__file__))


class SmallCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.pool1 = torch.nn.MaxPool2d(3, stride=2, padding=1)  # padded: borders must not see zeros
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.bn2 = torch.nn.BatchNorm2d(8)
        self.conv3 = torch.nn.Conv2d(8, 4, 1)
        self.bn3 = torch.nn.BatchNorm2d(12)  # after Concat, so the exporter cannot fold it into a Conv
        self.pool2 = torch.nn.AvgPool2d(3, stride=2, padding=1)  # counts the padding, PyTorch's default
        self.conv4 = torch.nn.Conv2d(12, 16, 3, padding=1, stride=1)
        self.fc_a = torch.nn.Linear(16, 10)
        self.fc_b = torch.nn.Linear(16 * 3 * 3, 10)

    def forward(self, x):
        x = self.pool1(torch.nn.functional.relu6(self.bn1(self.conv1(x))))  # 8x6x6
        x = torch.relu(x + self.bn2(self.conv2(x)))  # residual Add
        x = torch.cat([x, self.conv3(x)], dim=1)  # 12x6x6
        x = self.pool2(torch.relu(self.bn3(x)))  # 12x3x3
        x = torch.relu(self.conv4(x))  # 16x3x3
        a = torch.nn.functional.adaptive_avg_pool2d(x, 1)  # GlobalAveragePool
        a = self.fc_a(a.view(a.size(0), -1))
        b = self.fc_b(torch.flatten(x, 1))
        return a + b


def save_f32(name, array):
    np.save(os.path.join(HERE, name), np.ascontiguousarray(array, dtype="<f4"))


def make_cnn():
    torch.manual_seed(7)
    net = SmallCnn()
    with torch.no_grad():  # non-trivial running statistics, so BatchNorm is really tested
        for bn in (net.bn1, net.bn2, net.bn3):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.randn(2, 1, 12, 12)
    with torch.no_grad():
        logits = net(x)
    save_f32("cnn_input.npy", x.numpy())
    save_f32("cnn_logits.npy", logits.numpy())
    for opset in (9, 13, 17):
        path = os.path.join(HERE, f"cnn_opset{opset}.onnx")
        torch.onnx.export(net, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    # Every initializer moved to one external file at 64-byte aligned offsets, written in graph
    # order (onnx.save_model's own conversion orders tensors differently from run to run).
    model = onnx.load(os.path.join(HERE, "cnn_opset13.onnx"))
    with open(os.path.join(HERE, "cnn_external.data"), "wb") as f:
        for t in model.graph.initializer:
            raw = t.raw_data
            f.write(b"\0" * (-f.tell() % 64))
            set_external_data(t, "cnn_external.data", offset=f.tell(), length=len(raw))
            t.ClearField("raw_data")
            f.write(raw)
    onnx.save(model, os.path.join(HERE, "cnn_external.onnx"))


def typed_tensor(name, array, dtype):
    """A TensorProto with its values in the typed field (float_data, double_data, int64_data)."""
    t = helper.make_tensor(name, dtype, array.shape, array.flatten().tolist(), raw=False)
    assert not t.raw_data
    return t


def make_helper_mlp():
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((6, 5)).astype(np.float32)
    b1 = rng.standard_normal(5)  # stored as DOUBLE
    w2 = rng.standard_normal((5, 4)).astype(np.float32)  # Gemm with transB = 0
    c2 = rng.standard_normal(4).astype(np.float32)
    shape = np.array([-1, 2, 2], dtype=np.int64)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"]),  # no node names: the reader names them
        helper.make_node("Add", ["h1", "b1"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["h3"]),
        helper.make_node("Identity", ["h3"], ["h4"]),
        helper.make_node("Dropout", ["h4"], ["h5"]),
        helper.make_node("Gemm", ["h5", "w2", "c2"], ["h6"], alpha=0.5, beta=2.0, transB=0),
        helper.make_node("Constant", [], ["lo"], value_float=-0.25),
        helper.make_node("Constant", [], ["hi"], value=helper.make_tensor("hi_t", TensorProto.FLOAT, [], [1.5])),
        helper.make_node("Clip", ["h6", "lo", "hi"], ["h7"]),
        helper.make_node("Reshape", ["h7", "shape"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "helper_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2, 2])],
        initializer=[typed_tensor("w1", w1, TensorProto.FLOAT), typed_tensor("b1", b1, TensorProto.DOUBLE),
                     typed_tensor("w2", w2, TensorProto.FLOAT), typed_tensor("c2", c2, TensorProto.FLOAT),
                     typed_tensor("shape", shape, TensorProto.INT64)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "helper_mlp.onnx"))

    x = rng.standard_normal((3, 6)).astype(np.float32)
    h = np.maximum(x @ w1 + b1.astype(np.float32), 0)
    y = np.clip(0.5 * (h @ w2) + 2.0 * c2, -0.25, 1.5).reshape(-1, 2, 2)
    save_f32("helper_input.npy", x)
    save_f32("helper_output.npy", y)


def tiny_graph(nodes, initializers, opset=13):
    graph = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def make_malformed():
    good = open(os.path.join(HERE, "cnn_opset13.onnx"), "rb").read()
    with open(os.path.join(HERE, "bad_truncated.onnx"), "wb") as f:
        f.write(good[: len(good) // 2])
    with open(os.path.join(HERE, "bad_random.onnx"), "wb") as f:
        f.write(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    onnx.save(tiny_graph([helper.make_node("Relu", ["x"], ["r"], name="act"),
                          helper.make_node("Softsign", ["r"], ["y"], name="squash")], []),
              os.path.join(HERE, "bad_unsupported_op.onnx"))
    onnx.save(tiny_graph([helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")], []),
              os.path.join(HERE, "bad_missing_initializer.onnx"))
    short = helper.make_tensor("bias", TensorProto.FLOAT, [1, 4], np.zeros(4, np.float32).tobytes(), raw=True)
    short.raw_data = short.raw_data[:12]  # 3 floats where dims [1, 4] need 4
    onnx.save(tiny_graph([helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")], [short]),
              os.path.join(HERE, "bad_tensor_size.onnx"))
    escaping = helper.make_tensor("bias", TensorProto.FLOAT, [1, 4], [0.0] * 4)
    del escaping.float_data[:]
    escaping.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.npy"), ("offset", "0"), ("length", "16")):
        entry = escaping.external_data.add()
        entry.key, entry.value = key, value
    onnx.save(tiny_graph([helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")], [escaping]),
              os.path.join(HERE, "bad_external_path.onnx"))
    onnx.save(tiny_graph([helper.make_node("Relu", ["x"], ["y"], name="act")], [], opset=7),
              os.path.join(HERE, "bad_opset.onnx"))


if __name__ == "__main__":
    make_cnn()
    make_helper_mlp()
    make_malformed()
