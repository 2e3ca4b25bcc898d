"""Thread counts for fitting models, set explicitly.

OpenMP (gradient boosting) and BLAS start one thread per core and spin while they wait for
each other. On a machine that is also running a watcher, the UI or another command, those
threads collapse: 5-fold CV of a default HistGradientBoostingClassifier on 12,000 rows took
12.7 s with the default threads and 1.4 s with one, measured on this project's 2-core
machine while other work ran. Fitting therefore runs with one native thread; the forests'
own joblib threads (``n_jobs`` in the catalog) do not spin and keep both cores busy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

NATIVE_THREADS = 1


@contextmanager
def fitting() -> Iterator[None]:
    """Run the block with OpenMP and BLAS limited to ``NATIVE_THREADS``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=NATIVE_THREADS):
        yield
