"""The README's layout names every module there is, and the method page's equation table names code that exists."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "s2d"


def _layout() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Layout", 1)[1]
    return section.split("```", 2)[1]


def _modules() -> list[Path]:
    return sorted(p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py")
                  if p.name not in ("__init__.py", "__main__.py"))


def test_the_readme_layout_names_every_module_in_its_package():
    layout = _layout()
    library, repro = layout.split("s2d/repro/", 1)
    missing = []
    for module in _modules():
        where = repro.split("notebooks/")[0] if module.parts[0] == "repro" else library
        if len(module.parts) > 1 and module.parts[0] != "repro":  # a subpackage: named, its file in its paragraph
            paragraph = where.split(f"{module.parts[0]}/", 1)
            if len(paragraph) < 2 or not re.search(rf"\b{re.escape(module.name)}\b",
                                                     re.split(r"\n  \S", paragraph[1], maxsplit=1)[0]):
                missing.append(str(module))
        elif not re.search(rf"(?<![\w/]){re.escape(module.name)}\b", where):
            missing.append(str(module))
    assert not missing, f"README's layout does not name: {', '.join(missing)}"


def test_every_module_the_readme_layout_names_exists():
    names = {p.name for p in _modules()}
    named = set(re.findall(r"\b(\w+\.py)\b", _layout()))
    assert named, "no module found in the README's layout"
    assert named <= names, f"README's layout names modules that do not exist: {sorted(named - names)}"


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def test_the_method_pages_equation_table_names_code_that_cites_its_equation():
    rows = [line for line in (ROOT / "book" / "method.md").read_text().splitlines()
            if re.match(r"\| \(\d\)", line)]
    assert len(rows) >= 8, "the equation-to-code table lost its rows"
    for row in rows:
        equations = re.findall(r"\((\d)\)", row.split("|")[1])
        code = row.split("|")[3]
        # each `s2d/...py` is followed by the names defined in it, up to the next file
        for part in re.split(r"(?=`s2d/[\w/]+\.py`)", code):
            found = re.match(r"`(s2d/[\w/]+\.py)`", part)
            if not found:
                continue
            path = ROOT / found.group(1)
            assert path.is_file(), f"{row}: {path} does not exist"
            names = re.findall(r"`(\w+)`", part[found.end():])
            missing = set(names) - _defined(path)
            assert not missing, f"{found.group(1)} defines no {', '.join(sorted(missing))}"
            text = path.read_text()
            cited = [n for n in equations if f"Eq. ({n})" in text or f"Eqs. ({n})" in text or f", ({n})" in text]
            assert cited, f"{found.group(1)} cites none of Eq. {', '.join(equations)} (row {row!r})"
