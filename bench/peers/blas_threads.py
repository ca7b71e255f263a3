"""Debian's PyTorch calls the system BLAS (libblas.so.3). With OpenBLAS's pthread build, which
setup.sh installs, that BLAS keeps a thread pool of its own that torch.set_num_threads does not
reach: at "1 thread" PyTorch's linear layers still ran on both cores (process CPU time twice its
wall time). set_blas_threads pins that pool too, so a peer's thread count is frugal's."""
import ctypes
import os

LIBBLAS = "/usr/lib/x86_64-linux-gnu/libblas.so.3"


def set_blas_threads(threads):
    path = os.path.realpath(LIBBLAS)
    if "openblas" in path and os.path.exists(path):
        ctypes.CDLL(path).openblas_set_num_threads(threads)
