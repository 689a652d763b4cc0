"""The catalog is the only code that speaks SQL.

Every module of ``engine`` and ``app`` outside ``engine/catalog`` is read as
source and must neither run SQL (``execute``, ``executemany``,
``executescript``), nor reach the catalog's connection, nor import sqlite3.
Code that needs a new read or write asks ``engine.catalog`` for a named
operation instead.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "engine" / "catalog"
SQL_CALLS = {"execute", "executemany", "executescript"}
CONNECTION = {"conn", "_conn"}


def _modules() -> list[Path]:
    files = sorted((ROOT / "engine").rglob("*.py")) + sorted((ROOT / "app").rglob("*.py"))
    return [f for f in files if CATALOG not in f.parents]


def _offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in SQL_CALLS | CONNECTION:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            module = getattr(node, "module", None) or ""
            if "sqlite3" in names or module == "sqlite3":
                found.append(f"line {node.lineno}: imports sqlite3")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_catalog_speaks_sql(path: Path) -> None:
    offences = _offences(path.read_text(encoding="utf-8"))
    assert not offences, (
        f"{path.relative_to(ROOT)} speaks SQL or holds the connection "
        f"({'; '.join(offences)}): add a named operation to engine/catalog and call it"
    )


def test_the_check_catches_sql_and_the_connection() -> None:
    source = (
        "import sqlite3\n"
        "def f(cat):\n"
        "    cat.conn.execute('SELECT 1')\n"
        "    cat._conn.executemany('x', [])\n"
    )
    found = _offences(source)
    assert "line 1: imports sqlite3" in found
    assert any(".execute" in f for f in found)
    assert any(".executemany" in f for f in found)
    assert any(".conn" in f for f in found) and any("._conn" in f for f in found)
    assert _offences("def f(cat):\n    return cat.people_rows()\n") == []
