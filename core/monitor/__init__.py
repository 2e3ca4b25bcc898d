"""Monitoring and retraining (lifecycle stages 8 and 9).

:func:`check` tests a batch against the model that scores it and returns a typed
:class:`Check`; the watcher (:mod:`mlcycle.monitor.watch`) runs checks on every file that
lands in a folder; :mod:`mlcycle.monitor.retraining` trains and judges a successor.
"""

from mlcycle.monitor.verdict import Alert, Check, Decision, Inputs, Performance, check

__all__ = [
    "Alert",
    "Check",
    "Decision",
    "Inputs",
    "Performance",
    "alerts",
    "check",
    "dle",
    "estimation",
    "estimators",
    "importance",
    "monitoring",
    "retraining",
    "watch",
]
