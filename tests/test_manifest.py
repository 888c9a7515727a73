"""One list of the result notebooks (``s2d.repro.reproduce.PAGES``): the book's table of contents and the notebooks'
README say the same."""

import re
from pathlib import Path

import yaml

from s2d.repro.reproduce import NOTEBOOKS, PAGES

ROOT = Path(__file__).resolve().parent.parent


def _toc_pages() -> dict[str, str]:
    """{file: title} of the book's executed notebooks (``results/...``) in ``book/_toc.yml``."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    chapters = [c for part in toc["parts"] for c in part["chapters"]]
    return {c["file"]: c.get("title") for c in chapters if c["file"].startswith("results/")}


def test_every_notebook_is_run_once_into_its_own_page():
    notebooks = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(page.notebook for page in PAGES) == notebooks
    assert len({page.page for page in PAGES}) == len(PAGES)


def test_the_books_contents_list_every_page_with_its_title():
    assert _toc_pages() == {f"results/{Path(page.page).stem}": page.title for page in PAGES}


def test_the_notebooks_readme_lists_every_notebook_and_its_page():
    rows = re.findall(r"^\| `([^`]+\.ipynb)` \|.*\| `results/([a-z0-9]+)` \|$", (NOTEBOOKS / "README.md").read_text(),
                      flags=re.M)
    assert sorted(rows) == sorted((page.notebook, Path(page.page).stem) for page in PAGES)


def test_the_published_book_is_built_as_make_book_builds_it():
    """The Pages workflow runs `make book` and publishes its output folder, as `make publish` does."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    build = workflow["jobs"]["build"]["steps"]
    assert any(step.get("run") == "make book" for step in build)
    uploaded = [step["with"]["path"] for step in build if "upload-pages-artifact" in step.get("uses", "")]
    makefile = (ROOT / "Makefile").read_text()
    assert uploaded == ["book/_build/html"] and "ghp-import" in makefile and " book/_build/html" in makefile
