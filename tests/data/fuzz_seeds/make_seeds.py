#!/usr/bin/python3
"""Writes small valid inputs that seed the fuzz targets whose formats have no fixture elsewhere in
tests/data (scripts/fuzz.sh also seeds from tests/data/io, tests/data/nir and examples/*.toml):

- idx/: a 2x3x4 unsigned-byte IDX array, plain and gzipped (the MNIST layout, big-endian dims).
- har/: a few WISDM v1.1 records and a two-class, two-dimension sktime .ts file.
- nifti/: 4x3x2 volumes written field by field from the NIfTI-1 and NIfTI-2 header layouts
  (nifti1.h, nifti2.h): float32 .nii, int16 .nii with scl_slope, and a gzipped uint8 .nii.gz.

Uses only the standard library. Run from anywhere:
    /usr/bin/python3 tests/data/fuzz_seeds/make_seeds.py
"""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def idx_seeds():
    dims = (2, 3, 4)
    body = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    body += bytes(range(2 * 3 * 4))
    write("idx/small.idx", body)
    # mtime=0 keeps the gzip bytes the same on every run.
    write("idx/small.idx.gz", gzip.compress(body, mtime=0))


def har_seeds():
    wisdm = "33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;\n" \
            "33,Walking,49106062271000,5.012288,11.264028,0.95342433;\n" \
            "17,A,1.0,0.1,0.2,0.3;17,B,2.0,0.4,0.5,0.6;\n"
    write("har/wisdm.txt", wisdm.encode())
    ts = "# two series, two dimensions, length 3\n@problemName tiny\n@timeStamps false\n" \
         "@equalLength true\n@classLabel true up down\n@data\n" \
         "1.0,2.0,3.0:0.5,0.25,0.125:up\n-1,-2,-3:4,5,6:down\n"
    write("har/tiny.ts", ts.encode())


def nifti1(datatype, bitpix, values_bytes, slope=0.0):
    # NIfTI-1 header: 348 bytes, then 4 bytes of extension flags, data at vox_offset 352.
    h = bytearray(348)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, 4, 3, 2, 1, 1, 1, 1)
    struct.pack_into("<hh", h, 70, datatype, bitpix)
    struct.pack_into("<8f", h, 76, 1, 1.5, 1.5, 2.0, 1, 1, 1, 1)
    struct.pack_into("<f", h, 108, 352.0)
    struct.pack_into("<ff", h, 112, slope, 0.0)
    h[344:348] = b"n+1\0"
    return bytes(h) + b"\0\0\0\0" + values_bytes


def nifti2(datatype, bitpix, values_bytes):
    # NIfTI-2 header: 540 bytes, then 4 bytes of extension flags, data at vox_offset 544.
    h = bytearray(540)
    struct.pack_into("<i", h, 0, 540)
    h[4:12] = b"n+2\0\r\n\x1a\n"
    struct.pack_into("<hh", h, 12, datatype, bitpix)
    struct.pack_into("<8q", h, 16, 3, 4, 3, 2, 1, 1, 1, 1)
    struct.pack_into("<8d", h, 104, 1, 1.5, 1.5, 2.0, 1, 1, 1, 1)
    struct.pack_into("<q", h, 168, 544)
    return bytes(h) + b"\0\0\0\0" + values_bytes


def nifti_seeds():
    n = 4 * 3 * 2
    write("nifti/f32.nii", nifti1(16, 32, struct.pack("<%df" % n, *[i * 0.5 for i in range(n)])))
    write("nifti/i16_slope.nii", nifti1(4, 16, struct.pack("<%dh" % n, *range(-12, 12)), slope=0.5))
    write("nifti/u8.nii.gz", gzip.compress(nifti1(2, 8, bytes(range(n))), mtime=0))
    write("nifti/f64_v2.nii", nifti2(64, 64, struct.pack("<%dd" % n, *range(n))))


if __name__ == "__main__":
    idx_seeds()
    har_seeds()
    nifti_seeds()
