"""actlab against scikit-learn's standard pipeline on public tables with strings and missing
cells, on the same splits and seeds. Run by bench/tables/run; prints a Markdown table.

For each table and seed: an 80/20 split (stratified for classes) written to CSV; actlab is run as
a user would, `actlab train --data train.csv --test test.csv --target Y [--drop ID] --save m` then
`actlab eval --model m --data test.csv --json`; scikit-learn gets
ColumnTransformer(numeric: SimpleImputer(median) + StandardScaler,
categorical: SimpleImputer(constant) + OneHotEncoder(handle_unknown="ignore")) followed by its
MLPClassifier or MLPRegressor with default settings (the regressor's target standardized by
TransformedTargetRegressor, as any user of it must) and the same random_state.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tables import TABLES


def sklearn_score(task, train, test, target, drop, seed):
    x_train = train.drop(columns=[target, *drop])
    x_test = test.drop(columns=[target, *drop])
    numeric = [c for c in x_train.columns if x_train[c].dtype.kind in "if"]
    categorical = [c for c in x_train.columns if c not in numeric]
    columns = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), categorical),
    ])
    if task == "classification":
        model = make_pipeline(columns, MLPClassifier(random_state=seed))
        model.fit(x_train, train[target].astype(str))
        return accuracy_score(test[target].astype(str), model.predict(x_test))
    model = TransformedTargetRegressor(make_pipeline(columns, MLPRegressor(random_state=seed)),
                                       transformer=StandardScaler())
    model.fit(x_train, train[target])
    return r2_score(test[target], model.predict(x_test))


def actlab_score(actlab, task, workdir, target, drop, seed):
    model = workdir / "model.safetensors"
    # --test: the model is trained on the whole training file, as scikit-learn's is (without it,
    # actlab holds out 20 % of the file to score).
    train = [actlab, "train", "--data", str(workdir / "train.csv"), "--test", str(workdir / "test.csv"),
             "--target", target, "--seed", str(seed), "--save", str(model)]
    if drop:
        train += ["--drop", ",".join(drop)]
    subprocess.run(train, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run([actlab, "eval", "--model", str(model), "--data", str(workdir / "test.csv"),
                          "--json"], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return report["test_accuracy" if task == "classification" else "test_r2"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--actlab", required=True, help="the actlab binary")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    print("| table | rows | task | metric | actlab (mean ± sd) | scikit-learn (mean ± sd) | actlab − sklearn |")
    print("|---|---|---|---|---|---|---|")
    for name, task, target, drop, load in TABLES:
        frame = load()
        frame = frame[frame[target].notna()].reset_index(drop=True)
        ours, theirs = [], []
        for seed in range(args.seeds):
            train, test = train_test_split(
                frame, test_size=0.2, random_state=seed,
                stratify=frame[target] if task == "classification" else None)
            with tempfile.TemporaryDirectory() as tmp:
                workdir = Path(tmp)
                train.to_csv(workdir / "train.csv", index=False)
                test.to_csv(workdir / "test.csv", index=False)
                ours.append(actlab_score(args.actlab, task, workdir, target, drop, seed))
            theirs.append(sklearn_score(task, train, test, target, drop, seed))
            print(f"{name} seed {seed}: actlab {ours[-1]:.4f} scikit-learn {theirs[-1]:.4f}",
                  file=sys.stderr)
        metric = "accuracy" if task == "classification" else "R²"
        sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
        print(f"| {name} | {len(frame)} | {task} | {metric} | {np.mean(ours):.4f} ± {sd(ours):.4f} "
              f"| {np.mean(theirs):.4f} ± {sd(theirs):.4f} | {np.mean(ours) - np.mean(theirs):+.4f} |")


if __name__ == "__main__":
    main()
