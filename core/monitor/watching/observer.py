"""watchdog's observer of a watched folder, turned into news for the watcher's loop.

On Linux it also hears writers open and close files (inotify): what it hears of writers
goes to the ledger at once, from the observer's own thread; the rest is queued as news."""

from __future__ import annotations

import contextlib
import queue
from pathlib import Path
from typing import Any

from mlcycle.monitor.watching.ledger import Ledger

# What the folder did, as (kind, path): "created", "modified", "closed", "moved away",
# "moved in", "deleted"; and "again" from the checker, for a file to take again.
News = queue.Queue[tuple[str, Path]]


class Observer:
    """Watches one folder; it can lose the folder and watch it again once it is back."""

    def __init__(self, folder: Path, recursive: bool, ledger: Ledger,
                 news: News) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer as Watchdog

        class Handler(FileSystemEventHandler):
            def on_created(self, event: Any) -> None:
                news.put(("created", Path(event.src_path)))

            def on_modified(self, event: Any) -> None:
                if not event.is_directory:
                    ledger.written(Path(event.src_path))
                    news.put(("modified", Path(event.src_path)))

            def on_closed(self, event: Any) -> None:  # closed after writing (inotify)
                ledger.closed(Path(event.src_path))
                news.put(("closed", Path(event.src_path)))

            def on_moved(self, event: Any) -> None:
                ledger.closed(Path(event.src_path))
                news.put(("moved away", Path(event.src_path)))
                news.put(("moved in", Path(event.dest_path)))

            def on_deleted(self, event: Any) -> None:
                ledger.closed(Path(event.src_path))
                news.put(("deleted", Path(event.src_path)))

        self.folder = folder
        self.recursive = recursive
        self.handler = Handler()
        self.observer = Watchdog()
        self.current: Any = None

    def start(self) -> None:
        self.observer.start()

    def watch(self) -> None:
        """Watch the folder, unless it is watched already (again after it came back)."""
        if self.current is not None and any(
                emitter.watch == self.current and emitter.is_alive()
                for emitter in self.observer.emitters):
            return  # the emitter of a deleted folder stops: then it is scheduled anew
        self.unwatch()
        try:
            self.current = self.observer.schedule(self.handler, str(self.folder),
                                                  recursive=self.recursive)
        except OSError:
            self.current = None  # gone again: the next rescan tries once more

    def unwatch(self) -> None:
        if self.current is not None:
            with contextlib.suppress(Exception):  # its emitter may have died with the folder
                self.observer.unschedule(self.current)
            self.current = None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.observer.stop()
            self.observer.join(timeout=5)
