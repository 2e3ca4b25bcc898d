"""The real ``mlcycle`` command in a real terminal (tmux): start a training from the UI and
read its live trial table off the screen, as a user would, at 160x48 and at 80x24."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mlcycle.store.workspace import Workspace

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    def __init__(self, command: str, width: int, height: int) -> None:
        self.name = f"mlcycle-{uuid.uuid4().hex[:8]}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width),
                        "-y", str(height), command], check=True)

    def screen(self) -> str:
        done = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True)
        return done.stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.15)

    def typed(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)
        time.sleep(0.15)

    def wait_for(self, *texts: str, seconds: float = 90) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(t in shown for t in texts):
                return shown
            time.sleep(0.3)
        raise AssertionError(f"the terminal never showed {texts}; it shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_a_training_started_in_the_ui_shows_its_trials_live(churn_ws: Workspace,
                                                            tmp_path: Path, size) -> None:
    exit_file = tmp_path / "exit"
    command = (f"{sys.executable} -m mlcycle -w {shlex.quote(str(churn_ws.root))} ui "
               f"--project churn; echo $? > {shlex.quote(str(exit_file))}; sleep 5")
    term = Terminal(command, *size)
    try:
        term.wait_for("Projects", "churn")
        term.keys("3")
        term.wait_for("press t to train")
        term.keys("t")
        term.wait_for("Train churn")
        term.typed("logistic")  # the first field, focused
        term.keys("Tab", "Home", "C-k")
        term.typed("40")  # trials: more than will finish before the cancel
        term.keys("Tab", "Tab", "Home", "C-k")
        term.typed("2")  # folds
        term.keys("C-s")
        shown = term.wait_for("train: churn", "best so far", "logistic")
        # Rows arrive as trials finish: the table grows while the screen is read.
        first = term.wait_for("running").count("logistic")
        later = first
        deadline = time.monotonic() + 90
        while later <= first + 1 and time.monotonic() < deadline:
            time.sleep(0.5)
            later = term.screen().count("logistic")
        assert later > first + 1, term.screen()
        term.keys("c")
        shown = term.wait_for("cancelled", seconds=60)
        assert "nothing registered" in shown
        term.keys("Escape", "q")
        for _ in range(150):  # quitting stops the jobs' threads: slow on a busy machine
            if exit_file.exists() and exit_file.read_text().strip():
                break
            time.sleep(0.2)
        assert exit_file.read_text().strip() == "0"
    finally:
        term.close()
