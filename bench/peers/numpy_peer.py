"""numpy side of W5: float32 matrix products through numpy's BLAS on the shapes of W1 and
1024³, GFLOP/s (median of --reps timings).

  numpy_peer.py w5 --threads 2
"""

import statistics
import sys
import time

import numpy as np

from common import arg, emit


def shapes():
    out = []
    for b in (32, 128, 512):
        out += [(f"fwd1 b{b}", b, 256, 784, "N", "T"), (f"fwd2 b{b}", b, 128, 256, "N", "T"),
                (f"fwd3 b{b}", b, 10, 128, "N", "T"), (f"dw1 b{b}", 256, 784, b, "T", "N"),
                (f"dw2 b{b}", 128, 256, b, "T", "N"), (f"dx2 b{b}", b, 256, 128, "N", "N")]
    return out + [("square", 1024, 1024, 1024, "N", "N")]


def w5():
    from threadpoolctl import threadpool_info, threadpool_limits

    reps = arg("reps", 15, int)
    with threadpool_limits(limits=arg("threads", 1, int)):
        info = [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                for p in threadpool_info()]
        emit({"workload": "w5-blas", "blas": info})
        rng = np.random.default_rng(0)
        for name, m, n, k, op_a, op_b in shapes():
            # stored as the row-major buffers actlab multiplies; transposes are views
            a = rng.uniform(-1, 1, (m, k) if op_a == "N" else (k, m)).astype(np.float32)
            b = rng.uniform(-1, 1, (k, n) if op_b == "N" else (n, k)).astype(np.float32)
            a, b = (a if op_a == "N" else a.T), (b if op_b == "N" else b.T)
            c = np.empty((m, n), dtype=np.float32)
            flops = 2.0 * m * n * k
            inner = max(1, int(2e7 / flops))
            np.matmul(a, b, out=c)
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                for _ in range(inner):
                    np.matmul(a, b, out=c)
                times.append((time.perf_counter() - start) / inner)
            emit({"workload": "w5", "shape": name, "m": m, "n": n, "k": k,
                  "gflops": flops / statistics.median(times) / 1e9})


if __name__ == "__main__":
    {"w5": w5}[sys.argv[1]]()
