"""Performance estimated without labels: mlcycle against NannyML on the same shifted batches.

For each task (binary: breast cancer, five of its inputs; multiclass: digits; regression:
diabetes, all shipped with scikit-learn) and each of ``--splits`` random splits, a model is
fitted on a third of the rows, the estimators on another third (the reference: mlcycle's
holdout), and batches of ``--batch`` rows are drawn from the last third under a covariate
shift: rows are sampled without replacement with a weight exp(s · z) on one standardised
input (the one most correlated with the target), s from -2 to 2 across the batches, so the
true performance moves. On every batch:

* mlcycle's estimate (``mlcycle.monitor.estimators``, the path ``mlcycle monitor`` takes:
  CBPE for classifiers, DLE for regression) and its 95 % interval;
* NannyML's CBPE / DLE (fitted on the same reference, the batches as its chunks), run
  from ``bench/.env`` (installed on first use from ``bench/requirements.txt``);
* the realized metric from the batch's labels.

It prints each tool's mean absolute estimation error per task and metric, and the share of
batches whose realized metric lies in mlcycle's interval (goal: 95 %; NannyML's own band,
± 3 sampling errors, beside it for the record).

    python bench/estimation.py [--splits 5] [--batches 20] [--batch 50]

Goal: mlcycle's error no worse than NannyML's on all three tasks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import comparison_env

from mlcycle.models import evaluation
from mlcycle.models.model_input import Signature
from mlcycle.monitor import estimators

METRICS = {"binary": ["roc_auc", "accuracy", "f1"], "multiclass": ["accuracy", "f1", "roc_auc"],
           "regression": ["mae", "rmse"]}

# On all its inputs breast cancer is too easy (ROC AUC 0.99-1.00 on every batch, whatever the
# shift): five weaker ones leave a ROC AUC of about 0.90 for the shift to move.
WEAKER = ["mean texture", "mean smoothness", "mean symmetry", "mean fractal dimension",
          "texture error"]

NANNYML_SCRIPT = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml

out = {}
for case in json.loads(open(sys.argv[1]).read()):
    ref = pd.read_parquet(case["reference"]); ana = pd.read_parquet(case["analysis"])
    if case["task"] == "regression":
        est = nml.DLE(feature_column_names=case["features"], y_pred="y_pred", y_true="y_true",
                      metrics=case["metrics"], chunk_size=case["batch"])
    else:
        classes = case["classes"]
        proba = (f"p_{classes[1]}" if case["task"] == "binary"
                 else {c: f"p_{c}" for c in classes})
        est = nml.CBPE(y_pred_proba=proba, y_pred="y_pred", y_true="y_true",
                       metrics=case["metrics"], chunk_size=case["batch"],
                       problem_type="classification_" + case["task"])
    est.fit(ref)
    frame = est.estimate(ana).to_df()
    if ("chunk", "period") in frame.columns:
        frame = frame[frame[("chunk", "period")] == "analysis"]
    out[case["name"]] = {m: {"value": frame[(m, "value")].tolist(),
                             "sampling_error": frame[(m, "sampling_error")].tolist()}
                         for m in case["metrics"]}
open(sys.argv[2], "w").write(json.dumps(out))  # NannyML prints to stdout itself
"""


