"""Open Optuna storages by URL, read-only by default, with one-line errors and no silent creation.

URLs: ``journal:///PATH`` (a JournalFileBackend log; three slashes then the path, so an absolute
path has four: ``journal:////abs/study.log``), ``sqlite:///PATH`` (same convention) and
``postgresql[+driver]://USER:PASSWORD@HOST/DB``. Reading never creates, migrates or rewrites a
file: a missing path, a corrupt file or a file that is not an Optuna storage is a ReportError and
the file's bytes stay as they were.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from reports.errors import ReportError

__all__ = ["KNOWN_SCHEMES", "list_studies", "load_study", "open_storage", "storage_path"]

KNOWN_SCHEMES = ("journal:///PATH", "sqlite:///PATH", "postgresql://USER@HOST/DB")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_OPTUNA_TABLES = {"studies", "trials", "version_info"}
# Postgres drivers SQLAlchemy knows, keyed by the "+driver" part of the scheme; a plain
# postgresql:// uses SQLAlchemy's default (psycopg2 up to SQLAlchemy 2.0, psycopg 3 from 2.1).
_PG_DRIVERS = {"psycopg2": "psycopg2", "psycopg": "psycopg", "pg8000": "pg8000"}
# workers that start together on an empty database race to create Optuna's tables (optuna#1092)
_SCHEMA_RACE_ATTEMPTS = 4


class _ReadOnlyJournalBackend(JournalFileBackend):
    """A journal backend that refuses to append: reading a study must never change its log."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        raise ReportError(f"storage {self._file_path} is opened read-only; nothing was written")


def storage_path(url: str) -> Path | None:
    """The file behind a journal:/// or sqlite:/// URL; None for a database server."""
    scheme, _, rest = url.partition("://")
    if scheme in ("journal", "sqlite"):
        if not rest.startswith("/") or rest == "/":
            raise ReportError(f"bad {scheme} URL {url!r}; write {scheme}:///PATH (three slashes)")
        path = rest[1:].split("?", 1)[0] if scheme == "sqlite" else rest[1:]
        if not path:
            raise ReportError(f"bad {scheme} URL {url!r}: no path after {scheme}:///")
        return Path(path)
    return None


def open_storage(url: str, *, read_only: bool = True) -> BaseStorage:
    """An Optuna storage for `url`; read-only (the default) never creates or changes anything.

    With ``read_only=False`` a missing journal/sqlite file and its folder are created; an existing
    file is still checked first, so a corrupt one is reported rather than appended to.
    """
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme == "journal":
        return _open_journal(url, read_only=read_only)
    if scheme == "sqlite":
        return _open_sqlite(url, read_only=read_only)
    if scheme == "postgresql" or scheme.startswith("postgresql+"):
        return _open_postgres(url, read_only=read_only)
    shown = scheme or url
    raise ReportError(f"unknown storage {shown!r}; use one of: {', '.join(KNOWN_SCHEMES)}")


def list_studies(url: str) -> list[str]:
    """Names of the studies in the storage at `url`, sorted."""
    storage = open_storage(url)
    try:
        return sorted(s.study_name for s in storage.get_all_studies())
    except ReportError:
        raise
    except Exception as exc:  # noqa: BLE001 - a storage error becomes one user-facing line
        raise ReportError(f"cannot read studies from {_mask(url)}: {_first_line(exc)}") from exc


def load_study(url: str, study_name: str) -> optuna.Study:
    """The study `study_name` from `url`, read-only; an unknown name lists the known ones."""
    storage = open_storage(url)
    try:
        names = sorted(s.study_name for s in storage.get_all_studies())
    except Exception as exc:  # noqa: BLE001
        raise ReportError(f"cannot read studies from {_mask(url)}: {_first_line(exc)}") from exc
    if study_name not in names:
        known = ", ".join(names) if names else "none (the storage holds no study)"
        raise ReportError(f"unknown study {study_name!r} in {_mask(url)}; known: {known}")
    return optuna.load_study(study_name=study_name, storage=storage)


def _open_journal(url: str, *, read_only: bool) -> BaseStorage:
    path = storage_path(url)
    assert path is not None
    if path.is_dir():
        raise ReportError(f"journal path {path} is a folder, not a journal file")
    if path.exists():
        _check_journal(path)
    elif read_only:
        raise ReportError(f"no journal file at {path} (nothing was created)")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    if read_only:
        backend: JournalFileBackend = _ReadOnlyJournalBackend(str(path))
    else:
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
    try:
        return JournalStorage(backend)
    except ReportError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a log whose operations do not replay
        raise ReportError(f"corrupt journal {path}: {_first_line(exc)}") from exc


