"""docs/ARCHITECTURE.md matches the code: every module is on the page, every path on it exists, and a
function or class named beside a module is defined in that module.

To update after moving code: change the page, not this test. Each bullet names its module as a path in
backticks (`catalog/store.py`); the names after it (`upsert_card()`, `Store`) are looked up in the last
module path before them.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ARCHITECTURE.md"
# where the modules the page must name live (tests/ and scripts/ are not described module by module)
PACKAGES = ("common", "catalog", "checkin", "local_llm", "engine", "app", "desktop", "commands", "demo", "bench",
            "packaging")
TOKEN = re.compile(r"`([^`]+)`")
CALLED = re.compile(r"\b([A-Za-z_]\w*)\(")
CLASS_LIKE = re.compile(r"^[A-Z]\w*[a-z]\w*$")  # CamelCase: a class or a dataclass, not a constant or a word


def _page() -> str:
    return DOC.read_text(encoding="utf-8")


def _modules() -> list[str]:
    """Every module the page must name: all of them but an __init__.py that holds only a docstring."""
    found = ["main.py"]
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            if path.name == "__init__.py":
                body = ast.parse(path.read_text(encoding="utf-8")).body
                if all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body):
                    continue
            found.append(path.relative_to(REPO).as_posix())
    return found


def _defined(path: Path) -> set[str]:
    """Names a module defines anywhere: functions, classes, methods, module constants."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _blocks() -> list[list[str]]:
    """The page's bullets and paragraphs, each as its backticked tokens (a name belongs to its own bullet)."""
    blocks, current = [], []
    for line in _page().splitlines():
        if line.startswith(("- ", "#")) or not line.strip():
            blocks.append(current)
            current = []
        current.append(line)
    blocks.append(current)
    return [[" ".join(t.split()) for t in TOKEN.findall("\n".join(b))] for b in blocks]


def _tokens() -> list[str]:
    return [t for block in _blocks() for t in block]


def _is_path(token: str) -> bool:
    return " " not in token and "(" not in token and (token.endswith(".py") or "/" in token and token.endswith("/"))


def test_every_module_is_on_the_page():
    named = {t for t in _tokens() if _is_path(t)}
    missing = [m for m in _modules() if m not in named]
    assert not missing, "docs/ARCHITECTURE.md does not name these modules (add a bullet `path` — what it owns):\n" + \
        "\n".join(missing)


def test_every_path_on_the_page_exists():
    gone = [t for t in _tokens() if _is_path(t) and not (REPO / t).exists()]
    assert not gone, f"docs/ARCHITECTURE.md names paths that do not exist: {gone}"


def test_names_beside_a_module_are_defined_in_it():
    wrong, cache = [], {}
    for block in _blocks():
        module = None
        for token in block:
            if _is_path(token):
                module = token if token.endswith(".py") and not token.startswith("tests/") else None
                continue
            if module is None:
                continue
            names = set(CALLED.findall(token)) | ({token} if CLASS_LIKE.match(token) else set())
            defined = cache.setdefault(module, _defined(REPO / module))
            wrong += [f"{name} (named beside {module})" for name in sorted(names - defined)]
    assert not wrong, "docs/ARCHITECTURE.md places these where they are not defined:\n" + "\n".join(wrong)


def test_the_page_stands_alone():
    assert "../shared" not in _page()  # CI and users have only the repository
