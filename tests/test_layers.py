"""The layer rules of DESIGN.md: dependencies point one way, Qt only in desktop/, heavy imports lazy."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# package -> packages it must never import
FORBIDDEN = {
    "common": {"catalog", "checkin", "local_llm", "engine", "desktop", "demo", "bench", "commands"},
    "engine": {"catalog", "checkin", "local_llm", "desktop", "commands"},
    "local_llm": {"catalog", "checkin", "engine", "desktop", "commands"},
    "catalog": {"checkin", "engine", "desktop", "commands"},
    "checkin": {"engine", "desktop", "commands"},
    "demo": {"desktop", "commands"},
    "bench": {"desktop"},
    "app": {"desktop", "commands"},
    # the CLI calls app/ for every action (catalog/engine only for their error types and argument checks)
    "commands": {"checkin", "local_llm", "desktop"},
    # the window builds no engine, Check-in or LLM call itself: it goes through app/
    "desktop": {"engine", "checkin", "local_llm", "commands"},
}
QT = {"PySide6", "shiboken6"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_dependencies_point_one_way():
    bad = []
    for package, banned in FORBIDDEN.items():
        for path in (REPO / package).rglob("*.py"):
            hits = _imports(path) & (banned | (QT if package != "desktop" else set()))
            if hits:
                bad.append(f"{path.relative_to(REPO)} imports {sorted(hits)}")
    for top in ("common", "catalog", "checkin", "local_llm", "engine", "demo", "bench", "commands", "app"):
        for path in (REPO / top).rglob("*.py"):
            if _imports(path) & ({"desktop"} | QT):
                bad.append(f"{path.relative_to(REPO)} imports desktop/Qt")
    assert not bad, "\n".join(bad)


def test_catalog_and_index_help_do_not_load_torch():
    code = (
        "import sys, catalog, catalog.card, main\n"
        "try:\n    main.main(['index', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'llama_cpp', 'PySide6') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout


PACKAGES = ("common", "catalog", "checkin", "local_llm", "engine", "app", "desktop", "commands", "demo", "bench")


# Pairs that import each other, named here until the change that parts them lands (issue #31: the engine
# helper moves the scheduler table out of engine/generate so engine/limits no longer reaches back into it).
# Delete a pair when its circle is gone; the test then keeps it gone.
KNOWN_CIRCLES: set = set()


def _module_imports(path: Path) -> set[str]:
    """Project modules a file imports, at module level or inside a function: a lazy import is a dependency too,
    and two modules that reach into each other are one tangle however late the import runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name.split(".")[0] in PACKAGES}


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (anywhere in the file)."""
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return {name: {m for m in _module_imports(path) if m in modules and m != name} for name, path in modules.items()}


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other, directly or round a loop (Tarjan's strongly connected
    components of more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for dep in sorted(graph[name]):
            if dep not in index:
                visit(dep)
                low[name] = min(low[name], low[dep])
            elif dep in on_stack:
                low[name] = min(low[name], index[dep])
        if low[name] == index[name]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == name:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return circles


def test_no_import_circle_even_through_function_level_imports():
    circles = [c for c in import_circles(import_graph()) if frozenset(c) not in KNOWN_CIRCLES]
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_circle_finder_sees_a_lazy_import_loop():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_circles(graph) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []
