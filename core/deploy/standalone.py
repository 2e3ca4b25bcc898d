"""A bundle's standalone server as the bundle carries it: its files, its container, its proof.

Export writes ``server.py`` and ``oip.py`` (copies of ``mlcycle.deploy.oip_server`` and
``mlcycle.deploy.oip``) and a ``Dockerfile`` whose numpy and onnxruntime are pinned to the
versions the export ran with: the ones the parity check and the smoke rows were computed
with. ``bundle verify`` proves the server in a virtual environment holding only those two
packages (and what they need), made once per Python, numpy and onnxruntime version under the
user's cache folder (``$MLCYCLE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlcycle``, else
``~/.cache/mlcycle``); pip installs them from the package index the first time. The server
runs in a fresh process from the bundle's own copy, answers the bundle's sample rows through
``/v2/models/NAME/infer``, and its answers must match mlcycle's own scoring of those rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from mlcycle.deploy.results import ServerCheck
from mlcycle.store.errors import InvalidInput

PORT = 8080
MAX_DIFF = 1e-5  # the same graph in the same onnxruntime: only JSON's float printing differs
START_SECONDS = 60.0
_SOURCES = {"server.py": "oip_server.py", "oip.py": "oip.py"}

_DOCKERFILE = """\
# {project} v{version}: the bundle's standalone server (Open Inference Protocol v2).
#   docker build -t {image} . && docker run --rm -p {port}:{port} {image}
FROM python:{python}-slim
# The versions the export's parity check and smoke rows were computed with.
RUN pip install --no-cache-dir numpy=={numpy} onnxruntime=={onnxruntime}
WORKDIR /bundle
COPY {files} ./
USER nobody
EXPOSE {port}
# Inside a container the server must listen on every interface, or the published port
# reaches nothing; the container's network is the boundary. Outside one, server.py's own
# default stays 127.0.0.1.
CMD ["python", "server.py", "--host", "0.0.0.0", "--port", "{port}"]
"""


def image(project: str, version: int) -> str:
    """The name the bundle's image is built under, as its Dockerfile says."""
    return f"{project.lower()}:v{version}"


def pins() -> dict[str, str]:
    """The Python, numpy and onnxruntime versions the server is pinned to: this export's."""
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "numpy": package_metadata.version("numpy"),
            "onnxruntime": package_metadata.version("onnxruntime")}


def files(project: str, version: int, pinned: dict[str, str],
          bundle_files: tuple[str, ...]) -> dict[str, bytes]:
    """``server.py``, ``oip.py`` and the ``Dockerfile`` that copies ``bundle_files`` too."""
    here = Path(__file__).resolve().parent
    out = {name: (here / source).read_bytes() for name, source in _SOURCES.items()}
    copied = [*bundle_files, "manifest.json", *_SOURCES]
    out["Dockerfile"] = _DOCKERFILE.format(
        project=project, version=version, image=image(project, version), port=PORT,
        files=" ".join(copied), **pinned).encode("utf-8")
    return out


# -- the environment ------------------------------------------------------------------------


