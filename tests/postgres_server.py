"""A throwaway PostgreSQL server for tests: initdb into a temp folder, pg_ctl on 127.0.0.1.

``PostgresServer.start()`` finds Debian's server binaries (``/usr/lib/postgresql/*/bin``) or
``initdb``/``pg_ctl`` on PATH, creates a cluster with password authentication over TCP (so a
wrong password is refused), starts it on a free loopback port and creates one database.
``stop()`` shuts it down and removes the folder. As root, the server runs as the ``postgres``
user (PostgreSQL refuses to run as root). Anything that prevents a start raises
``PostgresUnavailable`` with the reason, which the fixture turns into a skip.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "distillnas"
DATABASE = "distillnas_test"


class PostgresUnavailable(RuntimeError):
    """The server binaries are absent or the server cannot start here; the message says why."""


def find_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: the newest Debian install, else PATH."""
    for candidate in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        reverse=True,
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    ):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    password: str
    run_as: str | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "server.log"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(
        self, *, password: str | None = None, port: int | None = None, database: str = DATABASE
    ) -> str:
        """``postgresql://distillnas:PASSWORD@127.0.0.1:PORT/DB``; overrides for bad input."""
        pw = self.password if password is None else password
        return f"postgresql://{USER}:{pw}@127.0.0.1:{port or self.port}/{database}"

    # ---- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def start(cls, *, timeout_s: float = 60.0) -> PostgresServer:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) not found; on Debian: "
                "apt-get install postgresql (see .ci/postgres.sh)"
            )
        run_as = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                run_as = name
                break
            if run_as is None:
                raise PostgresUnavailable(
                    "running as root and no 'postgres' user to run the "
                    "server as (PostgreSQL refuses root)"
                )
        # a short folder directly under /tmp: the unprivileged server user must reach it, and
        # the unix socket path inside it must stay under ~107 bytes
        root = Path(tempfile.mkdtemp(prefix="dnpg-", dir="/tmp"))
        server = cls(bindir, root, free_port(), secrets.token_hex(8), run_as)
        atexit.register(server.stop)  # a safety net where the caller never reaches stop()
        try:
            server._init_and_start(timeout_s)
        except PostgresUnavailable:
            server.stop()
            raise
        return server

    def _run(self, *args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {}
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        try:
            return subprocess.run(
                list(args),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=self.root,
                check=False,
                env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(self.root)},
                **kwargs,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {exc}") from None

    def _init_and_start(self, timeout_s: float) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        r = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
            timeout_s=timeout_s,
        )
        if r.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {_last_line(r.stderr or r.stdout)}")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off "
            "-c max_connections=50"
        )
        r = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(timeout_s)),
            "start",
            timeout_s=timeout_s + 10,
        )
        if r.returncode != 0:
            tail = self.log.read_text().strip() if self.log.exists() else ""
            raise PostgresUnavailable(
                f"pg_ctl start failed: {_last_line(tail or r.stderr or r.stdout)}"
            )
        self._create_database()

    def _create_database(self) -> None:
        try:  # SQLAlchemy >= 2.1 speaks psycopg (3) for postgresql://; 2.0 speaks psycopg2
            import psycopg as driver
        except ImportError:
            try:
                import psycopg2 as driver
            except ImportError:
                raise PostgresUnavailable(
                    "no PostgreSQL driver (psycopg): pip install distillnas[postgres]"
                ) from None
        con = driver.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=self.password,
            dbname="postgres",
            connect_timeout=10,
        )
        try:
            con.autocommit = True
            con.cursor().execute(f"CREATE DATABASE {DATABASE}")
        finally:
            con.close()

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and delete its folder; safe to call twice."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
                "stop",
                timeout_s=40,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"
