"""Rebuilds actlab's predictions in numpy from the model file alone (README, "Model files").

Run by .ci/run (not by `cargo test`): python rebuild_prediction.py PATH/TO/actlab
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open

NA = {"", "NA", "N/A", "NaN", "nan", "null", "?", "-"}


def passengers(rows):
    """The README's titanic-like table: an id, numbers, quoted text, categories, NA cells."""
    lines = ["PassengerId,pclass,name,sex,age,embarked,survived"]
    for i in range(rows):
        sex = ["male", "female"][(i * 7 // 3) % 2]
        pclass = 1 + (i * 5) % 3
        age = "NA" if i % 6 == 2 else str(2 + (i * 13) % 60)
        port = ["S", "C", "", "S", "Q"][i % 5]
        survived = int(sex == "female" or (pclass == 1 and i % 3 == 0))
        lines.append(f'{1000 + i},{pclass},"Doe, Jo {i}",{sex},{age},{port},{survived}')
    return "\n".join(lines) + "\n"


def encode(meta, mean, std, row):
    """The README's recipe: one raw row (cell texts by column name) to the first layer's input."""
    out = []
    for column in meta["preprocess"]["columns"]:
        e, cell = column["encoding"], row.get(column["name"], "").strip()
        missing = cell in NA
        if e["type"] == "numeric":
            out.append(e["median"] if missing else float(cell))
            if e["indicator"]:
                out.append(float(missing))
        elif e["type"] == "categorical":
            hot = [0.0] * (len(e["categories"]) + bool(e["other"]) + e["missing"])
            if missing and e["missing"]:
                hot[-1] = 1.0
            elif cell in e["categories"]:
                hot[e["categories"].index(cell)] = 1.0
            elif cell in e["other"]:
                hot[len(e["categories"])] = 1.0
            out += hot
    return (np.array(out, np.float32) - mean) / std


ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "identity": lambda z: z,
}


def main(actlab):
    with tempfile.TemporaryDirectory() as d:
        data, new, model, out = (os.path.join(d, n) for n in ["p.csv", "new.csv", "m.safetensors", "out.csv"])
        with open(data, "w") as f:
            f.write(passengers(90))
        with open(new, "w") as f:
            # semicolons, columns reordered, a missing age, an unknown and a missing port
            f.write("embarked;sex;age;pclass;PassengerId\nX;female;NA;1;7\n;male;30;3;8\nS;female;12;2;9\n")
        run = lambda *args: subprocess.run([actlab, *args], check=True, capture_output=True, text=True)
        run("train", "--data", data, "--target", "survived", "--save", model, "--epochs", "30",
            "--hidden", "8,4", "--activation", "tanh,relu", "--threads", "1")
        run("predict", "--model", model, "--data", new, "--proba", "--keep", "PassengerId", "--out", out)
        with safe_open(model, "np") as f:
            meta = json.loads(f.metadata()["actlab"])
            t = {k: f.get_tensor(k) for k in f.keys()}
        with open(new) as f:
            rows = list(csv.DictReader(f, delimiter=";"))
        with open(out) as f:
            predicted = list(csv.DictReader(f))
        assert len(predicted) == len(rows) == 3
        for row, p in zip(rows, predicted):
            h = encode(meta, t["input.mean"], t["input.std"], row)
            for i, layer in enumerate(meta["layers"]):
                h = ACTIVATIONS[layer["activation"]](h @ t[f"layers.{i}.weight"].T + t[f"layers.{i}.bias"])
            assert p["PassengerId"] == row["PassengerId"], (p, row)
            mine, theirs = float(h[0]), float(p["1"])
            assert abs(mine - theirs) < 1e-5, (row, mine, theirs)
            print(f"row {row['PassengerId']}: numpy {mine:.6f}, actlab {theirs:.6f}")


if __name__ == "__main__":
    main(sys.argv[1])