def cache_dir() -> Path:
    if os.environ.get("MLCYCLE_CACHE_DIR"):
        return Path(os.environ["MLCYCLE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mlcycle"


def environment_path(pinned: dict[str, str]) -> Path:
    """Where the environment for these versions lives (made by :func:`environment`)."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (cache_dir() / "server-env"
            / f"py{python}-numpy{pinned['numpy']}-onnxruntime{pinned['onnxruntime']}")


def environment(pinned: dict[str, str], note: Callable[[str], None]) -> Path:
    """The Python of a virtual environment holding only numpy and onnxruntime, as pinned.

    Made once: in a temporary folder, then renamed into place, so a run killed halfway or
    two verifications at once never leave a half-made one to be used.
    """
    import venv

    final = environment_path(pinned)
    python = final / "bin" / "python"
    if python.exists():
        return python
    note(f"making the server's environment (numpy {pinned['numpy']}, onnxruntime "
         f"{pinned['onnxruntime']}) in {final}; once only")
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        venv.EnvBuilder(with_pip=True, symlinks=True).create(temp)
        proc = subprocess.run(
            [str(temp / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", f"numpy=={pinned['numpy']}",
             f"onnxruntime=={pinned['onnxruntime']}"],
            capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            lines = [line for line in (proc.stderr or proc.stdout).splitlines()
                     if line.strip() and not line.startswith("WARNING")] or ["pip failed"]
            raise InvalidInput(
                f"cannot install numpy {pinned['numpy']} and onnxruntime "
                f"{pinned['onnxruntime']} for the server check ({lines[-1].strip()}); "
                "verify without the server check (--no-server)")
        try:
            os.replace(temp, final)
        except OSError:  # another verification made it first
            if not python.exists():
                raise
    except (OSError, subprocess.SubprocessError) as exc:
        raise InvalidInput(f"cannot make the server's environment in {final}: {exc}; verify "
                           "without the server check (--no-server)") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return python


# -- the check ------------------------------------------------------------------------------


def infer_body(rows: list[dict[str, Any]], signature: dict[str, Any],
               ident: str | None = None) -> dict[str, Any]:
    """An inference request for ``rows`` (keyed by data column), one input per column."""
    inputs = []
    for i in signature["inputs"]:
        column = i.get("column", i["name"])
        inputs.append({"name": column, "shape": [len(rows), 1],
                       "datatype": "FP32" if i["type"] == "float32" else "BYTES",
                       "data": [r[column] for r in rows]})
    return {"inputs": inputs} if ident is None else {"id": ident, "inputs": inputs}


def check(folder: Path, expected: dict[str, list[Any]], rows: list[dict[str, Any]],
          note: Callable[[str], None]) -> ServerCheck:
    """Start the bundle's server.py in the clean environment and compare its answers on
    ``rows`` with ``expected`` (output name -> values, row by row)."""
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    signature = json.loads((folder / "signature.json").read_text(encoding="utf-8"))
    pinned = meta["server"]
    python = environment(pinned, note)
    # -E -s: no PYTHON* variables, no user site: only the environment's own packages. Not
    # -I, which would also drop the script's folder, where oip.py is.
    # Unbuffered: a line read leaves nothing behind in a buffer that select cannot see.
    proc = subprocess.Popen([str(python), "-E", "-s", "server.py", "--port", "0"],
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            bufsize=0)
    try:
        url = _started(proc)
        name = str(meta["project"])
        status, described = _call(f"{url}/v2/models/{name}")
        columns = [i.get("column", i["name"]) for i in signature["inputs"]]
        if status != 200 or [t["name"] for t in described["inputs"]] != columns:
            raise InvalidInput(f"bundle {folder}: the server describes other inputs than the "
                               f"signature's columns ({status}: {described})")
        status, answer = _call(f"{url}/v2/models/{name}/infer",
                               infer_body(rows, signature, "mlcycle-verify"))
        if status != 200:
            raise InvalidInput(f"bundle {folder}: the server refused the sample rows "
                               f"({status}: {answer.get('error')})")
        worst = _difference(answer, expected, folder)
        refused, _ = _call(f"{url}/v2/models/{name}/infer", b"{")
        if refused != 400:
            raise InvalidInput(f"bundle {folder}: the server answered {refused} to a "
                               "malformed body, not 400")
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    return ServerCheck(True, len(rows), worst, str(python.parent.parent), pinned["numpy"],
                       pinned["onnxruntime"])


def _started(proc: subprocess.Popen[bytes]) -> str:
    """The server's address, from its first line, once it listens."""
    import select
    import time

    assert proc.stderr is not None
    # It prints one line once it listens: "serving NAME vN on http://HOST:PORT (...)";
    # onnxruntime may warn before it.
    deadline = time.monotonic() + START_SECONDS
    said = []
    while (left := deadline - time.monotonic()) > 0 and select.select(
            [proc.stderr], [], [], left)[0]:
        line = proc.stderr.readline().decode("utf-8", "replace")
        if not line:  # it exited
            break
        if " on http://" in line:
            return line.split(" on ", 1)[1].split()[0]
        said.append(line.strip())
    last = [text for text in said if text] or [f"no answer in {START_SECONDS:g} s"]
    raise InvalidInput(f"the bundle's server did not start: {last[-1]}")


def _call(url: str, body: object | None = None) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(
        body).encode("utf-8")
    request = urllib.request.Request(url, data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"the bundle's server did not answer {url}: {exc}") from None


def _difference(answer: dict[str, Any], expected: dict[str, list[Any]], folder: Path) -> float:
    import numpy as np

    got = {o["name"]: o for o in answer.get("outputs", [])}
    worst = 0.0
    for name, want in expected.items():
        if name not in got:
            raise InvalidInput(f"bundle {folder}: the server's answer has no output {name!r}")
        values = np.asarray(got[name]["data"])
        if name == "label":
            if values.tolist() != list(want):
                raise InvalidInput(f"bundle {folder}: the server's labels differ from "
                                   "mlcycle's on the sample rows")
            continue
        values = values.astype(float).reshape(np.asarray(want, dtype=float).shape)
        worst = max(worst, float(np.max(np.abs(values - np.asarray(want, dtype=float)))))
    if worst > MAX_DIFF:
        raise InvalidInput(f"bundle {folder}: the server's answers differ from mlcycle's by "
                           f"{worst:.3g} on the sample rows (allowed {MAX_DIFF:g})")
    return worst
