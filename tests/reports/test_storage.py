"""Opening storages: read-only, one-line errors, corrupt files reported and left unchanged."""

from __future__ import annotations

import hashlib
import importlib.util
import sqlite3
from pathlib import Path

import optuna
import pytest

from reports.errors import ReportError
from reports.records import load_records
from reports.storage import list_studies, load_study, open_storage
from search.cli import main


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(exc: pytest.ExceptionInfo[ReportError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_list_studies_journal_and_sqlite(journal_url: str, sqlite_url: str) -> None:
    assert list_studies(journal_url) == ["demo", "demo-arm"]
    assert list_studies(sqlite_url) == ["demo"]


@pytest.mark.parametrize("fixture", ["journal_url", "sqlite_url"])
def test_reading_changes_no_byte_and_creates_no_file(fixture: str, request) -> None:
    url = request.getfixturevalue(fixture)
    path = Path(url.split(":///", 1)[1])
    before, listing = _digest(path), sorted(path.parent.iterdir())
    df = load_records(url, "demo")
    assert len(df) == (43 if fixture == "journal_url" else 9)
    with pytest.raises((ReportError, optuna.exceptions.StorageInternalError)):
        load_study(url, "demo").set_user_attr("x", 1)  # the handle refuses to write
    assert _digest(path) == before
    assert sorted(path.parent.iterdir()) == listing


@pytest.mark.parametrize("scheme", ["journal", "sqlite"])
def test_missing_path_is_an_error_and_nothing_is_created(scheme: str, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "none.db"
    with pytest.raises(ReportError) as exc:
        list_studies(f"{scheme}:///{path}")
    assert "nothing was created" in _one_line(exc)
    assert not path.exists() and not path.parent.exists()


@pytest.mark.parametrize("scheme", ["journal", "sqlite"])
@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x01garbage bytes, not a storage" * 50, b'{"op_code": 0}\nnot json\n', b"partial"],
)
def test_corrupt_file_is_reported_and_never_overwritten(
    scheme: str, garbage: bytes, tmp_path: Path
) -> None:
    path = tmp_path / f"study.{scheme}"
    path.write_bytes(garbage)
    for call in (
        lambda: list_studies(f"{scheme}:///{path}"),
        lambda: load_records(f"{scheme}:///{path}", "demo"),
        lambda: open_storage(f"{scheme}:///{path}", read_only=False),
    ):
        with pytest.raises(ReportError) as exc:
            call()
        assert "corrupt" in _one_line(exc)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_sqlite_file_that_is_not_an_optuna_storage(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.commit()
    con.close()
    before = _digest(path)
    with pytest.raises(ReportError) as exc:
        list_studies(f"sqlite:///{path}")
    assert "not an Optuna storage" in _one_line(exc)
    assert _digest(path) == before


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://u@h/db", "unknown storage 'mysql'"),
        ("runs/study.log", "unknown storage"),
        ("journal://relative.log", "three slashes"),
        ("sqlite://", "three slashes"),
        ("postgresql+nodriver://u@h/db", "unknown postgresql driver"),
    ],
)
def test_bad_urls(url: str, words: str) -> None:
    with pytest.raises(ReportError, match=words) as exc:
        open_storage(url)
    _one_line(exc)


def test_unknown_study_lists_known_ones(journal_url: str) -> None:
    with pytest.raises(ReportError, match="unknown study 'nope'.*known: demo, demo-arm"):
        load_records(journal_url, "nope")


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 installed")
def test_postgres_without_driver_says_what_to_install() -> None:
    with pytest.raises(ReportError, match=r"pip install distillnas\[postgres\]") as exc:
        open_storage("postgresql://user:secret@localhost:5432/optuna")
    assert "secret" not in _one_line(exc)


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is None, reason="psycopg2 not installed")
def test_unreachable_postgres_is_one_line_without_password() -> None:
    with pytest.raises(ReportError) as exc:
        open_storage("postgresql://user:secret@127.0.0.1:1/optuna")
    assert "secret" not in _one_line(exc)


def test_cli_prints_one_line_and_exits_non_zero(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(b"garbage\n")
    code = main(
        ["report", "--study", "s", "--storage", f"journal:///{path}", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "corrupt journal" in err and "Traceback" not in err
    assert path.read_bytes() == b"garbage\n"
