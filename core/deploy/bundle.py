"""Deployment (lifecycle stage 7): a registered pipeline as one ONNX graph, proven and bundled.

Export converts the whole pipeline (imputation, scaling, one-hot encoding and the estimator)
with skl2onnx, then proves parity before anything is written: the graph and the scikit-learn
pipeline score the version's stored holdout and must agree within the bound derived for the
model's kind (``mlcycle.models.parity``: trees x classes summed in float32 then a softmax,
linear terms, neighbour votes), the labels identical away from near-ties. The figures, the
bound's derivation among them, are stored with the export in the workspace (``onnx_exports``)
and shown wherever the version is. The conversion and the check are
``mlcycle.models.exportable``'s, which training runs on every model before registering it.

A bundle is a folder holding exactly ``model.onnx``, ``signature.json``, ``metadata.json``,
``README.md``, the standalone server (``server.py`` and ``oip.py``, see
``mlcycle.deploy.oip_server``), a ``Dockerfile`` for it, with ``--kserve`` an
``inferenceservice.yaml`` (``mlcycle.deploy.kserve``), and ``manifest.json`` (sha256 of the
others, and ``"format": "mlcycle-bundle"``). It is written to a temporary sibling folder and
renamed into place, so a reader never sees half a bundle. ``--force`` replaces a folder only
when it is such a bundle and holds nothing else, so no other folder can be lost to a mistyped
``--out``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.data import datasets
from mlcycle.data.columns import by_name
from mlcycle.deploy import kserve as kserving
from mlcycle.deploy import onnx_export, standalone
from mlcycle.deploy.results import BundleCheck, ExportResult, KServeFile, SmokeTest
from mlcycle.models import exportable, model_input, registry, time_inputs
from mlcycle.models.exportable import signature_of, training_data
from mlcycle.models.parity import line as parity_line
from mlcycle.store import cancel as cancelling
from mlcycle.store import events
from mlcycle.store.errors import InvalidInput, NotFound
from mlcycle.store.schema import iso, utcnow
from mlcycle.store.sql import fetch_one

if TYPE_CHECKING:
    from mlcycle.store.cancel import CancelToken
    from mlcycle.store.workspace import Workspace

BUNDLE_FILES = ("model.onnx", "signature.json", "metadata.json", "README.md")
# The standalone server and its container; bundles exported before them lack these three.
SERVER_FILES = ("server.py", "oip.py", "Dockerfile")
# Written only by 'export --kserve'.
OPTIONAL_FILES = (*SERVER_FILES, kserving.FILE)
MANIFEST = "manifest.json"
BUNDLE_FORMAT = "mlcycle-bundle"
SMOKE_ROWS = 5
Note = Callable[[str], None]


@dataclass
class Export:
    """A version's parity-checked ONNX graph, stored in the workspace."""

    project: str
    version: int
    path: str
    sha256: str
    size_bytes: int
    seconds: float
    parity: dict[str, Any]
    created_at: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "export_seconds": round(self.seconds, 3),
            "parity": self.parity,
            "created_at": iso(self.created_at),
        }


# -- what a version was trained on --------------------------------------------------------


def identifier_of(ws: Workspace, version: registry.ModelVersion) -> str | None:
    """The identifier column of the version's training data (the data dictionary's role)."""
    dataset_id = version.summary.get("lineage", {}).get("dataset")
    if not dataset_id:
        return None
    dictionary = datasets.dictionary(ws, version.project, dataset_id)
    return next((c["name"] for c in dictionary if c["role"] == "identifier"), None)


# -- export and parity --------------------------------------------------------------------


def outputs(signature: model_input.Signature) -> list[str]:
    """The graph's output names: labels and probabilities, or predicted values."""
    return ["label", "probabilities"] if signature.task == "classification" else ["variable"]


