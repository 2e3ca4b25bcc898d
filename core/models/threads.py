"""Thread and process counts for fitting models, set explicitly.

OpenMP (gradient boosting) and BLAS start one thread per core and spin while they wait for
each other. On a machine that is also running a watcher, the UI or another command, those
threads collapse: 5-fold CV of a default HistGradientBoostingClassifier on 12,000 rows took
12.7 s with the default threads and 1.4 s with one, measured on this project's 2-core
machine while other work ran. Fitting therefore runs with one native thread; the forests'
own joblib threads (``n_jobs`` in the catalog) do not spin and keep both cores busy.

Folds in parallel processes, every estimator single-threaded, were measured against that
(serial folds, forests on 2 threads, boosting on 1): 5-fold CV on the sample data's 9,600
training rows and on a 1,100-row rung, A and B interleaved, medians, the machine shared with
other developers' tests (load average 4-11), ``FOLD_PROCESSES`` 1 (serial) vs 2 (loky).
Two sessions, 5 and 4 repeats:

======================  ===================  ===================
5-fold CV, seconds      9,600 rows           1,100 rows
----------------------  -------------------  -------------------
family                  serial   2 procs     serial   2 procs
======================  ===================  ===================
gradient boosting       3.6/6.0  4.4/4.9     2.0/2.2  2.9/2.9
random forest (200)     10.0/13.6 14.7/16.6  2.6/3.5  3.4/4.8
nearest neighbours      1.0/1.6  1.0/1.3     0.2/0.3  0.2/0.5
logistic regression     0.3/1.4  0.5/0.7     0.2/0.3  0.1/0.5
======================  ===================  ===================

Two processes lost by 20-45 % on the forests in both sessions and were within the noise on
the rest (boosting: 20 % worse in one, 18 % better in the other): on a busy machine the
second process mostly waits for a core another program holds, and pays for its copy of the
data and its start-up. So folds run in this process (``FOLD_PROCESSES = 1``); the switch is
kept so the measurement can be repeated on other machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NATIVE_THREADS = 1
FOLD_PROCESSES = 1


@contextmanager
def fitting() -> Iterator[None]:
    """Run the block with OpenMP and BLAS limited to ``NATIVE_THREADS``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=NATIVE_THREADS):
        yield


@contextmanager
def for_folds(model: Any) -> Iterator[int | None]:
    """Cross-validate ``model`` in the block: yields the ``n_jobs`` to hand scikit-learn.

    With ``FOLD_PROCESSES > 1`` the folds run in that many loky processes, each estimator on
    one thread (a forest's own ``n_jobs`` is set to 1 so the two do not multiply).
    """
    if FOLD_PROCESSES <= 1:
        with fitting():
            yield None
        return
    from joblib import parallel_config

    params = model.get_params()
    if "model__n_jobs" in params:
        model.set_params(model__n_jobs=1)
    with parallel_config(backend="loky", inner_max_num_threads=NATIVE_THREADS):
        yield FOLD_PROCESSES
