"""A throwaway PostgreSQL cluster for the test suite: initdb, pg_ctl start, and clean-up."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

SUPERUSER = "postgres"

# Durability is worthless for a cluster that is deleted after the run; these make it fast.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Every test database gets its own engine and pool; several may be open at once.
    "max_connections": "200",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
}


# Runs beside the test process and stops the cluster if that process dies without its teardown
# (SIGKILL, or SIGTERM from `timeout`, which Python does not turn into an exception); otherwise
# every killed run would leave a postgres server behind. It exits once the directory is gone.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, base_dir, *stop = sys.argv[1:]
while os.path.isdir(base_dir):
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        subprocess.run(stop, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(base_dir, ignore_errors=True)
        break
    time.sleep(1)
"""


class PgClusterError(RuntimeError):
    """The server binaries were found but the cluster could not be set up."""


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: $SCIM_TEST_PG_BIN, else the newest
    Debian install under /usr/lib/postgresql/*/bin, else None."""
    override = os.environ.get("SCIM_TEST_PG_BIN")
    candidates = [Path(override)] if override else []
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _version_key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One private cluster on 127.0.0.1, trust auth, its socket and data in a temp directory.

    ``with PgCluster() as cluster: cluster.url("postgres")``. PostgreSQL refuses to run as root,
    so as root the binaries run as the ``postgres`` OS user (``runuser``) and the directory is
    handed to that user; any other user runs them directly.
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir or find_bin_dir()
        if found is None:
            raise PgClusterError("PostgreSQL server binaries not found")
        self.bin_dir = found
        self.port: int | None = None
        self.base_dir: Path | None = None
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        # A short path under /tmp, not pytest's tmp_path: a unix socket path must fit in ~107
        # bytes, and the postgres user must be able to reach it.
        self.base_dir = Path(tempfile.mkdtemp(prefix="scim-pg-"))
        try:
            self._chown_to_server_user(self.base_dir)
            self._run(
                "initdb",
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            )
            # Another xdist worker may take the port between our probe and the bind: retry.
            last_error: PgClusterError | None = None
            for _ in range(3):
                self.port = _free_port()
                self._write_settings(self.port)
                try:
                    self._run(
                        "pg_ctl",
                        "start",
                        "--wait",
                        "--timeout",
                        "60",
                        "--pgdata",
                        str(self.data_dir),
                        "--log",
                        str(self.log_file),
                    )
                except PgClusterError as exc:
                    last_error = exc
                    continue
                self._running = True
                self._start_watchdog()
                return
            raise PgClusterError(f"{last_error}\n--- server log ---\n{self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._running:
            self._running = False
            try:
                self._run(
                    "pg_ctl", "stop", "--wait", "--mode", "fast", "--pgdata", str(self.data_dir)
                )
            except PgClusterError:
                # Clean-up must not hide the test outcome; "immediate" cannot be refused.
                self._run(
                    "pg_ctl",
                    "stop",
                    "--mode",
                    "immediate",
                    "--pgdata",
                    str(self.data_dir),
                    check=False,
                )
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def halt(self) -> None:
        """Stop the server but keep the cluster (``pg_ctl stop -m fast``, as a restart or an
        outage begins): its clients' connections are cut and new ones are refused."""
        self._run("pg_ctl", "stop", "--wait", "--mode", "fast", "--pgdata", str(self.data_dir))
        self._running = False

    def resume(self) -> None:
        """Start a halted cluster again, on the same port."""
        self._run("pg_ctl", "start", "--wait", "--timeout", "60", "--pgdata", str(self.data_dir),
                  "--log", str(self.log_file))
        self._running = True

    def __enter__(self) -> PgCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ---------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for ``dbname`` on this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname}"

    def create_database(self, name: str, template: str | None = None) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        self._admin(statement)

    def drop_database(self, name: str) -> None:
        # FORCE (PostgreSQL 13+) ends sessions a test left open, e.g. an engine not disposed.
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(statement)

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "server.log"

    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    def _chown_to_server_user(self, path: Path) -> None:
        if not self._as_root():
            return
        try:
            shutil.chown(path, user="postgres", group=None)
        except LookupError:
            raise PgClusterError(
                "running as root, PostgreSQL needs an unprivileged 'postgres' OS user to run "
                "as (the postgresql-15 Debian package creates it)"
            ) from None

    def _write_settings(self, port: int) -> None:
        settings = {
            **SERVER_SETTINGS,
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.base_dir}'",
        }
        # postgresql.auto.conf is read last, so rewriting it on a port retry wins cleanly.
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        auto_conf = self.data_dir / "postgresql.auto.conf"
        auto_conf.write_text(text, encoding="utf-8")
        if self._as_root():
            shutil.chown(auto_conf, user="postgres", group=None)

    def _start_watchdog(self) -> None:
        stop = self._command(
            "pg_ctl", "stop", "--mode", "immediate", "--pgdata", str(self.data_dir)
        )
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.base_dir), *stop],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session, so a signal to the test run's process group does not reach it.
            start_new_session=True,
        )

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        if self._as_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        return command

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = self._command(program, *args)
        result = subprocess.run(
            command,
            cwd=self.base_dir,  # the server user may not be able to read the caller's cwd
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
        if check and result.returncode != 0:
            raise PgClusterError(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"
