"""The library (``s2d/``) stands apart from the machinery that reproduces the paper (``s2d/repro/``)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "s2d"
# `s2d reproduce` and `s2d bench` reach the machinery from the CLI; s2d.animate() and s2d animate find their default
# model in the run cache (s2d.repro.animate_model)
ENTRY_POINTS = {"cli.py", "__main__.py", "__init__.py"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_library_module_imports_the_reproduction_machinery():
    library = [p for p in PACKAGE.rglob("*.py") if "repro" not in p.relative_to(PACKAGE).parts
               and p.relative_to(PACKAGE).as_posix() not in ENTRY_POINTS]
    assert len(library) > 30  # the models, losses, data, detector, baselines, ...
    offenders = {p.relative_to(PACKAGE).as_posix(): sorted(n for n in _imports(p) if n.startswith("s2d.repro"))
                 for p in library}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_imports_a_private_name_of_another_module():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("s2d"):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                assert not private, (path.relative_to(PACKAGE).as_posix(), node.module, private)
