"""W7: times one whole process, from its start to its exit (interpreter start, imports, loading
the data, training, testing), and prints one JSON line with the wall clock, the process's peak
memory and what its own last JSON line says about epochs and test accuracy.

  wall.py -- target/release/actlab train --data DIR ... --json
  wall.py -- bench/.venv/bin/python bench/peers/sklearn_peer.py w7 --epochs 10
"""

import json
import resource
import subprocess
import sys
import time

command = sys.argv[sys.argv.index("--") + 1:]
start = time.perf_counter()
stdout = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
seconds = time.perf_counter() - start
last = json.loads(stdout.strip().splitlines()[-1])
print(json.dumps({"workload": "w7", "epochs": last["epochs"], "wall_seconds": seconds,
                  "test_accuracy": last["test_accuracy"],
                  "max_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}), flush=True)
