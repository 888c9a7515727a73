"""The benchmark page's prose against the benchmarks it describes: every number its "What we see" cell quotes
is computed here again from the CSV files ``make bench`` wrote (``results/bench``), so a rerun of the benchmarks
that changes one fails this test until the page says the new number."""

import json
from pathlib import Path

import pandas as pd
import pytest

from s2d.repro import bench_report
from s2d.repro.bench import END_TO_END, FOMM, S2D

BENCH = Path("results/bench")
PAGE = Path("notebooks/07_bench.ipynb")


def what_we_see() -> str:
    cells = json.loads(PAGE.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("**What we see**"))


def span(values: pd.Series, fmt: str) -> str:
    """``low-high`` of ``values`` in ``fmt`` (one number when both ends print alike)."""
    low, high = format(values.min(), fmt), format(values.max(), fmt)
    return low if low == high else f"{low}-{high}"


def row(table: pd.DataFrame, **where) -> pd.Series:
    found = table
    for key, value in where.items():
        found = found[found[key] == value]
    assert len(found) == 1, (where, len(found))
    return found.iloc[0]


def cpu_numbers(tables: dict[str, pd.DataFrame]) -> list[str]:
    ratios, latency = tables["ratios"], tables["latency"]
    end_fast = ratios[(ratios.stage == END_TO_END) & (ratios.path == "fast")]
    ratio = lambda size, batch, widths="cpu": row(end_fast, widths=widths, resolution=size, batch=batch).s2d_over_first_order
    flops = lambda stage: row(latency, widths="cpu", model=S2D, stage=stage, path="fast", resolution=256,
                              batch=1).gflops_per_frame
    gains = bench_report.fast_path_speedup(latency).loc["cpu"] - 1
    generator = ratios[(ratios.stage == "generator") & (ratios.widths == "cpu")].s2d_over_first_order
    paper = lambda model: row(latency, widths="paper", model=model, stage=END_TO_END, path="fast", resolution=256,
                              batch=1).gflops_per_frame
    memory = lambda model, batch: row(tables["memory"], model=model, resolution=256, batch=batch).peak_mb
    steps = lambda model, size: row(tables["training"], model=model, resolution=size).steps_per_s
    speedup = pd.Series([steps(S2D, s) / steps(FOMM, s) for s in (64, 128)])
    frames = tables["frames"]
    longest = frames[frames.frames == frames.frames.max()]
    one = frames[frames.frames == 1].seconds * 1000
    return [
        f"{ratio(256, 1):.2f}x (batch 1) and {ratio(256, 8):.2f}x (batch 8) as many frames per second as FOMM at 256 px",
        f"{ratio(128, 1):.2f}x and {ratio(128, 8):.2f}x at 128 px", f"({ratio(64, 1):.2f}x and {ratio(64, 8):.2f}x)",
        f"{flops('generator'):.0f} of S2D's {flops(END_TO_END):.0f} GFLOPs per frame at 256 px",
        f"ratio stays within {span(generator, '.2f')}",
        f"gains {span(gains.loc[S2D].stack() * 100, '.0f')}% end to end for S2D",
        f"and {span(gains.loc[FOMM].stack() * 100, '.0f')}% for FOMM",
        f"slower than FOMM ({ratio(256, 1, 'paper'):.2f}x)",
        f"S2D counts {paper(S2D):.0f} GFLOPs per frame and FOMM {paper(FOMM):.0f}",
        f"{memory(S2D, 1):.0f} MB (S2D) and {memory(FOMM, 1):.0f} MB (FOMM) at 256 px, batch 1; "
        f"{memory(S2D, 8):.0f} and {memory(FOMM, 8):.0f} MB at batch 8",
        f"{span(speedup, '.1f')}x faster for S2D",
        f"{steps(S2D, 64):.1f} steps/s at 64 px and {steps(S2D, 128):.2f} at 128 px",
        f"against {steps(FOMM, 64):.2f} and {steps(FOMM, 128):.2f} for FOMM",
        f"S2D reaches {row(longest, model=S2D).frames_per_s:.0f} frames/s on a {longest.frames.iloc[0]}-frame video "
        f"and FOMM {row(longest, model=FOMM).frames_per_s:.0f}",
        f"a one-frame video costs about {round(one.mean(), -1):.0f} ms",
    ]


def cuda_numbers(tables: dict[str, pd.DataFrame]) -> list[str]:
    ratios, latency, compiled = tables["ratios"], tables["latency"], tables["compiled"]
    s2d = latency[(latency.model == S2D) & (latency.widths == "cpu") & (latency.path == "fast") & (latency.batch == 1)]
    ms = lambda stage: span(s2d[s2d.stage == stage].ms_per_frame, ".0f")
    end_fast = ratios[(ratios.stage == END_TO_END) & (ratios.path == "fast")].s2d_over_first_order
    fps = lambda widths, model, stage=END_TO_END: row(compiled, widths=widths, model=model, stage=stage).frames_per_s
    return [
        f"dense motion takes {ms('dense motion')} ms at every size", f"its landmark detector {ms('landmark detector')} ms", f"S2D runs at {span(end_fast, '.2f')}x FOMM",
        f"reaches {fps('cpu', S2D):.0f} frames/s at 256 px, batch 1, with the `cpu` widths and "
        f"{fps('paper', S2D):.0f} with the paper's",
        f"(the model alone: {fps('cpu', S2D, 'model'):.0f} and {fps('paper', S2D, 'model'):.0f})",
        f"against FOMM's {fps('cpu', FOMM):.0f} and {fps('paper', FOMM):.0f}",
    ]


@pytest.mark.parametrize("device, numbers", [("cpu", cpu_numbers), ("cuda", cuda_numbers)])
def test_the_bench_page_quotes_the_benchmarks_it_shows(device, numbers):
    if not (BENCH / device / "latency.csv").is_file():
        pytest.skip(f"no {BENCH / device}: make bench has not run there")
    text = " ".join(what_we_see().split())
    stale = [quote for quote in numbers(bench_report.load(BENCH / device)) if quote not in text]
    assert not stale, f"the bench page's prose does not quote results/bench/{device}: {stale}"
