"""``distillnas data fetch``: download standard SR sets from their official sources, verified.

Each archive is streamed with urllib to a temporary file next to the destination, checked
against its checksum (SHA-256 where known, else MD5), unpacked member by member with path
checks (no absolute paths, no ``..``, no links or devices), and the finished folders are moved
into place with ``os.replace``: an interrupted or corrupt fetch leaves nothing behind.

Checksums: no SHA-256 of these files is known offline, so the table says ``None`` for it.
The MD5 values are the ones torchSR publishes for the same URLs (github.com/Coloquinte/torchSR,
``torchsr/datasets/{benchmarks,div2k}.py`` @ 99674a4). Where no checksum is known at all a
fetch still works but prints a warning that the file is not verified, with its SHA-256.

The base URL can be replaced by a mirror (``--mirror URL`` or ``$DISTILLNAS_DATA_MIRROR``): the
archive is then fetched from ``{mirror}/{file name}``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from blocks.errors import UserError

MIRROR_ENV = "DISTILLNAS_DATA_MIRROR"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60.0
TORCHSR = "as published by torchSR @ 99674a4"


@dataclass(frozen=True)
class Archive:
    """One downloadable file and what is known to verify it."""

    url: str
    sha256: str | None = None
    md5: str | None = None
    checksum_source: str = ""

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def kind(self) -> str:
        return "zip" if self.filename.endswith(".zip") else "tar"


@dataclass(frozen=True)
class Member:
    """A folder inside an archive (``prefix``) that lands at ``dest`` under the set's folder."""

    archive: Archive
    prefix: str
    dest: str = ""


@dataclass(frozen=True)
class Source:
    """A named data set: the folder it becomes under ``--to`` and where its parts come from."""

    name: str
    folder: str
    members: tuple[Member, ...]
    note: str


EDSR_BENCHMARK = Archive(
    "https://cv.snu.ac.kr/research/EDSR/benchmark.tar",
    md5="4ace41d33c2384b97e6b320cd0afd6ba",
    checksum_source=TORCHSR,
)
_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
DIV2K_VALID_HR = Archive(
    _DIV2K + "DIV2K_valid_HR.zip", md5="9fcdda83005c5e5997799b69f955ff88", checksum_source=TORCHSR
)
DIV2K_VALID_LR = {
    2: Archive(
        _DIV2K + "DIV2K_valid_LR_bicubic_X2.zip",
        md5="1512c9a3f7bde2a1a21a73044e46b9cb",
        checksum_source=TORCHSR,
    ),
    3: Archive(
        _DIV2K + "DIV2K_valid_LR_bicubic_X3.zip",
        md5="18b1d310f9f88c13618c287927b29898",
        checksum_source=TORCHSR,
    ),
    4: Archive(
        _DIV2K + "DIV2K_valid_LR_bicubic_X4.zip",
        md5="21962de700c8d368c6ff83314480eff0",
        checksum_source=TORCHSR,
    ),
}
DIV2K_TRAIN_HR = Archive(
    _DIV2K + "DIV2K_train_HR.zip", md5="bdc2d9338d4e574fe81bf7d158758658", checksum_source=TORCHSR
)


def _benchmark(name: str, folder: str, note: str) -> Source:
    return Source(name, folder, (Member(EDSR_BENCHMARK, f"benchmark/{folder}/"),), note)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        _benchmark("set5", "Set5", "5 images, HR + LR_bicubic X2/X3/X4 (EDSR benchmark.tar)"),
        _benchmark("set14", "Set14", "14 images, HR + LR_bicubic X2/X3/X4 (EDSR benchmark.tar)"),
        _benchmark("b100", "B100", "100 BSD images, HR + LR_bicubic X2/X3/X4 (EDSR benchmark.tar)"),
        _benchmark("urban100", "Urban100", "100 images, HR + LR_bicubic X2/X3/X4 (EDSR tar)"),
        Source(
            "div2k",
            "DIV2K",
            (Member(DIV2K_VALID_HR, "DIV2K_valid_HR/", "HR"),)
            + tuple(
                Member(a, f"DIV2K_valid_LR_bicubic/X{s}/", f"LR_bicubic/X{s}")
                for s, a in DIV2K_VALID_LR.items()
            ),
            "DIV2K validation (0801-0900), HR + LR_bicubic X2/X3/X4; the NTIRE evaluation set",
        ),
        Source(
            "div2k-train",
            "DIV2K_train",
            (Member(DIV2K_TRAIN_HR, "DIV2K_train_HR/", "HR"),),
            "DIV2K training (0001-0800), HR only (about 3.5 GB); LR made on the fly",
        ),
    )
}
ALIASES = {"bsd100": "b100", "div2k-valid": "div2k"}


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def resolve_source(name: str, sources: Mapping[str, Source] | None = None) -> Source:
    """The source for ``name`` (case-insensitive); an unknown name lists the known ones."""
    table = SOURCES if sources is None else sources
    key = ALIASES.get(name.lower(), name.lower())
    if key not in table:
        raise UserError(f"unknown data set {name!r}; known: {', '.join(table)}")
    return table[key]


def archive_url(archive: Archive, mirror: str | None = None) -> str:
    """The URL to download: ``{mirror}/{file name}`` with a mirror (argument, then env), else
    the official one."""
    base = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    return f"{base.rstrip('/')}/{archive.filename}" if base else archive.url


def checksum_status(archive: Archive) -> str:
    """How a download of ``archive`` will be verified, in words."""
    if archive.sha256:
        return "sha256"
    if archive.md5:
        return f"md5 only ({archive.checksum_source})" if archive.checksum_source else "md5 only"
    return "NOT VERIFIED (no checksum known)"


