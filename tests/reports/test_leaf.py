"""reports/ is a leaf: it imports without torch and never imports blocks/, profiles/ or search/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[2] / "reports"
FORBIDDEN = ("torch", "blocks", "profiles", "search")

_GUARD = """
import sys
for name in {forbidden!r}:
    sys.modules[name] = None  # any import of these now raises ImportError
import matplotlib
matplotlib.use("Agg")
import pkgutil, importlib, reports
for info in pkgutil.iter_modules(reports.__path__):
    importlib.import_module("reports." + info.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r} and sys.modules[m])
print("loaded:", loaded)
assert not loaded, loaded
"""


def test_every_reports_module_imports_with_torch_and_our_packages_blocked() -> None:
    code = _GUARD.format(forbidden=FORBIDDEN)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPORTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded: []" in done.stdout


def test_no_source_file_imports_torch_or_another_distillnas_package() -> None:
    offenders = []
    for path in sorted(REPORTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