def get_export(ws: Workspace, project: str, version: int) -> Export | None:
    with ws.read() as con:
        row = fetch_one(
            con,
            "SELECT project, version, path, sha256, size_bytes, seconds, parity, created_at "
            "FROM onnx_exports WHERE project = ? AND version = ?",
            [project, version],
        )
    if row is None:
        return None
    return Export(*row[:6], json.loads(row[6]), row[7])


def exports(ws: Workspace, project: str) -> list[Export]:
    """Every exported version of the project, newest version first."""
    with ws.read() as con:
        rows = con.execute(
            "SELECT project, version, path, sha256, size_bytes, seconds, parity, created_at "
            "FROM onnx_exports WHERE project = ? ORDER BY version DESC",
            [project],
        ).fetchall()
    return [Export(*r[:6], json.loads(r[6]), r[7]) for r in rows]


def build(ws: Workspace, project: str, ref: str = registry.CHAMPION, *,
          note: Note | None = None, cancel: CancelToken | None = None) -> Export:
    """The version's ONNX graph, converted and parity-checked once, then reused.

    Raises ``InvalidInput`` saying by how much when parity fails; nothing is stored then.
    ``note`` hears each step and the parity figures; cancelling stops between the steps,
    before anything is stored.
    """
    say = note or (lambda _text: None)
    version = registry.get(ws, project, ref)
    found = get_export(ws, project, version.version)
    if found is not None:
        say(f"v{version.version} was converted before; {parity_line(found.parity)}")
        return found
    say(f"converting v{version.version} to ONNX")
    pipeline, signature, holdout = exportable.holdout_of(ws, version)
    cancelling.check(cancel)
    say(f"checking parity on {holdout.height} holdout rows")
    verdict = exportable.check(pipeline, signature, holdout)
    if verdict.graph is None:
        exportable.remember(ws, version.run_id, verdict)
        raise InvalidInput(f"cannot convert version {version.version} to ONNX: "
                           f"{verdict.figures['error']}; {exportable.what_to_do(project)}")
    figures, model, seconds = verdict.figures, verdict.graph, verdict.seconds
    say(parity_line(figures) + ("" if figures["passed"] else ": refused"))
    if not figures["passed"]:
        exportable.remember(ws, version.run_id, verdict)
        raise InvalidInput(f"export of version {version.version} refused: {verdict.reason}; "
                           f"{exportable.what_to_do(project)}")
    cancelling.check(cancel)  # the last point before anything is stored
    sha = hashlib.sha256(model).hexdigest()
    relpath = f"onnx/{sha}.onnx"
    temp = ws.temp_path(".onnx")
    temp.write_bytes(model)
    ws.commit_file(temp, relpath)
    with ws.write() as con:
        con.execute(
            "INSERT INTO onnx_exports VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [project, version.version, relpath, sha, len(model), seconds,
             json.dumps(figures), utcnow()],
        )
        events.record(con, "deploy.converted", project=project, subject=f"v{version.version}",
                      detail={"parity": figures, "size_bytes": len(model)})
    stored = get_export(ws, project, version.version)
    assert stored is not None
    return stored


def onnx_bytes(ws: Workspace, export: Export) -> bytes:
    """The stored graph, after checking it is the one that passed parity."""
    return ws.verified_bytes(export.path, export.sha256,
                             f"the ONNX file of version {export.version}")


# -- the bundle ---------------------------------------------------------------------------


def bundle_signature(signature: model_input.Signature) -> dict[str, Any]:
    """What a scorer outside mlcycle needs: inputs with types and categories, outputs.

    Each input names its graph input (``name``) and the data column it is fed from
    (``column``); they differ when the column's name is not a plain identifier.
    """
    names = signature.graph_inputs
    return {
        "inputs": [
            {"name": names[c], "column": c, "type": "float32", "shape": [None, 1]}
            for c in signature.numeric
        ] + [
            {"name": names[c], "column": c, "type": "string", "shape": [None, 1],
             "categories": signature.categories.get(c, []),
             "missing": model_input.MISSING_CATEGORY}
            for c in signature.categorical
        ],
        "outputs": outputs(signature),
        "task": signature.task,
        "target": signature.target,
        "classes": signature.classes,
        "label_type": signature.label_type if signature.task == "classification" else None,
        "unseen_categories": "ignored (all one-hot columns zero), as in training",
        "feature_set": signature.feature_set,
        "model_input": signature.to_dict(),
    }


