"""The files scoring reads and writes: a user's file read once into a private Parquet copy
streamed in batches, and predictions written batch by batch and moved into place at the end,
so a million-row file needs memory for one batch, not for the file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.data import sources
from mlcycle.store import safety
from mlcycle.store.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import polars as pl

    from mlcycle.store.cancel import CancelToken

BATCH_ROWS = 100_000


@dataclass
class Table:
    """A user's file read once, by the reader every command shares (``mlcycle.data.sources``),
    into a private Parquet copy that scoring streams in batches. Close it when done."""

    label: str
    columns: list[str]
    rows: int
    path: Path
    folder: Any  # the tempfile.TemporaryDirectory holding ``path``

    def batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
        import polars as pl

        batches = pl.scan_parquet(self.path, glob=False).collect_batches(chunk_size=batch_rows)
        for batch in batches:
            if batch.height:
                yield batch

    def close(self) -> None:
        self.folder.cleanup()


def read_table(path: str | Path, *, label: str | None = None,
               cancel: CancelToken | None = None) -> Table:
    """Read and check a file to score (``label`` names it in errors, for a copy); refuses a
    file without rows, since nothing can be said about none. Cancelling interrupts the
    reading; nothing is kept."""
    import tempfile

    import polars as pl

    folder = tempfile.TemporaryDirectory(prefix="mlcycle-score-")
    try:
        out = Path(folder.name) / "rows.parquet"
        shown = label or str(Path(path).expanduser().absolute())
        columns = sources.to_parquet(path, out, label=shown, cancel=cancel)
        rows = pl.scan_parquet(out, glob=False).select(pl.len()).collect().item()
        if not rows:
            raise InvalidInput(f"{shown}: has no rows")
    except BaseException:
        folder.cleanup()
        raise
    return Table(shown, columns, rows, out, folder)


class Writer:
    """Predictions written batch by batch to CSV or Parquet, moved into place at the end."""

    def __init__(self, out: Path) -> None:
        suffix = out.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise InvalidInput(f"--out must end in .csv or .parquet, not {out.name}")
        if not out.parent.is_dir():
            raise NotFound(f"no folder {out.parent} for {out.name}")
        safety.sweep(out.parent)  # what killed runs left beside it
        self.out = out
        self.parquet = suffix == ".parquet"
        self.temp = out.parent / safety.temp_name(f".{out.name}.", ".tmp")
        self.parts: list[Path] = []
        if self.parquet:
            self.temp.mkdir()
        else:
            self.handle = open(self.temp, "wb")  # noqa: SIM115 - closed in finish/abort
        self.first = True

    def write(self, frame: pl.DataFrame) -> None:
        if self.parquet:
            part = self.temp / f"{len(self.parts):06d}.parquet"
            frame.write_parquet(part)
            self.parts.append(part)
        else:
            frame.write_csv(self.handle, include_header=self.first)
        self.first = False

    def finish(self) -> None:
        import os

        import polars as pl

        if self.parquet:
            # Streaming concatenation of the parts keeps memory at one part.
            final = self.out.parent / safety.temp_name(f".{self.out.name}.", ".part")
            pl.scan_parquet([str(p) for p in self.parts], glob=False).sink_parquet(final)
            os.replace(final, self.out)
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.handle.close()
            os.replace(self.temp, self.out)

    def abort(self) -> None:
        if self.parquet:
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.handle.close()
            self.temp.unlink(missing_ok=True)