def download(url: str, dest_dir: Path, log: Callable[[str], None] = _stderr) -> tuple[Path, dict]:
    """Stream ``url`` into a temporary file in ``dest_dir``; returns (path, {algo: hexdigest})."""
    hashes = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    fd, tmp = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=dest_dir)
    log(f"downloading {url}")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            total = 0
            while chunk := resp.read(CHUNK_BYTES):
                out.write(chunk)
                total += len(chunk)
                for h in hashes.values():
                    h.update(chunk)
        log(f"  {total / 1e6:.1f} MB")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        Path(tmp).unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise UserError(f"{url}: download failed: {reason}") from None
    return Path(tmp), {k: h.hexdigest() for k, h in hashes.items()}


def verify(
    archive: Archive, url: str, digests: Mapping[str, str], log: Callable[[str], None]
) -> None:
    """Compare the download's digests with the table; a mismatch is a UserError."""
    for algo in ("sha256", "md5"):
        want = getattr(archive, algo)
        if want:
            got = digests[algo]
            if got.lower() != want.lower():
                raise UserError(
                    f"{url}: {algo} mismatch (expected {want}, got {got}): the download is corrupt "
                    "or changed upstream; nothing was kept"
                )
            log(f"  verified ({checksum_status(archive)})")
            return
    log(
        f"WARNING: {url}: no checksum known, the file is NOT verified "
        f"(its sha256 is {digests['sha256']})"
    )


def _safe_relpath(name: str, archive_path: Path | str) -> PurePosixPath:
    """An archive member name as a relative path, refusing absolute paths and ``..``."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]):
        raise UserError(f"{archive_path}: unsafe path {name!r} in archive (refused to extract)")
    return posix


def _iter_members(path: Path, kind: str) -> Iterator[tuple[str, str, Callable[[], IO[bytes]]]]:
    """(name, 'file'|'dir'|'other', opener) for every member of a tar or zip archive."""
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                mode = info.external_attr >> 16
                if info.is_dir():
                    yield info.filename, "dir", lambda: None
                elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # symlink etc.
                    yield info.filename, "other", lambda: None
                else:
                    yield info.filename, "file", lambda info=info: zf.open(info)
    else:
        with tarfile.open(path) as tf:
            for info in tf:
                kind_ = "dir" if info.isdir() else "file" if info.isfile() else "other"
                yield info.name, kind_, lambda info=info: tf.extractfile(info)


def extract(path: Path, kind: str, wanted: Sequence[tuple[str, Path]], label: str) -> list[int]:
    """Unpack members under each ``prefix`` into its ``target`` folder; returns files per prefix.

    Every member name is checked (no absolute path, no ``..``); links and devices are refused.
    """
    counts = [0] * len(wanted)
    try:
        for name, what, opener in _iter_members(path, kind):
            rel = _safe_relpath(name, label)
            if what == "other":
                raise UserError(f"{label}: archive member {name!r} is a link or device (refused)")
            text = rel.as_posix() + ("/" if what == "dir" else "")
            for i, (prefix, target) in enumerate(wanted):
                if not text.startswith(prefix) or text == prefix:
                    continue
                out = target.joinpath(*PurePosixPath(text[len(prefix) :]).parts)
                if what == "dir":
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with opener() as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK_BYTES)
                counts[i] += 1
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError(f"{label}: not a valid {kind} archive: {exc}") from None
    return counts


def fetch(
    names: Sequence[str],
    to: str | Path,
    *,
    mirror: str | None = None,
    force: bool = False,
    sources: Mapping[str, Source] | None = None,
    log: Callable[[str], None] = _stderr,
) -> list[Path]:
    """Download, verify and unpack the named sets into ``to/{folder}``; returns those folders.

    Each archive is downloaded once even when several sets share it (EDSR ``benchmark.tar``).
    An existing destination folder is a UserError unless ``force`` (then it is replaced).
    """
    if not names:
        raise UserError(
            "no data set named; known: " + ", ".join(SOURCES if sources is None else sources)
        )
    chosen = list({s.name: s for s in (resolve_source(n, sources) for n in names)}.values())
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    for src in chosen:
        final = to / src.folder
        if final.exists() and not force:
            raise UserError(f"{final}: already exists; remove it or pass --force")
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=to))
    try:
        by_archive: dict[Archive, list[tuple[Source, Member]]] = {}
        for src in chosen:
            for member in src.members:
                by_archive.setdefault(member.archive, []).append((src, member))
        for archive, parts in by_archive.items():
            url = archive_url(archive, mirror)
            tmp, digests = download(url, staging, log)
            try:
                verify(archive, url, digests, log)
                wanted = [(m.prefix, staging / s.folder / m.dest) for s, m in parts]
                counts = extract(tmp, archive.kind, wanted, url)
            finally:
                tmp.unlink(missing_ok=True)
            for (src, member), count in zip(parts, counts, strict=True):
                if count == 0:
                    raise UserError(
                        f"{url}: archive has no files under {member.prefix} ({src.name})"
                    )
        done = []
        for src in chosen:
            final = to / src.folder
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging / src.folder, final)
            log(f"{src.name}: {final}")
            done.append(final)
        return done
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def source_rows(sources: Mapping[str, Source] | None = None) -> list[dict[str, str]]:
    """One row per known set: name, folder, URLs, checksum status, note (for ``data list``)."""
    table = SOURCES if sources is None else sources
    rows = []
    for src in table.values():
        archives = list(dict.fromkeys(m.archive for m in src.members))
        rows.append(
            {
                "name": src.name,
                "folder": src.folder,
                "urls": " ".join(a.url for a in archives),
                "checksum": "; ".join(sorted({checksum_status(a) for a in archives})),
                "note": src.note,
            }
        )
    return rows
