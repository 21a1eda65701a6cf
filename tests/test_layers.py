"""The layout shows the pipeline: layers as packages, each importing only from those below.

::

    recon/__init__.py                 the public API (re-exports; imports anything below it)
    cli                               the command line (may call the other faces)
    demo, notebook, hygiene           faces: wiring only
    console                           what the faces print
    workflows/                        reconcile, push, verify, report
    testing/                          local stand-ins: scim2-server, fault proxy, Graph test server
    targets/                          live systems: SCIM, Entra
    io/                               files
    core/                             pure: no files, no network, no faces
    errors                            shared by all

An AST walk over every import in recon/ — lazy ones inside functions included — checks the
rule, that no module imports a private (``_name``) from another, that there are no cycles, and
that the core neither opens files nor imports a network, database or spreadsheet library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RECON = Path(__file__).resolve().parent.parent / "recon"

RANKS = {
    "recon.errors": 0, "recon.core": 1, "recon.io": 2, "recon.targets": 3, "recon.testing": 4,
    "recon.workflows": 5, "recon.console": 6, "recon.demo": 7, "recon.notebook": 7,
    "recon.hygiene": 7, "recon.cli": 8, "recon": 9,
}
#: What the pure core may not import, whatever the layer rule says.
NOT_IN_CORE = ("httpx", "sqlite3", "openpyxl", "socket", "urllib.request", "msgraph", "azure",
               "kiota", "rich", "IPython", "itables", "matplotlib", "typer", "yaml",
               "scim2_server", "subprocess")
#: Calls that read or write files.
FILE_CALLS = {"open", "read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "unlink",
              "rmtree", "to_csv", "to_excel", "to_parquet", "read_csv", "read_excel"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(RECON.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(RECON.rglob("*.py"))}


def layer(module: str) -> str:
    """The layer a module belongs to: the longest key of RANKS it starts with."""
    return max((key for key in RANKS if module == key or module.startswith(key + ".")), key=len)


def imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every import of ``module``, lazy ones included."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            found += [(sub, [], node.lineno) for sub in submodules]
            rest = [n for n in names if f"{base}.{n}" not in MODULES]
            if rest or not submodules:
                found.append((base, rest, node.lineno))
    return found


def internal_edges() -> dict[str, set[str]]:
    return {module: {name for name, _, _ in imports(module) if name in MODULES} - {module}
            for module in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_from_the_layers_below(module: str) -> None:
    mine = layer(module)
    for name, _, line in imports(module):
        if name not in MODULES or name == module:
            continue
        theirs = layer(name)
        if theirs == mine:  # within a layer (a package's own modules): cycles are checked apart
            continue
        assert RANKS[theirs] < RANKS[mine], (
            f"{MODULES[module].relative_to(RECON.parent)}:{line}: {mine} imports {name} "
            f"({theirs}), a layer above or beside it")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_private_name_of_another(module: str) -> None:
    for name, names, line in imports(module):
        if name in MODULES and name != module:
            private = [n for n in names if n.startswith("_")]
            assert not private, (f"{MODULES[module].relative_to(RECON.parent)}:{line}: imports "
                                 f"{private[0]} from {name}: make it public where it lives")


def test_there_are_no_import_cycles() -> None:
    edges = internal_edges()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for other in sorted(edges[module]):
            if state.get(other) == 1:
                cycle = [*stack[stack.index(other):], other]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if other not in state:
                visit(other)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == "recon.core"))
def test_the_core_reaches_no_file_socket_or_face(module: str) -> None:
    for name, _, line in imports(module):
        assert not name.startswith(NOT_IN_CORE), (
            f"{MODULES[module].relative_to(RECON.parent)}:{line}: the core imports {name}")
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            assert called not in FILE_CALLS, (
                f"{MODULES[module].relative_to(RECON.parent)}:{node.lineno}: the core calls "
                f"{called}(): files belong in recon.io")


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions (prose, not code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_each_scim_urn_is_spelled_in_one_module() -> None:
    """``git grep`` finds each URN recon uses in recon.core.scim only (docstrings aside)."""
    from recon.core import scim

    urns = {value for name, value in vars(scim).items()
            if name.isupper() and isinstance(value, str) and value.startswith("urn:")}
    spelled: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        if module == "recon.core.scim":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prose = docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    id(node) not in prose):
                for urn in urns:
                    if urn in node.value:
                        spelled.setdefault(urn, set()).add(module)
    assert not spelled, f"SCIM URNs spelled outside recon.core.scim: {spelled}"
    assert {scim.CORE_USER, scim.ENTERPRISE, scim.PATCH_OP, scim.BULK_REQUEST} <= urns


def test_the_scim_urns_are_scim2_models_own() -> None:
    """recon.core.scim spells each URN so the hot path need not import scim2-models."""
    import scim2_models

    from recon.core import scim

    assert scim2_models.User.__schema__ == scim.CORE_USER
    assert scim2_models.Group.__schema__ == scim.CORE_GROUP
    assert scim2_models.EnterpriseUser.__schema__ == scim.ENTERPRISE
    assert scim2_models.ListResponse.__schema__ == scim.LIST_RESPONSE
    assert scim2_models.PatchOp.__schema__ == scim.PATCH_OP
    assert scim2_models.BulkRequest.__schema__ == scim.BULK_REQUEST
    assert scim2_models.Error.__schema__ == scim.ERROR


def test_the_notebooks_import_only_the_public_api_and_the_faces() -> None:
    scripts = sorted((RECON.parent / "notebooks" / "scripts").glob("*.py"))
    assert scripts
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("recon"):
                assert node.module == "recon" and all(
                    alias.name in ("notebook", "hygiene") for alias in node.names), (
                    f"{script.name}:{node.lineno}: imports from {node.module}")
            if isinstance(node, ast.Import):
                assert all(alias.name == "recon" or not alias.name.startswith("recon")
                           for alias in node.names), f"{script.name}:{node.lineno}"