def _check_journal(path: Path) -> None:
    """Raise if the file is not an Optuna journal; a trailing partial line (a write in flight) is
    tolerated as Optuna does, but a file with no complete JSON line at all is corrupt."""
    complete = 0
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, start=1):
                if not line.endswith(b"\n"):
                    if complete == 0:
                        raise ReportError(f"corrupt journal {path}: no complete log line")
                    break
                try:
                    entry = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise ReportError(
                        f"corrupt journal {path}: line {number} is not JSON (file left unchanged)"
                    ) from None
                if not isinstance(entry, dict) or "op_code" not in entry:
                    raise ReportError(
                        f"corrupt journal {path}: line {number} is not an Optuna journal entry"
                    )
                complete += 1
    except OSError as exc:
        raise ReportError(f"cannot read journal {path}: {exc.strerror or exc}") from exc


def _open_sqlite(url: str, *, read_only: bool) -> BaseStorage:
    path = storage_path(url)
    assert path is not None
    if path.is_dir():
        raise ReportError(f"sqlite path {path} is a folder, not a database file")
    if path.exists():
        _check_sqlite(path)
    elif read_only:
        raise ReportError(f"no sqlite database at {path} (nothing was created)")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not read_only:
            return RDBStorage(url)
        uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        return RDBStorage("sqlite://", engine_kwargs={"creator": connect}, skip_table_creation=True)
    except Exception as exc:  # noqa: BLE001
        raise ReportError(f"cannot open sqlite storage {path}: {_first_line(exc)}") from exc


def _check_sqlite(path: Path) -> None:
    """Raise unless `path` is a readable SQLite file holding Optuna's tables (or is empty)."""
    try:
        with path.open("rb") as f:
            header = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not header:
        raise ReportError(f"{path} is an empty file, not an Optuna sqlite storage")
    if header != _SQLITE_MAGIC:
        raise ReportError(f"corrupt sqlite storage {path}: not an SQLite file (left unchanged)")
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
        try:
            rows = con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ReportError(f"corrupt sqlite storage {path}: {exc} (left unchanged)") from exc
    missing = _OPTUNA_TABLES - {r[0] for r in rows}
    if missing:
        raise ReportError(
            f"{path} is an SQLite file but not an Optuna storage (no {', '.join(sorted(missing))})"
        )


def _open_postgres(url: str, *, read_only: bool) -> BaseStorage:
    scheme = url.partition("://")[0]
    driver = scheme.partition("+")[2] or _default_pg_driver()
    module = _PG_DRIVERS.get(driver)
    if module is None:
        raise ReportError(
            f"unknown postgresql driver {driver!r}; known: {', '.join(_PG_DRIVERS)}"
        )
    if importlib.util.find_spec(module) is None:
        raise ReportError(
            f"{scheme}:// needs the {module} package: pip install distillnas[postgres]"
        )
    connect_args = {"connect_timeout": 10} if module in ("psycopg2", "psycopg") else {}
    for attempt in range(_SCHEMA_RACE_ATTEMPTS):
        try:
            return RDBStorage(
                url,
                engine_kwargs={"connect_args": connect_args, "pool_pre_ping": True},
                skip_table_creation=read_only,
            )
        except Exception as exc:  # noqa: BLE001 - unreachable host, wrong password, no tables
            if not read_only and attempt + 1 < _SCHEMA_RACE_ATTEMPTS and _schema_race(exc):
                time.sleep(0.5 * (attempt + 1))  # another worker is creating the tables
                continue
            raise ReportError(f"cannot open {_mask(url)}: {_first_line(exc)}") from exc
    raise AssertionError("unreachable")


def _default_pg_driver() -> str:
    """The DBAPI SQLAlchemy picks for a plain postgresql:// URL (psycopg2, or psycopg from 2.1)."""
    from sqlalchemy.engine import make_url

    return str(make_url("postgresql://").get_dialect().driver)


def _schema_race(exc: BaseException) -> bool:
    """True for the errors of two processes creating Optuna's tables at once."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    text = str(exc)
    return isinstance(exc, IntegrityError | ProgrammingError) and (
        "already exists" in text or "duplicate key" in text
    )


def _mask(url: str) -> str:
    """The URL with any password replaced by ***."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _first_line(exc: BaseException) -> str:
    """A one-line description of `exc`, following wrapped causes to the driver's own message."""
    inner: BaseException = exc
    while getattr(inner, "orig", None) is not None:
        inner = inner.orig  # type: ignore[assignment]
    if inner is exc and exc.__cause__ is not None:
        inner = exc.__cause__
        while getattr(inner, "orig", None) is not None:
            inner = inner.orig  # type: ignore[assignment]
    for line in str(inner).splitlines():
        line = line.strip()
        if line and not line.startswith(("[SQL", "(Background")):
            return line
    return type(inner).__name__
