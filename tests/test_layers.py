"""Imports point downward only (docs/architecture.md): bot → handlers → storage → rubric."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"rubric", "storage", "handlers", "reports", "bot"}
ALLOWED = {
    "rubric": set(),
    "storage": {"rubric"},
    "reports": {"storage", "rubric"},
    "handlers": {"reports", "storage", "rubric"},
    "bot": {"handlers", "reports", "storage", "rubric"},
}
PLATFORM_LIBRARIES = {"telegram", "linebot", "starlette", "uvicorn", "apscheduler", "typer"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(OURS))
def test_package_imports_only_downward(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        imported = _imports(path)
        wrong = (imported & OURS) - ALLOWED[package] - {package}
        if package in {"rubric", "storage", "handlers", "reports"}:
            wrong |= imported & PLATFORM_LIBRARIES
        if wrong:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(wrong)}")
    assert offenders == []


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from bot.cli import app\nimport telegram\n", encoding="utf-8")
    assert _imports(bad) == {"bot", "telegram"}