_README = """# {project} v{version} — ONNX bundle

Model `{model}` for the {task} of `{target}`, exported by mlcycle on {created}.
Files: `model.onnx` (the whole pipeline, preprocessing included), `signature.json` (inputs,
types, allowed categories, outputs), `metadata.json` (metrics, lineage, parity, the reference
profile for drift monitoring), `manifest.json` (sha256 of each file).

One graph input per column: `float32` for numbers (booleans as 0/1, missing as NaN), `string`
for categories (missing as ""; unseen categories are ignored as in training), shape [n, 1].
Each input in `signature.json` gives its graph input `name` and the data `column` it is fed
from; they differ where a column's name is not a plain identifier. A classifier's `label`
output has the target's type (`label_type` in `signature.json`): int64 for integer classes,
bool for booleans, string for text.
{feature_note}
Score it with onnxruntime alone:

```python
import json, numpy as np, onnxruntime as ort
sig = json.load(open("signature.json"))
sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
rows = {example}
feeds = {{i["name"]: np.array([[r[i["column"]]] for r in rows],
         dtype=np.float32 if i["type"] == "float32" else object) for i in sig["inputs"]}}
out = sess.run(None, feeds)
print(dict(zip(sig["outputs"], (o.tolist() for o in out))))
```

Parity with the scikit-learn pipeline on the holdout ({rows} rows): {parity}.

## Serve it without mlcycle

`server.py` needs Python, numpy and onnxruntime only; it checks the files' hashes against
`manifest.json`, then speaks the Open Inference Protocol v2 (as KServe and Triton do), on
loopback unless told otherwise:

```sh
python server.py --host 127.0.0.1 --port 8080
curl -s localhost:8080/v2/models/{project}          # inputs (one per column) and outputs
curl -s localhost:8080/openapi.json
```

`POST /v2/models/{project}/infer` takes one input per column, named as the data names it,
shape `[rows, 1]`, `FP32` or `BYTES`, `null` (or NaN) for a missing value:

```json
{infer_example}
```
{feature_server_note}
It also takes the binary tensor data extension, as Triton's Python client sends tensors by
default (`tritonclient.http`: `InferInput.set_data_from_numpy`, NaN for a missing number),
and answers outputs in binary when asked.

The `Dockerfile` runs the same server in a container (numpy {numpy}, onnxruntime
{onnxruntime}): `docker build -t {image} . && docker run --rm -p 8080:8080 {image}`.{kserve_note}
"""


def _parity_text(figures: dict[str, Any]) -> str:
    if "label_mismatches" in figures:
        text = (f"{figures['label_mismatches']} labels differ, probabilities within "
                f"{figures['max_abs_proba_diff']:.2g}")
    elif "max_rel_diff" in figures:  # checked before bounds were derived per model
        return f"values within {figures['max_rel_diff']:.2g} relative"
    else:
        text = f"values within {figures['max_abs_diff']:.3g}"
    if "bound" not in figures:
        return text
    b = figures["bound"]
    return (f"{text}, allowed {figures['tolerance']:.2g}: the {b['kind']} bound, "
            f"{b['slope']:g} x {b['terms']} float32 terms x 2^-24 x magnitude "
            f"{b['magnitude']:.3g} (see `metadata.json`, `parity.bound`)")


