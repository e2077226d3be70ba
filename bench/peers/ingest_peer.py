"""W6 peers: reading the benchmark's CSV files with pandas and polars, and Fashion-MNIST's gzip
IDX files with numpy, the same way round as actlab (median of --reps readings, one JSON line).

  ingest_peer.py gen --dir /tmp/w6                      # writes numeric.csv and mixed.csv
  ingest_peer.py w6 --library polars --file /tmp/w6/numeric.csv --threads 2
  ingest_peer.py w6 --library numpy --idx /usr/share/datasets/fashion-mnist
"""

import gzip
import os
import statistics
import sys
import time

from common import arg, emit

ROWS, COLUMNS = 200_000, 50


def gen():
    """Two tables of ROWS × COLUMNS, the same bytes on every run (seeded): `numeric.csv`, numbers
    with six decimals and a class label last (about 95 MB); `mixed.csv`, the same with every fifth
    column text (one of 1,000 words) and one cell in 20 of the other columns missing (empty)."""
    import numpy as np

    out = arg("dir")
    rng = np.random.default_rng(6)
    values = rng.standard_normal((ROWS, COLUMNS - 1))
    labels = rng.integers(0, 10, ROWS)
    names = [f"x{c}" for c in range(COLUMNS - 1)] + ["y"]
    words = np.array([f"w{i:03d}" for i in range(1000)], dtype=object)
    text = [np.char.mod("%.6f", values[:, c]).astype(object) for c in range(COLUMNS - 1)]
    with open(os.path.join(out, "numeric.csv"), "w") as f:
        write(f, names, text + [labels.astype(str).astype(object)])
    mixed = []
    for c in range(COLUMNS - 1):
        if c % 5 == 4:
            column = words[rng.integers(0, len(words), ROWS)]
        else:
            column = text[c].copy()
        column[rng.random(ROWS) < 0.05] = ""
        mixed.append(column)
    with open(os.path.join(out, "mixed.csv"), "w") as f:
        write(f, names, mixed + [labels.astype(str).astype(object)])


def write(f, names, columns):
    f.write(",".join(names) + "\n")
    step = 20_000
    for start in range(0, ROWS, step):
        rows = zip(*(c[start:start + step] for c in columns))
        f.write("".join(",".join(r) + "\n" for r in rows))


def read_idx(path):
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape).astype(np.float32)


def w6():
    threads = arg("threads", 1, int)
    library = arg("library")
    # polars reads its thread count once, when imported
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    reps = arg("reps", 5, int)
    file, idx = arg("file"), arg("idx")
    if library == "pandas":
        import pandas as pd

        read = lambda: pd.read_csv(file)
        version = pd.__version__
    elif library == "polars":
        import polars as pl

        read = lambda: pl.read_csv(file)
        version = pl.__version__
    else:
        import numpy as np

        names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"]
        read = lambda: [read_idx(os.path.join(idx, n + ".gz")) for n in names]
        version = np.__version__
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        result = read()
        seconds.append(time.perf_counter() - start)
        del result
    emit({"workload": "w6", "library": library, "version": version,
          "file": os.path.basename(file) if file else "fashion-mnist",
          "seconds": seconds, "median_seconds": statistics.median(seconds)})


if __name__ == "__main__":
    {"gen": gen, "w6": w6}[sys.argv[1]]()
