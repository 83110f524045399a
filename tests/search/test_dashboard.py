"""The README says a study opens in optuna-dashboard (`optuna-dashboard runs/STUDY/study.log`):
start that command on a study written by the search loop and read the study back over HTTP."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed "
                    "(pip install 'distillnas[dashboard]')")

from tests.search.test_runner import make_run  # noqa: E402 - after the skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict | list:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - localhost only
        return json.loads(r.read())


def test_a_search_journal_opens_in_optuna_dashboard(tmp_path: Path) -> None:
    run = make_run(tmp_path, trials=3, study="dash")
    run.run()
    log = tmp_path / "study.log"
    assert log.is_file()
    exe = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    assert exe, "optuna_dashboard imports but its command is missing"
    port = _free_port()
    proc = subprocess.Popen([exe, str(log), "--port", str(port), "--host", "127.0.0.1",
                             "--server", "wsgiref", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/api"
    try:
        studies = None
        deadline = time.monotonic() + 60
        while studies is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"optuna-dashboard exited: {proc.communicate()[1][-500:]}")
            try:
                studies = _get(f"{base}/studies")
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert studies is not None, "optuna-dashboard did not answer within 60 s"
        listed = {s["study_name"]: s for s in studies["study_summaries"]}
        assert set(listed) == {"dash"}
        assert listed["dash"]["directions"] == ["maximize", "minimize"]
        detail = _get(f"{base}/studies/{listed['dash']['study_id']}")
        finished = [t for t in detail["trials"] if t["state"] == "Complete"]
        ours = [t for t in run.study.get_trials() if t.state.name == "COMPLETE"]
        assert len(finished) == len(ours) >= 1
        attrs = {a["key"]: a["value"] for a in finished[0]["user_attrs"]}
        assert attrs["status"] == "complete" and "key" in attrs and "psnr_y_db" in attrs
    finally:
        proc.terminate()
        proc.wait(timeout=10)
