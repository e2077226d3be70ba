"""Shared helpers of the peer benchmarks: Fashion-MNIST loading and JSON output."""

import gzip
import json
import os
import resource
import sys

import numpy as np

FASHION_MNIST = os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


def _idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist():
    """(x_train, y_train, x_test, y_test): float32 pixels standardized with one mean and one
    standard deviation over all training pixels (actlab's `--scaling global`), int64 labels."""
    x_train = _idx(f"{FASHION_MNIST}/train-images-idx3-ubyte.gz").reshape(60000, 784).astype(np.float32)
    y_train = _idx(f"{FASHION_MNIST}/train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = _idx(f"{FASHION_MNIST}/t10k-images-idx3-ubyte.gz").reshape(10000, 784).astype(np.float32)
    y_test = _idx(f"{FASHION_MNIST}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mean = x_train.mean(dtype=np.float64)
    std = x_train.std(dtype=np.float64)
    scale = lambda x: ((x - mean) / std).astype(np.float32)
    return scale(x_train), y_train, scale(x_test), y_test


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit(record):
    print(json.dumps(record), flush=True)


def arg(name, default=None, cast=str):
    """`--name value` from the command line."""
    argv = sys.argv
    if f"--{name}" in argv:
        return cast(argv[argv.index(f"--{name}") + 1])
    return default
