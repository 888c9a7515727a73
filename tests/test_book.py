"""The book builds with no network and typesets the paper's equations with vendored MathJax."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def _offline_prefix() -> list[str]:
    """Run under a new, empty network namespace where the machine allows it (root on Linux)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    if not (BOOK / "_vendor" / "mathjax" / "tex-chtml.js").is_file():
        pytest.skip("MathJax is not vendored yet: `make book` (or `make test`) vendors it")
    # the book shows figures and tables from results/, so it is built beside a copy of them
    root = tmp_path_factory.mktemp("repo")
    source = root / "book"
    shutil.copytree(BOOK, source, ignore=shutil.ignore_patterns("_build"))
    shutil.copytree(BOOK.parent / "results", root / "results")
    result = subprocess.run(
        [*_offline_prefix(), str(JUPYTER_BOOK), "build", str(source), "--warningiserror", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return source / "_build" / "html"


def test_index_and_pages_exist(built_book):
    for page in ("index.html", "intro.html", "method.html", "data.html", "status.html", "results/data.html",
                 *(f"results/table{n}.html" for n in (1, 2, 3, 4, 5))):
        assert (built_book / page).is_file(), page


def test_method_page_typesets_equations_1_to_9(built_book):
    """The paper's nine equations, our reading of the global branch (eq-candidates) and our foreground prior
    (eq-foreground)."""
    html = (built_book / "method.html").read_text()
    labels = re.findall(r'id="equation-eq-[a-z-]+"', html)
    assert len(labels) == 11
    assert 'id="equation-eq-candidates"' in labels and 'id="equation-eq-foreground"' in labels
    assert html.count('class="math notranslate nohighlight"') >= 9


def test_mathjax_is_local_and_no_script_comes_from_the_web(built_book):
    html = (built_book / "method.html").read_text()
    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert any("_static/mathjax/tex-chtml.js" in s for s in sources)
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    # only one MathJax entry point is loaded (none of its many component files)
    assert sum("mathjax" in s for s in sources) == 1


def test_copyright_is_set(built_book):
    assert "s2d contributors" in (built_book / "index.html").read_text() or "s2d contributors" in (
        built_book / "intro.html"
    ).read_text()


def test_data_pages_show_the_figures_and_the_measured_table(built_book):
    assert "SynthTalk" in (built_book / "data.html").read_text()
    html = (built_book / "results" / "data.html").read_text()
    images = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(images) >= 3  # identities with landmarks and parsing, a clip, the motion histograms
    for src in images:
        assert (built_book / "results" / src).resolve().is_file(), src
    assert "megabytes" in html and "synth-vox" in html and "synth-ff" in html


def test_result_pages_show_the_paper_and_our_rows_and_the_verdicts(built_book):
    ours = {1: "S2D (ours) [synth-vox", 2: "S2D (ours) [synth-vox", 3: "S2D (ours) [synth-ff",
            4: "no local motion [synth-vox"}
    for number, row in ours.items():
        html = (built_book / "results" / f"table{number}.html").read_text()
        assert "[paper," in html and row in html, number
        assert "cannot tell" in html and "seed" in html, number
    for number in (1, 2, 3):
        assert "copy the source frame" in (built_book / "results" / f"table{number}.html").read_text()


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_committed_results_and_the_books_pages_come_from_the_same_run(number):
    """The executed notebook in the book shows the numbers of ``results/cpu/table<N>.csv``, same commit."""
    import json

    import pandas as pd

    results = BOOK.parent / "results" / "cpu"
    notebook = json.loads((BOOK / "results" / f"table{number}.ipynb").read_text())
    shown = "".join("".join(output.get("data", {}).get("text/html", "")) + "".join(output.get("text", ""))
                    for cell in notebook["cells"] if cell["cell_type"] == "code" for output in cell["outputs"])
    meta = json.loads((results / f"table{number}.json").read_text())
    assert meta["git_commit"] in shown
    table = pd.read_csv(results / f"table{number}.csv", index_col=0)
    values = [f"{v:.4f}" for v in table.drop(columns=["seeds"]).to_numpy().ravel() if pd.notna(v)]
    assert values and all(v in shown for v in values)


def test_the_intro_and_the_readme_say_what_trained_the_cpu_models():
    """What trained the committed `cpu` results (random-weight or ImageNet VGG-19, GAN weight) is what the prose says."""
    import json

    from s2d.config import config_from_dict

    loss = config_from_dict(json.loads((BOOK.parent / "results" / "cpu" / "run.json").read_text())["config"]).loss
    for text in ((BOOK / "intro.md").read_text(), (BOOK.parent / "README.md").read_text()):
        flat = " ".join(text.split())
        assert ("randomly initialised VGG-19" in flat) == (loss.perceptual_backbone == "random")
        assert ("GAN weight is 0" in flat or "has **weight 0**" in flat) == (loss.gan == 0)