def datasets() -> dict[str, tuple[pl.DataFrame, np.ndarray]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

    out = {}
    for task, loader in (("binary", load_breast_cancer), ("multiclass", load_digits),
                         ("regression", load_diabetes)):
        bunch = loader()
        names = [str(n) for n in bunch.feature_names]
        x = pl.DataFrame(bunch.data, schema=names, orient="row")
        out[task] = (x.select(WEAKER) if task == "binary" else x, bunch.target)
    return out


def model(task: str):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    last = Ridge(alpha=1.0) if task == "regression" else LogisticRegression(C=0.1, max_iter=2000)
    return make_pipeline(StandardScaler(), last)


def predict(fitted, task: str, x: pl.DataFrame, classes: list[str]) -> dict[str, np.ndarray]:
    if task == "regression":
        return {"value": fitted.predict(x.to_numpy()).astype(np.float64)}
    proba = fitted.predict_proba(x.to_numpy())
    return {"label": np.array(classes)[proba.argmax(axis=1)], "proba": proba}


def realized(task: str, metric: str, y: np.ndarray, pred: dict[str, np.ndarray],
             classes: list[str]) -> float:
    """The metric on the batch's labels; NaN when it has none (a multiclass ROC AUC needs
    every class in the batch): such batches are left out of the comparison."""
    if task == "regression":
        return evaluation.scores("regression", y, pred["value"], only=metric)[metric]
    return evaluation.scores("classification", y, pred["label"], pred["proba"], classes,
                             only=metric).get(metric, float("nan"))


def shifted_batches(pool: int, z: np.ndarray, count: int, size: int,
                    rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for s in np.linspace(-2, 2, count):
        weight = np.exp(s * z)
        # Without replacement: a row drawn twice would repeat its label, and the batch would
        # hold fewer independent outcomes than rows (a realized metric noisier than any
        # estimator's interval for that many rows says).
        out.append(rng.choice(pool, size, replace=False, p=weight / weight.sum()))
    return out


def run_case(task: str, x: pl.DataFrame, target: np.ndarray, split: int, args, folder: Path
             ) -> tuple[dict, dict]:
    rng = np.random.default_rng(split)
    order = rng.permutation(len(target))
    third = len(order) // 3
    train, ref, pool = order[:third], order[third:2 * third], order[2 * third:]
    y = target.astype(np.float64) if task == "regression" else target.astype(str)
    classes = [] if task == "regression" else sorted(set(y), key=lambda c: int(c))
    if task == "binary":
        classes = ["0", "1"]
    fitted = model(task).fit(x[train].to_numpy(), y[train])
    # The shifted input: the one most correlated with the target in the pool.
    values = x[pool].to_numpy()
    corr = [abs(np.corrcoef(values[:, j], target[pool])[0, 1]) if values[:, j].std() > 0
            else 0 for j in range(values.shape[1])]
    column = values[:, int(np.nanargmax(corr))]
    z = (column - column.mean()) / column.std()
    batches = shifted_batches(len(pool), z, args.batches, args.batch, rng)

    signature = Signature(list(x.columns), [], "y", "classification" if classes else
                          "regression", classes)
    ref_x, ref_pred = x[ref], predict(fitted, task, x[ref], classes)
    ours: dict[str, dict[str, list[float]]] = {}
    truth: dict[str, list[float]] = {}
    for metric in METRICS[task]:
        anchor = evaluation.bootstrap_se(
            signature.task, metric, y[ref], ref_pred.get("value", ref_pred.get("label")),
            ref_pred.get("proba"), classes or None)
        estimator = estimators.fit(signature, metric, ref_x, ref_pred, y[ref], anchor)
        got = {"value": [], "low": [], "high": []}
        truth[metric] = []
        for rows in batches:
            batch_x = x[pool[rows]]
            pred = predict(fitted, task, batch_x, classes)
            figure = estimator.estimate(batch_x, pred)
            got["value"].append(figure.value)
            got["low"].append(figure.low)
            got["high"].append(figure.high)
            truth[metric].append(realized(task, metric, y[pool[rows]], pred, classes))
        ours[metric] = got

    def frame(rows: np.ndarray, pred: dict[str, np.ndarray]) -> pl.DataFrame:
        out = x[rows].with_columns(pl.Series("y_true", y[rows]))
        if task == "regression":
            return out.with_columns(pl.Series("y_pred", pred["value"]))
        out = out.with_columns(pl.Series("y_pred", pred["label"]))
        if task == "binary":  # NannyML's binary labels are 0/1
            out = out.with_columns(pl.col("y_true", "y_pred").cast(pl.Int64))
        return out.with_columns(pl.Series(f"p_{c}", pred["proba"][:, i])
                                for i, c in enumerate(classes))

    name = f"{task}-{split}"
    ref_path, ana_path = folder / f"{name}-ref.parquet", folder / f"{name}-ana.parquet"
    frame(ref, ref_pred).write_parquet(ref_path)
    analysed = np.concatenate([pool[rows] for rows in batches])
    frame(analysed, predict(fitted, task, x[analysed], classes)).write_parquet(ana_path)
    case = {"name": name, "task": task, "reference": str(ref_path), "analysis": str(ana_path),
            "features": list(x.columns), "classes": classes, "metrics": METRICS[task],
            "batch": args.batch}
    return case, {"ours": ours, "truth": truth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    py, reason = comparison_env("nannyml", "pandas")
    if py is None:
        sys.exit(f"NannyML unavailable: {reason}")
    results, cases = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for task, (x, target) in datasets().items():
            for split in range(args.splits):
                case, result = run_case(task, x, target, split, args, folder)
                cases.append(case)
                results[case["name"]] = result
        (folder / "cases.json").write_text(json.dumps(cases))
        proc = subprocess.run([str(py), "-c", NANNYML_SCRIPT, str(folder / "cases.json"),
                               str(folder / "nannyml.json")],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"NannyML failed: {proc.stderr.strip().splitlines()[-1:]}")
        theirs = json.loads((folder / "nannyml.json").read_text())
    print(f"{args.splits} splits x {args.batches} shifted batches of {args.batch} rows per task")
    print(f"  {'task':<11} {'metric':<9} {'mlcycle err':>11} {'NannyML err':>11} "
          f"{'mlcycle cover':>13} {'NannyML ±3se cover':>18} {'realized range':>16}")
    for task in METRICS:
        for metric in METRICS[task]:
            ours_err, their_err, inside, their_inside, seen = [], [], [], [], []
            for split in range(args.splits):
                name = f"{task}-{split}"
                truth = np.array(results[name]["truth"][metric])
                ours = results[name]["ours"][metric]
                value = np.array(ours["value"])
                theirs_v = np.array(theirs[name][metric]["value"])
                theirs_se = np.array(theirs[name][metric]["sampling_error"])
                ours_err.append(np.abs(value - truth))
                their_err.append(np.abs(theirs_v - truth))
                inside.append((np.array(ours["low"]) <= truth) & (truth <= np.array(ours["high"])))
                their_inside.append(np.abs(theirs_v - truth) <= 3 * theirs_se)
                seen.append(truth)
            every = np.concatenate(seen)
            known = np.isfinite(every)
            print(f"  {task:<11} {metric:<9} {np.mean(np.concatenate(ours_err)[known]):>11.4f} "
                  f"{np.mean(np.concatenate(their_err)[known]):>11.4f} "
                  f"{np.mean(np.concatenate(inside)[known]):>13.1%} "
                  f"{np.mean(np.concatenate(their_inside)[known]):>18.1%} "
                  f"{every[known].min():>7.3f}-{every[known].max():<8.3f}")


if __name__ == "__main__":
    main()
