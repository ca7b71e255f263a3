#!/usr/bin/python3
"""Writes the interop fixtures of tests/test_io_formats.cpp with NumPy only (no frugal code):

- hf_mixed.safetensors: laid out the way the Hugging Face writer does it (compact JSON header with
  "__metadata__", tensors sorted by dtype alignment then name, header padded with spaces to a
  multiple of 8), one tensor of each dtype frugal reads. BF16 is built from float32 bits, the way
  torch stores it.
- np_*.npy: files written by numpy.save / numpy.lib.format (v1.0 and v2.0, several dtypes, one
  Fortran-ordered file that frugal must refuse).

Values are simple formulas the C++ test recomputes. Run from anywhere:
    /usr/bin/python3 tests/data/io/make_fixtures.py
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def bf16_bytes(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    return (bits >> 16).astype("<u2").tobytes()  # values chosen to be exact in bfloat16


def write_safetensors(path, tensors, metadata):
    # tensors: name -> (dtype name, shape, raw little-endian bytes, alignment)
    order = sorted(tensors, key=lambda n: (-tensors[n][3], n))
    header = {"__metadata__": metadata}
    offset = 0
    for name in order:
        dtype, shape, raw, _ = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(tensors[name][2])


def main():
    f32 = (np.arange(6, dtype=np.float32) * 0.5 - 1.0).reshape(2, 3)
    f64 = np.array([1.0 / 3.0, -2.5e-3], dtype=np.float64)
    # 2^-24 is the smallest float16 subnormal; 65504 the largest finite value.
    f16 = np.array([[1.5, -2.0], [2.0 ** -24, 65504.0]], dtype=np.float16)
    bf16 = np.array([1.0, -0.5, 3.0, 256.0], dtype=np.float32)
    i64 = np.array([-3, 0, 1 << 40], dtype=np.int64)
    i32 = np.array([7, -7], dtype=np.int32)
    i8 = np.array([-128, 0, 127], dtype=np.int8)
    u8 = np.array([0, 255], dtype=np.uint8)
    empty = np.zeros((0, 4), dtype=np.float32)
    write_safetensors(
        os.path.join(HERE, "hf_mixed.safetensors"),
        {
            "f32": ("F32", f32.shape, f32.astype("<f4").tobytes(), 4),
            "f64": ("F64", f64.shape, f64.astype("<f8").tobytes(), 8),
            "f16": ("F16", f16.shape, f16.astype("<f2").tobytes(), 2),
            "bf16": ("BF16", bf16.shape, bf16_bytes(bf16), 2),
            "i64": ("I64", i64.shape, i64.astype("<i8").tobytes(), 8),
            "i32": ("I32", i32.shape, i32.astype("<i4").tobytes(), 4),
            "i8": ("I8", i8.shape, i8.tobytes(), 1),
            "u8": ("U8", u8.shape, u8.tobytes(), 1),
            "empty": ("F32", empty.shape, b"", 4),
        },
        {"format": "pt", "source": "make_fixtures.py"},
    )

    base = np.arange(24).reshape(2, 3, 4)
    np.save(os.path.join(HERE, "np_f4.npy"), (base * 0.25 - 2.0).astype("<f4"))
    np.save(os.path.join(HERE, "np_f8.npy"), (base[0] / 3.0).astype("<f8"))
    np.save(os.path.join(HERE, "np_i8.npy"), (base[0, 0] - 2).astype("<i8"))
    np.save(os.path.join(HERE, "np_i4.npy"), np.array(-5, dtype="<i4"))  # 0-d array
    np.save(os.path.join(HERE, "np_u1.npy"), np.array([0, 200, 255], dtype="|u1"))
    np.save(os.path.join(HERE, "np_b1.npy"), np.array([True, False, True]))
    with open(os.path.join(HERE, "np_v2_f4.npy"), "wb") as f:
        np.lib.format.write_array(f, np.arange(5, dtype="<f4"), version=(2, 0))
    np.save(os.path.join(HERE, "np_fortran.npy"), np.asfortranarray(base[0].astype("<f4")))


if __name__ == "__main__":
    main()