def export(ws: Workspace, project: str, ref: str, out: str | Path,
           force: bool = False, *, kserve: bool = False, note: Note | None = None,
           cancel: CancelToken | None = None) -> ExportResult:
    """Write the bundle of a version to ``out`` (a new or empty folder, or ``force``);
    with ``kserve``, its ``inferenceservice.yaml`` too (``mlcycle.deploy.kserve``).

    ``note`` hears each step, the parity figures among them. Cancelling stops between the
    steps; the bundle is renamed into place only at the end, so a cancelled export leaves no
    folder (a graph that passed parity is kept in the workspace, to be reused)."""

    from mlcycle import drift
    from mlcycle.store import safety

    target_dir = safety.output_path(out, "--out", workspace=ws.root)
    if target_dir.exists() and not target_dir.is_dir():
        raise InvalidInput(f"{out} is a file; give a folder for the bundle")
    if target_dir.exists() and any(target_dir.iterdir()):
        if not force:
            raise InvalidInput(f"{out} is not empty; pass --force to replace it")
        _check_replaceable(target_dir, out)
    safety.sweep(target_dir.parent)  # what killed exports left beside it
    version = registry.get(ws, project, ref)
    started = time.perf_counter()
    exported = build(ws, project, str(version.version), note=note, cancel=cancel)
    cancelling.check(cancel)
    say = note or (lambda _text: None)
    say("writing the bundle (reference profile, smoke rows)")
    model = onnx_bytes(ws, exported)
    signature = signature_of(ws, version)
    _, raw, _, mask = training_data(ws, version, signature)
    training_rows = raw.filter(~mask)
    # Profiled as monitoring compares a batch: a date as itself, not the parts derived from
    # it, which move on with time (mlcycle.models.time_inputs).
    train_inputs = time_inputs.frame(model_input.frame(training_rows, signature),
                                     training_rows, signature)
    reference = drift.profile(model_input.as_booleans(
        train_inputs, model_input.boolean_inputs(raw, signature)))
    smoke_inputs = model_input.frame(raw.filter(mask).head(SMOKE_ROWS), signature)
    smoke_out = onnx_export.run(onnx_export.session(model), smoke_inputs, signature)
    example = smoke_inputs.head(2).with_columns(by_name(c).fill_nan(None)
                                                for c in signature.numeric).to_dicts()
    metadata = {
        "project": project,
        "version": version.version,
        "model": version.summary.get("model"),
        "aliases": version.aliases,
        "metrics": version.summary.get("metrics", {}),
        "params": version.summary.get("params", {}),
        "lineage": version.summary.get("lineage", {}),
        "model_sha256": version.sha256,
        "parity": exported.parity,
        "onnx_opset": onnx_export.OPSET,
        "exported_at": iso(exported.created_at),
        "reference_profile": reference.to_dict(),
        "server": standalone.pins(),
        "smoke_test": {
            "inputs": smoke_inputs.with_columns(by_name(c).fill_nan(None)
                                                for c in signature.numeric).to_dicts(),
            "outputs": [o.tolist() for o in smoke_out],
        },
    }
    feature_note = (
        f"\nThe model's inputs are computed from raw rows by feature set "
        f"`{signature.feature_set.get('name')}` (see `signature.json`, `feature_set`); "
        "`mlcycle predict` applies it, a plain onnxruntime caller must compute those columns.\n"
        if signature.feature_set else ""
    )
    # Python literals keyed by the data's columns, whatever characters they hold; a missing
    # number is None, which numpy reads as NaN in a float32 array (and JSON's null).
    shown = [{k: round(v, 6) if k in signature.numeric and v is not None else v
              for k, v in r.items()} for r in example]
    readme = _README.format(
        project=project, version=version.version, model=metadata["model"], task=signature.task,
        target=signature.target, created=metadata["exported_at"], feature_note=feature_note,
        example=repr(shown),
        rows=exported.parity["rows"], parity=_parity_text(exported.parity),
        infer_example=json.dumps(standalone.infer_body(shown[:1], bundle_signature(
            signature)), ensure_ascii=False),
        feature_server_note=("\nThe server's inputs are the graph's: the feature set's "
                             "derived columns included.\n" if signature.feature_set else ""),
        image=standalone.image(project, version.version), **metadata["server"],
        kserve_note=(f"\n`{kserving.FILE}` runs that image on KServe (see its first lines)."
                     if kserve else ""),
    )
    contents = {
        "model.onnx": model,
        "signature.json": _json_bytes(bundle_signature(signature)),
        "metadata.json": _json_bytes(metadata),
        "README.md": readme.encode("utf-8"),
    }
    contents.update(standalone.files(project, version.version, metadata["server"],
                                     BUNDLE_FILES))
    percent = kserving.canary_percent(ws, project, version.version) if kserve else None
    if kserve:
        contents[kserving.FILE] = kserving.inference_service(
            project, version.version, percent).encode("utf-8")
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    manifest = {"format": BUNDLE_FORMAT, **hashes}
    temp = target_dir.parent / safety.temp_name(f".{target_dir.name}.", ".tmp")
    cancelling.check(cancel)
    temp.mkdir(parents=True)
    try:
        for name, data in {**contents, MANIFEST: _json_bytes(manifest)}.items():
            with open(temp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        cancelling.check(cancel)  # the temporary folder goes; nothing is in place yet
        if target_dir.exists():
            old = target_dir.parent / safety.temp_name(f".{target_dir.name}.", ".old")
            os.replace(target_dir, old)
            os.replace(temp, target_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, target_dir)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    with ws.write() as con:
        events.record(con, "deploy.exported", project=project, subject=f"v{version.version}",
                      detail={"out": str(target_dir), "sha256": exported.sha256})
    return ExportResult(
        exported.project, exported.version, exported.sha256, exported.size_bytes,
        round(exported.seconds, 3), exported.parity, iso(exported.created_at), str(target_dir),
        hashes, KServeFile(str(target_dir / kserving.FILE), percent) if kserve else None,
        round(time.perf_counter() - started, 3))


def _check_replaceable(folder: Path, out: str | Path) -> None:
    """Refuse to replace ``folder`` unless it is an mlcycle bundle and holds nothing else."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        manifest = None
    # Bundles written before the format marker: their manifest is exactly the four hashes.
    legacy = isinstance(manifest, dict) and set(manifest) == set(BUNDLE_FILES)
    if not legacy and not (isinstance(manifest, dict)
                           and manifest.get("format") == BUNDLE_FORMAT):
        raise InvalidInput(f"{out} is not an mlcycle bundle (its {MANIFEST} does not say so); "
                           "--force replaces only a bundle: choose a new or empty folder")
    foreign = sorted(p.name for p in folder.iterdir()
                     if p.name not in (*BUNDLE_FILES, *OPTIONAL_FILES, MANIFEST) or (p.is_dir()
                                                                   and not p.is_symlink()))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                          if len(foreign) > 5 else "")
        raise InvalidInput(f"{out} holds more than a bundle ({shown}); --force replaces only "
                           "a bundle: move those out first")


def _json_bytes(obj: Any) -> bytes:
    # Sorted keys and no timestamps beyond the stored export time: the same version always
    # gives the same bytes, so a bundle's hashes say whether anything changed.
    return (json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
            ).encode("utf-8")


# -- verification -------------------------------------------------------------------------

# Run in a fresh interpreter with onnxruntime and numpy only, as a deployment target would.
_SMOKE = """
import json, sys
import numpy as np
import onnxruntime as ort
folder = sys.argv[1]
sig = json.load(open(folder + "/signature.json"))
meta = json.load(open(folder + "/metadata.json"))
smoke = meta["smoke_test"]
sess = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
rows = smoke["inputs"]
feeds = {}
for i in sig["inputs"]:
    column = i.get("column", i["name"])  # bundles before 'column' named inputs by column
    if i["type"] == "float32":
        vals = [np.nan if r[column] is None else r[column] for r in rows]
        feeds[i["name"]] = np.array(vals, dtype=np.float32).reshape(-1, 1)
    else:
        feeds[i["name"]] = np.array([r[column] for r in rows], dtype=object).reshape(-1, 1)
out = sess.run(None, feeds)
worst = 0.0
for got, want in zip(out, smoke["outputs"]):
    got = np.asarray(got)
    if got.dtype.kind in "OUS":
        if [str(v) for v in got.ravel()] != [str(v) for v in np.asarray(want).ravel()]:
            print(json.dumps({"ok": False, "why": "labels differ"})); sys.exit(1)
    else:
        worst = max(worst, float(np.max(np.abs(got.astype(float) - np.asarray(want, float)))))
print(json.dumps({"ok": worst <= 1e-5, "rows": len(rows), "max_diff": worst}))
"""


def verify(folder: str | Path, server: bool = True,
           note: Note | None = None) -> BundleCheck:
    """Re-check a bundle's hashes, then score its smoke rows in a fresh process; with
    ``server``, start its standalone server too (``mlcycle.deploy.standalone.check``) and
    compare its answers with mlcycle's scoring of the same rows. ``note`` hears the steps."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise NotFound(f"no bundle folder {folder}")
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise InvalidInput(f"{folder} has no {MANIFEST}; it is not an mlcycle bundle")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError:
        raise InvalidInput(f"{manifest_path} is not valid JSON") from None
    problems = []
    # The server's files and the InferenceService, when the manifest lists them (bundles
    # before the server, or exported without --kserve, do not).
    listed = [n for n in OPTIONAL_FILES if isinstance(manifest, dict) and n in manifest]
    for name in dict.fromkeys([*BUNDLE_FILES, *listed]):
        file = path / name
        if not file.exists():
            problems.append(f"{name} is missing")
        elif hashlib.sha256(file.read_bytes()).hexdigest() != manifest.get(name):
            problems.append(f"{name} does not match its hash")
    extra = sorted(p.name for p in path.iterdir()
                   if p.name not in (*BUNDLE_FILES, *listed, MANIFEST))
    if problems:
        raise InvalidInput(f"bundle {folder} fails verification: {'; '.join(problems)}")
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _SMOKE, str(path.resolve())],
        capture_output=True, text=True, timeout=120,
    )
    if proc.returncode != 0 and not proc.stdout.strip():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InvalidInput(f"bundle {folder}: the smoke test failed: {last}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result.get("ok"):
        raise InvalidInput(f"bundle {folder}: the smoke test failed: {result}")
    meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    served = None
    say = note or (lambda _text: None)
    if server and "server" not in meta:
        say("note: this bundle predates the standalone server; export it again to have one")
    elif server:
        say("starting the bundle's server.py in an environment with only numpy and "
            "onnxruntime")
        rows = meta["smoke_test"]["inputs"]
        served = standalone.check(path.resolve(), _scored(path, rows), rows, say)
    return BundleCheck(str(path.resolve()), meta.get("project"), meta.get("version"),
                       SmokeTest(bool(result["ok"]), int(result["rows"]),
                                 float(result["max_diff"])),
                       served, tuple(extra))


def _scored(folder: Path, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The bundle's graph scoring ``rows`` the way ``mlcycle predict`` does: checked and
    typed by ``score_input.model_frame``, scored by ``onnx_export.run``. The rows are the
    graph's inputs already (a feature set's derived columns computed), so no feature set
    is applied again."""
    import polars as pl

    from mlcycle.deploy import score_input

    sig = json.loads((folder / "signature.json").read_text(encoding="utf-8"))
    signature = model_input.Signature.from_dict({**sig["model_input"], "feature_set": None})
    raw = pl.from_dicts(rows, infer_schema_length=None)
    session = onnx_export.session((folder / "model.onnx").read_bytes())
    out = onnx_export.run(session, score_input.model_frame(raw, signature), signature)
    if signature.task == "classification":
        return {"label": out[0].ravel().tolist(), "probabilities": out[1].tolist()}
    return {"variable": out[0].ravel().tolist()}
