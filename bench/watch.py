"""The folder watcher: from a file's last write to its stored verdict, and a burst drained.

A real `mlcycle watch PROJECT DIR --json` process watches a folder for a trained binary
classifier (tests/training_data: id, two numbers, a category, a boolean). The watcher has
checked one file first (building the model's reference), and then is idle each time:

- latency: N files of 100,000 rows (CSV, about 4 MB) are written one at a time, each as one
  open-write-close; the time from the close to the JSON line of its verdict (printed once the
  check is stored) over the N files gives p50 and p95. Goal: p95 under 1 s with the default
  0.5 s settle time, which every verdict waits for after the file's last write.
- burst: 200 files of 200 rows are written as fast as possible; the time from the last
  write to the last verdict, and whether the verdicts came in the order the files were
  written.
- memory: a second watcher process is given 1,000 small batches (200 rows), each written
  once the watcher has at most a few waiting; its resident memory (VmRSS in
  /proc/PID/status) is read after the verdict of batch 100 and of batch 1,000. Goal: the
  second within 10 % of the first (a watcher runs for months).

    .venv/bin/python bench/watch.py [--files 50] [--batches 1000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import ROOT

from mlcycle.models import registry
from tests.deploy_fixtures import classification_workspace
from tests.training_data import classification_frame

GOAL = 1.0  # seconds, p95 from the last write to the stored verdict
BURST = 200
GROWTH = 1.10  # resident memory after the last batch, at most this times that after 100
AHEAD = 4  # memory: batches written and not yet given their verdict


class Watch:
    """A watcher process and the verdicts it prints, each with the time it arrived."""

    def __init__(self, workspace: Path, folder: Path) -> None:
        self.verdicts: queue.Queue[tuple[float, dict]] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlcycle", "--workspace", str(workspace), "watch", "clf",
             str(folder), "--json"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={k: v for k, v in os.environ.items() if k != "MLCYCLE_WORKSPACE"})
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.verdicts.put((time.perf_counter(), json.loads(line)))

    def next(self, timeout: float = 120) -> tuple[float, dict]:
        arrived, outcome = self.verdicts.get(timeout=timeout)
        if outcome["status"] != "checked":
            raise SystemExit(f"unexpected verdict: {outcome}")
        return arrived, outcome

    def rss_mib(self) -> float:
        """The watcher's resident memory now."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise SystemExit("no VmRSS in /proc: the memory figure needs Linux")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def write(path: Path, data: bytes) -> float:
    """Write a file the way a program does (open, write, close); when it was closed."""
    with open(path, "wb") as fh:
        fh.write(data)
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50, help="100,000-row files timed")
    parser.add_argument("--batches", type=int, default=1000,
                        help="small batches for the memory figure (read after 100 and all)")
    parser.add_argument("--quick", action="store_true",
                        help="10 files, a burst of 50 and 300 batches")
    args = parser.parse_args()
    files = 10 if args.quick else args.files
    burst = 50 if args.quick else BURST
    batches = 300 if args.quick else args.batches
    root = Path(tempfile.mkdtemp(prefix="mlcycle-bench-watch-"))
    try:
        print("building a workspace with a trained classifier ...", flush=True)
        ws = classification_workspace(root, ["logistic"], rows=600)
        registry.promote(ws, "clf", "1", reason="bench")
        folder = root / "incoming"
        folder.mkdir()
        # Distinct contents (each file is known by its hash), made before the clock starts.
        big = [classification_frame(100_000, seed=100 + i).drop("label").write_csv().encode()
               for i in range(files + 1)]
        small = [classification_frame(200, seed=10_000 + i).drop("label").write_csv().encode()
                 for i in range(burst)]
        watch = Watch(ws.root, folder)
        try:
            write(folder / "warm-up.csv", big[0])
            watch.next(timeout=300)
            latencies = []
            for i, data in enumerate(big[1:]):
                closed = write(folder / f"batch-{i:03d}.csv", data)
                arrived, outcome = watch.next()
                assert Path(outcome["path"]).name == f"batch-{i:03d}.csv", outcome
                assert outcome["check"]["rows"] == 100_000
                latencies.append(arrived - closed)
            p50 = statistics.median(latencies)
            p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) > 1 else p50
            print(f"latency over {files} files of 100,000 rows, last write to stored verdict "
                  f"(min {min(latencies):.3f} s, max {max(latencies):.3f} s):")
            print(f"p50 {p50:.3f} s")
            print(f"p95 {p95:.3f} s")
            print(f"  goal p95 < {GOAL:g} s: {'met' if p95 < GOAL else 'NOT MET'} "
                  f"(ratio {p95 / GOAL:.2f}x)")
            names = [f"burst-{i:03d}.csv" for i in range(burst)]
            for name, data in zip(names, small):
                last = write(folder / name, data)
            arrivals = [watch.next() for _ in names]
            drained = arrivals[-1][0] - last
            order = [Path(o["path"]).name for _, o in arrivals]
            print(f"burst of {burst} files of 200 rows: drained {drained:.2f} s after the last "
                  f"write ({burst / drained:.1f} files/s), "
                  f"{'in order' if order == names else 'OUT OF ORDER'}")
        finally:
            watch.stop()
        memory(root, batches)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def memory(root: Path, batches: int) -> None:
    """A fresh watcher's resident memory after 100 batches and after ``batches``."""
    folder = root / "memory"
    folder.mkdir()
    watch = Watch(root / "ws", folder)
    early = min(100, batches)
    try:
        rss: dict[int, float] = {}
        written = done = 0
        started = time.perf_counter()
        while done < batches:
            # Never past the next reading: at a reading the watcher has nothing to do.
            limit = early if done < early else batches
            while written < limit and written - done < AHEAD:
                data = classification_frame(200, seed=20_000 + written).drop("label")
                write(folder / f"small-{written:04d}.csv", data.write_csv().encode())
                written += 1
            watch.next()
            done += 1
            if done in (early, batches):
                time.sleep(1.5)  # idle by now, its last check's garbage collected
                rss[done] = watch.rss_mib()
                print(f"resident memory after {done} batches: {rss[done]:.1f} MiB", flush=True)
        ratio = rss[batches] / rss[early]
        print(f"memory after {batches} batches / after {early}: {ratio:.3f}x "
              f"(goal <= {GROWTH:.2f}x: {'met' if ratio <= GROWTH else 'NOT MET'}); "
              f"{batches} batches in {time.perf_counter() - started:.0f} s")
    finally:
        watch.stop()


if __name__ == "__main__":
    main()
