"""mlcycle's default `train` against FLAML's AutoML and Optuna's TPE, same split, same time.

    python bench/training.py [--problems binary,digits,...] [--sample-data [--trials 20]]

For each problem (scikit-learn's bundled or generated data) mlcycle trains with its CLI
defaults (every catalog family, successive halving, the default time budget) and its wall
time becomes the budget FLAML's ``AutoML`` and an Optuna TPE study over mlcycle's own catalog
(same families, same parameter spaces, same 5-fold CV) are given. All three are scored on
mlcycle's stored holdout of the same rows: the others train on exactly its training part.
FLAML and Optuna live in ``bench/.env`` (``requirements.txt``); the script re-runs itself
there. ``--sample-data``: the default on the sample data against a plain random search of
``--trials`` parameter sets per family with 5-fold CV (the issue asks for 100: its time is
extrapolated from the measured one, linearly, and said to be).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _ensure_env() -> None:
    try:
        import flaml  # noqa: F401
        import optuna  # noqa: F401
    except ImportError:
        from timing import comparison_env

        python, why = comparison_env("flaml.automl", "optuna", "mlcycle")
        if python is None:
            sys.exit(f"cannot run the comparison: {why}")
        os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def _problems() -> dict:
    """name -> (frame builder, task, metric)."""
    import numpy as np
    import polars as pl
    from sklearn import datasets

    def bundled(loader, task):
        def build():
            data = loader()
            frame = pl.DataFrame(data.data, schema=[f"x{i}" for i in range(data.data.shape[1])])
            target = data.target if task == "regression" else [f"c{v}" for v in data.target]
            return frame.with_columns(pl.Series("target", target))
        return build

    def categorical():
        rng = np.random.default_rng(3)
        n = 8000
        city = rng.choice([f"city{i}" for i in range(12)], n)
        plan = rng.choice(["basic", "plus", "pro", "max"], n, p=[0.4, 0.3, 0.2, 0.1])
        x1, x2 = rng.normal(size=n), rng.uniform(0, 5, n)
        effect = {f"city{i}": v for i, v in enumerate(rng.normal(0, 1, 12))}
        logit = (np.vectorize(effect.get)(city) + np.where(plan == "pro", 1.0, 0.0)
                 + x1 * np.where(plan == "basic", 1.5, -0.5) + np.sin(x2) - 0.3)
        y = rng.random(n) < 1 / (1 + np.exp(-logit))
        return pl.DataFrame({"city": city, "plan": plan, "x1": x1, "x2": x2,
                             "target": np.where(y, "yes", "no")})

    def generated(maker, task, **kw):
        def build():
            X, y = maker(**kw)
            frame = pl.DataFrame(X, schema=[f"x{i}" for i in range(X.shape[1])])
            return frame.with_columns(pl.Series(
                "target", y if task == "regression" else [f"c{v}" for v in y]))
        return build

    return {
        "binary": (bundled(datasets.load_breast_cancer, "classification"), "classification",
                   "roc_auc"),
        "digits": (bundled(datasets.load_digits, "classification"), "classification",
                   "accuracy"),
        "regression": (generated(datasets.make_friedman1, "regression", n_samples=5000,
                                 noise=1.0, random_state=0), "regression", "r2"),
        "categorical": (categorical, "classification", "roc_auc"),
        "large": (generated(datasets.make_classification, "classification", n_samples=60000,
                            n_features=20, n_informative=8, random_state=0), "classification",
                  "roc_auc"),
    }


def _score(metric: str, y, pred, proba, classes) -> float:
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    if metric == "r2":
        return float(r2_score(y, pred))
    if metric == "accuracy":
        return float(accuracy_score(y, pred))
    positive = list(classes).index(sorted(classes)[-1])
    return float(roc_auc_score(y == sorted(classes)[-1], proba[:, positive]))


def _mlcycle(ws, name: str, frame, task: str, metric: str, folder: Path):
    from mlcycle import projects
    from mlcycle.data import datasets
    from mlcycle.models import training

    projects.create(ws, name, target="target", task=task, metric=metric)
    path = folder / f"{name}.csv"
    frame.write_csv(path)
    datasets.add(ws, name, path)
    started = time.monotonic()
    result = training.train(ws, training.TrainConfig(
        name, time_budget=training.DEFAULT_TIME_BUDGET), register=False)
    wall = time.monotonic() - started
    best = result.models[0]
    return best[f"holdout.{metric}"], wall, best["model"], result


def _frames(prepared):
    """Training and holdout parts as pandas, categories typed for FLAML."""
    import pandas as pd

    inputs = pd.DataFrame({c: prepared.inputs[c].to_numpy() for c in prepared.inputs.columns})
    for c in prepared.signature.categorical:
        inputs[c] = inputs[c].astype("category")
    train, hold = ~prepared.holdout, prepared.holdout
    return inputs[train], prepared.y[train], inputs[hold], prepared.y[hold]


def _flaml(prepared, task: str, metric: str, budget: float):
    from flaml import AutoML

    X, y, Xh, yh = _frames(prepared)
    automl = AutoML()
    started = time.monotonic()
    automl.fit(X, y, task="classification" if task == "classification" else "regression",
               metric=metric, time_budget=budget, seed=0, verbose=0)
    wall = time.monotonic() - started
    proba = automl.predict_proba(Xh) if task == "classification" else None
    classes = list(automl.classes_) if task == "classification" else None
    return _score(metric, yh, automl.predict(Xh), proba, classes), wall, automl.best_estimator


def _optuna(prepared, task: str, metric: str, budget: float):
    import optuna
    from threadpoolctl import threadpool_limits

    from mlcycle.models import catalog, training

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sign = -1 if metric in ("rmse", "mae", "log_loss") else 1
    families = catalog.names(task)

    def suggest(trial, entry):
        params = {}
        for key, space in entry.space.items():
            short = f"{entry.name}.{key.removeprefix('model__')}"
            if isinstance(space, list):
                params[key] = trial.suggest_categorical(short, space)
            else:  # scipy's loguniform(a, b)
                low, high = space.support()
                params[key] = trial.suggest_float(short, low, high, log=True)
        return params

    def objective(trial):
        entry = catalog.get(trial.suggest_categorical("family", families), task)
        params = suggest(trial, entry)
        trial.set_user_attr("params", params)
        scores = training.cross_validate(prepared, entry, params, 0, 5)
        return sign * scores[f"cv.{metric}"]

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    started = time.monotonic()
    study.optimize(objective, timeout=budget, catch=(ValueError,))
    best = study.best_trial
    entry = catalog.get(best.params["family"], task)
    model = catalog.pipeline(entry, prepared.signature, 0, best.user_attrs["params"])
    train, hold = ~prepared.holdout, prepared.holdout
    with threadpool_limits(1):
        model.fit(prepared.inputs.filter(train), prepared.y[train])
    wall = time.monotonic() - started
    Xh = prepared.inputs.filter(hold)
    proba = model.predict_proba(Xh) if task == "classification" else None
    classes = list(model.classes_) if task == "classification" else None
    return (_score(metric, prepared.y[hold], model.predict(Xh), proba, classes), wall,
            f"{entry.name} ({len(study.trials)} trials)")


def compare(names: list[str]) -> None:
    from mlcycle.models import training
    from mlcycle.store.workspace import open_workspace

    problems = _problems()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores, shared)")
    print(f"{'problem':12s} {'rows':>6s} {'metric':8s} | {'mlcycle':>8s} {'s':>5s} | "
          f"{'FLAML':>8s} {'s':>5s} | {'Optuna':>8s} {'s':>5s} | {'gap':>7s} {'time':>5s}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ws = open_workspace(folder / "ws", create=True)[0]
        for name in names:
            build, task, metric = problems[name]
            frame = build()
            ours, wall, model, _ = _mlcycle(ws, name, frame, task, metric, folder)
            prepared = training.prepare(ws, name, "latest", 5, None)
            flaml_score, flaml_wall, flaml_model = _flaml(prepared, task, metric, wall)
            optuna_score, optuna_wall, optuna_model = _optuna(prepared, task, metric, wall)
            better = max(flaml_score, optuna_score)
            print(f"{name:12s} {frame.height:6d} {metric:8s} | {ours:8.4f} {wall:5.1f} | "
                  f"{flaml_score:8.4f} {flaml_wall:5.1f} | {optuna_score:8.4f} "
                  f"{optuna_wall:5.1f} | {ours - better:+7.4f} "
                  f"{wall / max(flaml_wall, optuna_wall):5.2f}x", flush=True)
            print(f"{'':12s} models: mlcycle {model}, FLAML {flaml_model}, "
                  f"Optuna {optuna_model}; load {os.getloadavg()[0]:.1f}", flush=True)
    print("gap: mlcycle's holdout score minus the better of FLAML and Optuna (goal >= -0.005);"
          " time: mlcycle's wall over the slower other's (goal <= 1)")


def sample_data(trials: int) -> None:
    """The default on the sample data against a plain random search of ``trials`` per family."""
    import numpy as np
    from sklearn.model_selection import ParameterSampler

    from mlcycle import demo
    from mlcycle.models import catalog, evaluation, threads, training
    from mlcycle.store.workspace import open_workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "ws", create=True)[0]
        demo.build(ws)
        started = time.monotonic()
        result = training.train(ws, training.TrainConfig(
            demo.PROJECT, time_budget=training.DEFAULT_TIME_BUDGET), register=False)
        wall = time.monotonic() - started
        best = result.models[0]
        print(f"default: {best['model']} holdout roc_auc {best['holdout.roc_auc']:.4f} "
              f"in {wall:.1f}s ({result.trials_finished} trials)")
        prepared = training.prepare(ws, demo.PROJECT, "latest", 5, None)
        started, leader = time.monotonic(), (-np.inf, None, None)
        for name in catalog.names("classification"):
            entry = catalog.get(name, "classification")
            sampled = list(ParameterSampler(entry.space, n_iter=trials, random_state=0))
            grid = all(isinstance(v, list) for v in entry.space.values())
            if grid:
                sampled = sampled[:trials]
            for params in sampled:
                cv = training.cross_validate(prepared, entry, params, 0, 5)["cv.roc_auc"]
                if cv > leader[0]:
                    leader = (cv, entry, params)
        cv, entry, params = leader
        model = catalog.pipeline(entry, prepared.signature, 0, params)
        train, hold = ~prepared.holdout, prepared.holdout
        with threads.fitting():
            model.fit(prepared.inputs.filter(train), prepared.y[train])
        Xh = prepared.inputs.filter(hold)
        held = evaluation.scores("classification", prepared.y[hold], model.predict(Xh),
                                 model.predict_proba(Xh), list(model.classes_))["roc_auc"]
        search_wall = time.monotonic() - started
        # The search is 100 per family; fewer are timed and scaled up, and said to be.
        hundred = search_wall * 100 / trials
        how = "measured" if trials == 100 else "extrapolated linearly"
        print(f"random search, {trials} per family: {entry.name} cv {cv:.4f} holdout roc_auc "
              f"{held:.4f} in {search_wall:.0f}s; at 100 per family {hundred:.0f}s ({how})")
        print(f"gap {best['holdout.roc_auc'] - held:+.4f} (goal >= -0.005); time "
              f"{wall / hundred:.3f}x of the 100-trial search ({how}; goal <= 0.1); "
              f"load {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="binary,digits,regression,categorical,large")
    parser.add_argument("--sample-data", action="store_true")
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    _ensure_env()
    if args.sample_data:
        sample_data(args.trials)
    else:
        compare(args.problems.split(","))


if __name__ == "__main__":
    main()
