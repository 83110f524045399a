"""`data fetch` against a local HTTP server: verified, corrupted, unverified, unsafe archives."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from blocks.errors import UserError
from search.cli import main
from search.datasets import downscale, load_pairs
from search.fetch import SOURCES, Archive, Member, Source, archive_url, fetch
from search.images import save_image


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A quiet http.server on 127.0.0.1 serving a fresh folder, in a thread."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/data", root / "data"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _png_bytes(img: np.ndarray, tmp: Path) -> bytes:
    path = save_image(img, tmp / "x.png")
    return path.read_bytes()


def _tar(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path.read_bytes()


def _benchmark_files(tmp: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    files = {}
    for folder in ("Set5", "Set14"):
        hr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
        files[f"benchmark/{folder}/HR/img.png"] = _png_bytes(hr, tmp)
        files[f"benchmark/{folder}/LR_bicubic/X2/imgx2.png"] = _png_bytes(downscale(hr, 2), tmp)
    return files


def _sources(sha256: str | None = None, md5: str | None = None) -> dict[str, Source]:
    arc = Archive("https://example.invalid/research/benchmark.tar", sha256=sha256, md5=md5)
    return {
        name: Source(name, folder, (Member(arc, f"benchmark/{folder}/"),), "test")
        for name, folder in (("set5", "Set5"), ("set14", "Set14"))
    }


def test_good_checksum_two_sets_one_download(server, tmp_path) -> None:
    url, served = server
    data = _tar(served / "benchmark.tar", _benchmark_files(tmp_path))
    logs: list[str] = []
    out = fetch(
        ["Set5", "set14"],
        tmp_path / "to",
        mirror=url,
        sources=_sources(sha256=hashlib.sha256(data).hexdigest()),
        log=logs.append,
    )
    assert [p.name for p in out] == ["Set5", "Set14"]
    assert sum(line.startswith("downloading") for line in logs) == 1
    assert any("verified (sha256)" in line for line in logs)
    (pair,) = load_pairs(tmp_path / "to" / "Set5", 2)
    assert pair.hr.shape == (24, 20, 3) and pair.lr.shape == (12, 10, 3)
    assert sorted(p.name for p in (tmp_path / "to").iterdir()) == ["Set14", "Set5"]  # no leftovers


def test_corrupted_download_leaves_nothing(server, tmp_path) -> None:
    url, served = server
    data = _tar(served / "benchmark.tar", _benchmark_files(tmp_path))
    good_sha = hashlib.sha256(data).hexdigest()
    (served / "benchmark.tar").write_bytes(data[:600] + bytes([data[600] ^ 0xFF]) + data[601:])
    with pytest.raises(UserError, match="sha256 mismatch") as err:
        fetch(["set5"], tmp_path / "to", mirror=url, sources=_sources(sha256=good_sha), log=print)
    assert "benchmark.tar" in str(err.value) and "\n" not in str(err.value)
    assert list((tmp_path / "to").iterdir()) == []
    (served / "benchmark.tar").write_bytes(data)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    fetch(["set5"], tmp_path / "to", mirror=url, sources=_sources(md5=md5), log=print)
    assert (tmp_path / "to" / "Set5" / "HR" / "img.png").is_file()


def test_unverified_warns_with_sha256(server, tmp_path, monkeypatch) -> None:
    url, served = server
    data = _tar(served / "benchmark.tar", _benchmark_files(tmp_path))
    monkeypatch.setenv("DISTILLNAS_DATA_MIRROR", url)  # the mirror from the environment
    logs: list[str] = []
    fetch(["set5"], tmp_path / "to", sources=_sources(), log=logs.append)
    warning = [line for line in logs if line.startswith("WARNING")]
    assert len(warning) == 1 and "NOT verified" in warning[0]
    assert hashlib.sha256(data).hexdigest() in warning[0]


def test_existing_destination_needs_force(server, tmp_path) -> None:
    url, served = server
    _tar(served / "benchmark.tar", _benchmark_files(tmp_path))
    (tmp_path / "to" / "Set5").mkdir(parents=True)
    (tmp_path / "to" / "Set5" / "old.txt").write_text("old")
    with pytest.raises(UserError, match="already exists"):
        fetch(["set5"], tmp_path / "to", mirror=url, sources=_sources(), log=print)
    fetch(["set5"], tmp_path / "to", mirror=url, sources=_sources(), force=True, log=print)
    assert not (tmp_path / "to" / "Set5" / "old.txt").exists()
    assert (tmp_path / "to" / "Set5" / "HR" / "img.png").is_file()


@pytest.mark.parametrize(
    ("files", "links", "match"),
    [
        ({"benchmark/Set5/../../evil.txt": b"x"}, None, "unsafe path"),
        ({"/tmp/evil.txt": b"x"}, None, "unsafe path"),
        ({"benchmark/Set5/HR/a.png": b"x"}, {"benchmark/Set5/HR/l.png": "/etc/passwd"}, "link"),
        ({"benchmark/Other/HR/a.png": b"x"}, None, "no files under benchmark/Set5/"),
    ],
)
def test_unsafe_or_wrong_archives_refused(server, tmp_path, files, links, match) -> None:
    url, served = server
    _tar(served / "benchmark.tar", files, links)
    with pytest.raises(UserError, match=match):
        fetch(["set5"], tmp_path / "to", mirror=url, sources=_sources(), log=print)
    assert list((tmp_path / "to").iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_zip_members_map_to_standard_layout(server, tmp_path) -> None:
    url, served = server
    served.mkdir(parents=True)
    img = _png_bytes(np.zeros((8, 8, 3), np.uint8), tmp_path)
    hr_zip, lr_zip = served / "HR.zip", served / "LR.zip"
    with zipfile.ZipFile(hr_zip, "w") as zf:
        zf.writestr("DIV2K_valid_HR/", b"")
        zf.writestr("DIV2K_valid_HR/0801.png", img)
    with zipfile.ZipFile(lr_zip, "w") as zf:
        zf.writestr("DIV2K_valid_LR_bicubic/X2/0801x2.png", img)
    hr_arc = Archive("https://example.invalid/HR.zip")
    lr_arc = Archive("https://example.invalid/LR.zip")
    src = Source(
        "div2k",
        "DIV2K",
        (
            Member(hr_arc, "DIV2K_valid_HR/", "HR"),
            Member(lr_arc, "DIV2K_valid_LR_bicubic/X2/", "LR_bicubic/X2"),
        ),
        "test",
    )
    fetch(["div2k"], tmp_path / "to", mirror=url, sources={"div2k": src}, log=print)
    assert (tmp_path / "to" / "DIV2K" / "HR" / "0801.png").is_file()
    assert (tmp_path / "to" / "DIV2K" / "LR_bicubic" / "X2" / "0801x2.png").is_file()


def test_http_error_and_unknown_name(server, tmp_path) -> None:
    url, _ = server
    with pytest.raises(UserError, match="download failed") as err:
        fetch(["set5"], tmp_path / "to", mirror=url, sources=_sources(), log=print)
    assert f"{url}/benchmark.tar" in str(err.value)
    with pytest.raises(UserError, match="unknown data set 'set6'; known: set5, set14"):
        fetch(["set6"], tmp_path / "to", sources=_sources())


def test_cli_fetch_good_and_corrupt(server, tmp_path, monkeypatch, capsys) -> None:
    url, served = server
    data = _tar(served / "benchmark.tar", _benchmark_files(tmp_path))
    table = _sources(sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setattr("search.fetch.SOURCES", table)
    assert main(["data", "fetch", "set5", "--to", str(tmp_path / "to"), "--mirror", url]) == 0
    assert (tmp_path / "to" / "Set5" / "HR" / "img.png").is_file()
    (served / "benchmark.tar").write_bytes(data[:100])  # truncated download
    capsys.readouterr()
    assert main(["data", "fetch", "set14", "--to", str(tmp_path / "to"), "--mirror", url]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert "sha256 mismatch" in err[-1] and "benchmark.tar" in err[-1]
    assert not (tmp_path / "to" / "Set14").exists()


def test_source_table_is_honest() -> None:
    hexdigits = re.compile(r"^[0-9a-f]+$")
    for src in SOURCES.values():
        for member in src.members:
            arc = member.archive
            assert arc.url.startswith("https://")
            assert arc.sha256 is None or (len(arc.sha256) == 64 and hexdigits.match(arc.sha256))
            assert arc.md5 is None or (len(arc.md5) == 32 and hexdigits.match(arc.md5))
            assert archive_url(arc, "http://m/x/") == f"http://m/x/{arc.filename}"
    assert {"set5", "set14", "b100", "urban100", "div2k"} <= set(SOURCES)
