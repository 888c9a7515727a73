"""The library (``s2d/``) stands apart from the machinery that reproduces the paper (``s2d/repro/``)."""

import ast
import json
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "s2d"
# `s2d reproduce` and `s2d bench` reach the machinery from the CLI; s2d.animate() and s2d animate find their default
# model in the run cache (s2d.repro.animate_model)
ENTRY_POINTS = {"cli.py", "__main__.py", "__init__.py"}
ROOT = PACKAGE.parent
# An equation is cited "Eq. (n)", several "Eqs. (4)-(8)" or "Eqs. (5), (6)", so that grep finds every citation:
# flag "Eq. 4", "Eq 4", "Eq.(4)", "Eqs. 5, 6", "Equation 4", and a bare second number in "Eqs. (4)-8".
# (Sphinx labels such as eq-warp and f_{eq} are lower case; "Eq. (9), 68 points" is a citation and a count.)
BAD_CITATION = re.compile(r"\bEqs?\b(?!\. \()(?=\.?\s*\(?\d)|\bEquations?\s*\(?\d"
                          r"|\bEqs\. \(\d+\)(?:\s*(?:-|–|,|and)\s*\(\d+\))*\s*(?:-|–|,|and)\s*\d")


def _texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) of a file: the file itself, or each cell's source (markdown and code) of a notebook."""
    rel = path.relative_to(ROOT).as_posix()
    if path.suffix != ".ipynb":
        return [(rel, path.read_text(encoding="utf-8"))]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(f"{rel} cell {i}", "".join(cell["source"])) for i, cell in enumerate(cells)]


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


def test_equations_are_cited_as_eq_n_in_brackets():
    files = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.yaml"), *(ROOT / "notebooks").glob("*.ipynb"),
             *(ROOT / "book").glob("*.md"), *(ROOT / "book" / "results").glob("*.ipynb"), ROOT / "README.md"]
    assert len(files) > 60
    offenders = []
    for path in files:
        for where, text in _texts(path):
            lines = text.splitlines()
            for match in BAD_CITATION.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{where}:{line}: {lines[line - 1].strip()}")
    assert offenders == []
