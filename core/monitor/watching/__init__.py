"""The parts of the watcher (:class:`mlcycle.monitor.watch.Watcher` composes them).

The folder half knows files: which entries are batches (:mod:`.folder`), which have settled
and are due (:mod:`.arrivals`), copying and reading them (:mod:`.reading`), setting aside
those that cannot be checked (:mod:`.quarantine`), hearing the folder (:mod:`.observer`)
and saying the watcher is alive (:mod:`.heartbeat`). The checking half (:mod:`.checking`)
turns a file read into a :class:`mlcycle.monitor.batch_file.Batch` and checks it the one
way every face does (``check_batch``). What the threads share is in :mod:`.ledger`.
"""
