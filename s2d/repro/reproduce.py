"""``make reproduce``: regenerate every result of a profile under ``results/<profile>/``.

A dependency graph of cached steps, each timed:

1. ``data``: the two datasets of the profile (:mod:`s2d.data.catalog`): SynthTalk's variants
   (``data/synthtalk/``, rebuilt only when their settings or the generator change), or the
   prepared real datasets (checked, never rendered in their place), and their statistics
   (``synthtalk.csv``);
2. ``train``: every model the tables need (:func:`s2d.repro.plan.model_runs`), each trained
   once per settings, code and data (``runs/<profile>/``), never inside a notebook;
3. ``notebooks``: each result notebook executed by papermill into the book's folder as soon as
   the models it evaluates are trained (beside the models still training); it evaluates the
   cached models (evaluations are cached too) and writes its table's CSVs (the gallery's page
   is ``make gallery``'s: :mod:`s2d.repro.gallery`);
4. ``book``: the Jupyter Book, when asked for.

The pipeline records what it ran and on what in ``results/<profile>/run.json``
(profile, config fingerprint, seeds, environment, git commit, the wall time of each
step, and the status of each table) and prints the time of each stage.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch
import yaml

from s2d.config import Config
from s2d.data import catalog
from s2d.io import atomic_path, write_json, write_text
from s2d.repro.cache import trained, trained_detector, training_inputs
from s2d.repro.parallel import default_jobs
from s2d.repro.plan import detector_runs, model_runs, real_data
from s2d.runtime import environment, pick_device

RESULTS_ROOT = Path("results")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class Page:
    """One result notebook and its page in the book: the one list of them (``book/_toc.yml`` and
    ``notebooks/README.md`` are checked against it by ``tests/test_manifest.py``)."""

    notebook: str  # in notebooks/
    page: str  # the executed copy in book/results/
    title: str  # the page's title, as in the book's table of contents
    result: str  # what it reproduces (run.json's "tables")
    params: dict = field(default_factory=dict)  # papermill parameters beyond the profile and folders
    # the make target that executes it: "reproduce" (every run), or its own target for a page whose models do not fit
    # the cpu profile's hour (make reproduce then leaves the committed page as it is)
    target: str = "reproduce"
    tables: tuple[int, ...] = ()  # the tables whose models it evaluates (make reproduce runs it once they are trained)


PAGES = (
    Page("00_data.ipynb", "data.ipynb", "The data in numbers", "synthtalk"),
    Page("01_main_results.ipynb", "table1.ipynb", "Table 1: same identity", "table1_same_identity", tables=(1,)),
    Page("02_cross_identity.ipynb", "table2.ipynb", "Table 2: cross identity", "table2_cross_identity", tables=(2,)),
    Page("01b_faceforensics.ipynb", "table3.ipynb", "Table 3: FaceForensics protocol", "table3_faceforensics",
         tables=(3,)),
    Page("03_ablations.ipynb", "table4.ipynb", "Table 4: ablations", "table4_ablations", tables=(4,)),
    Page("04_detector.ipynb", "table5.ipynb", "Table 5: landmark detectors", "table5_detectors", tables=(5,)),
    Page("05_gallery.ipynb", "gallery.ipynb", "Real faces: the gallery", "figures_3_4_6_real_faces", target="gallery"),
    Page("06_explore.ipynb", "explore.ipynb", "Explore the model", "explore", tables=(1,)),  # the Table 1 model
    Page("07_bench.ipynb", "bench.ipynb", "Benchmarks: S2D against the first-order model",
         "benchmarks (reads results/bench, which make bench writes)", {"bench": "results/bench"}),
)

REPRODUCED = tuple(page for page in PAGES if page.target == "reproduce")  # the pages make reproduce executes
PAGE_ORDER = {page.page: k for k, page in enumerate(PAGES)}  # the book's


MEASURED_BUILD_COLUMNS = ("build_seconds", "render_fps")  # known only for a dataset built on this machine


def data_step(config: Config, out_dir: Path, data_root: Path) -> dict[str, dict]:
    """Build (or reuse) the profile's two datasets and write their statistics (figures: ``00_data``)."""
    steps, rows = {}, []
    for data in (config.data, catalog.faceforensics_data(config.data)):
        start, variant = time.perf_counter(), data.dataset
        path, built = catalog.ensure(config, data, synth_root=data_root)
        seconds = time.perf_counter() - start
        steps[f"data:{variant}"] = {"path": str(path), "built": built, "wall_time_s": round(seconds, 2)}
        row = {"variant": variant, "profile": config.profile, "seed": config.seed,
               "dataset_fingerprint": catalog.fingerprint(path), **catalog.stats(path)}
        if built:
            row.update(build_seconds=round(seconds, 1), render_fps=round(row["frames"] / seconds, 1))
        rows.append(row)
    stats_path = out_dir / "synthtalk.csv"
    table = pd.DataFrame(rows)
    previous = pd.read_csv(stats_path) if stats_path.is_file() else pd.DataFrame()
    if "dataset_fingerprint" in previous.columns:
        # a dataset reused from the cache keeps the build time measured when it was made, if it was
        # measured here (same fingerprint); otherwise its build time is unknown (empty)
        previous = previous.set_index("dataset_fingerprint")
        for i, row in table.iterrows():
            if not steps[f"data:{row['variant']}"]["built"] and row["dataset_fingerprint"] in previous.index:
                for column in [c for c in MEASURED_BUILD_COLUMNS if c in previous.columns]:
                    table.loc[i, column] = previous.loc[row["dataset_fingerprint"], column]
    measured = [c for c in MEASURED_BUILD_COLUMNS if c in table.columns]
    table = table[[c for c in table.columns if c not in measured] + measured]  # one column order, run or cached
    with atomic_path(stats_path) as tmp:
        table.to_csv(tmp, index=False)
    return steps


def ddp_plan(config: Config, processes: int, jobs: int | None = None) -> str:
    """How ``make reproduce GPUS=processes`` trains each model, in one line; ValueError, in one line, when it
    cannot: fewer than one process, a ``train.batch_size`` that the processes cannot share equally (DDP gives
    each its slice of every batch), or, training on CUDA, fewer GPUs than processes (one each). Without CUDA
    the processes train on the CPU, over gloo (:func:`s2d.repro.cache.trained_ddp`)."""
    if processes < 1:
        raise ValueError(f"--gpus must be at least 1, got {processes}")
    try:
        device = pick_device(config.device)
    except RuntimeError as err:
        raise ValueError(str(err)) from err
    if processes == 1:
        if device.type == "cpu":
            return (f"on the CPU, {jobs or default_jobs(True)} models and notebooks side by side (a notebook once its "
                    f"models are trained), each in its own process at one thread")
        return f"each model trains in this process, on {device.type}"
    batch = config.train.batch_size
    if batch % processes:
        raise ValueError(f"--gpus {processes} does not divide train.batch_size {batch} (DDP splits every batch "
                         f"equally among the processes): pick a divisor of {batch}, or --set train.batch_size=<n>")
    if device.type != "cuda":
        return f"no CUDA GPU here: each model trains in {processes} DDP processes on the CPU (gloo)"
    found = torch.cuda.device_count()
    if found < processes:
        raise ValueError(f"--gpus {processes} needs {processes} CUDA GPUs (one per DDP process), this machine has "
                         f"{found}: pass --gpus {found} or fewer")
    return f"each model trains in {processes} DDP processes, one CUDA GPU each (NCCL)"


def train_models(config: Config, data_root: Path, runs_root: Path, processes: int = 1, jobs: int | None = None,
                 runs: list | None = None, detectors: list | None = None, notebooks: list | None = None
                 ) -> dict[str, dict]:
    """Train every model the profile's tables need, or ``runs`` with the ``detectors`` they learn from (cached: a
    model already trained is reused), and execute the ``notebooks`` (:func:`notebook_jobs`) as their models are
    ready; each step's record (``train:``, ``landmarks:``, ``notebook:``) gives its wall time and when it finished
    (``finished_s``, from the start).

    On the CPU they run in ``jobs`` worker processes side by side, one thread each (:mod:`s2d.repro.parallel`;
    default one per core): the detectors first, then as each finishes its landmarks on the data and the models that
    learn from them, the other models (annotations) filling the gaps, the largest first, and each notebook once
    every model it evaluates is trained (filling the workers that the last models leave idle). On a GPU the same
    jobs run one after another in this process, each model in ``processes`` DDP processes.
    """
    from tqdm.auto import tqdm

    from s2d.repro.parallel import Job, side_by_side

    started = time.perf_counter()

    on_cpu = processes == 1 and pick_device(config.device).type == "cpu"
    runs = {run.name: run for run in sorted(model_runs(config) if runs is None else runs, key=training_cost,
                                            reverse=True)}
    serves = "Tables 1-5" if detectors is None else "the landmarks of these models"
    detectors = detector_runs(config) if detectors is None else detectors
    steps, landmarks = {}, {}

    def model_job(run, data: Path, found: Path | None) -> Job:
        landmarks[run.name] = found
        return Job(run.name, trained, (run.config, data, run.name, runs_root, not on_cpu, found),
                   {"processes": processes})

    def landmark_job(detector: str) -> Job:  # the detector's landmarks on each dataset, then the models
        waiting = [run for run in runs.values() if run.detector == detector]
        return Job(f"{detector} landmarks", inputs_of, (waiting, data_root, runs_root),
                   then=lambda inputs: [model_job(run, *found) for run, found in zip(waiting, inputs)])

    def detector_job(detector) -> Job:  # a detector of ours, then its landmarks if a model learns from them
        data = catalog.locate(config, seed=detector.data_seed, synth_root=data_root, progress=False)
        variant = detector.config.variant
        learners = any(run.detector == variant for run in runs.values())
        return Job(detector.name, trained_detector, (detector, data, runs_root, config.profile),
                   {"progress": not on_cpu, "real_root": real_data()},
                   then=lambda _: [landmark_job(variant)] if learners else [])

    ours = {detector.config.variant: detector_job(detector) for detector in detectors}
    given = sorted({run.detector for run in runs.values() if run.detector is not None} - set(ours))  # dlib
    # the models that learn from the annotations: their data made here (a render runs its own processes)
    alone = [model_job(run, *training_inputs(run, data_root, runs_root)) for run in runs.values() if run.detector is None]
    notebooks = list(notebooks or [])
    for job, result, seconds in side_by_side([*ours.values(), *map(landmark_job, given), *alone, *notebooks],
                                             jobs or default_jobs(on_cpu, processes),
                                             "training" + (" and notebooks" if notebooks else ""), "job", on_cpu):
        finished = {"wall_time_s": seconds, "finished_s": round(time.perf_counter() - started, 2)}
        if job.function is inputs_of:
            steps[f"landmarks:{job.name.removesuffix(' landmarks')}"] = finished
            tqdm.write(f"found {job.name} in {seconds} s")
            continue
        if job.function is execute_page:
            steps[f"notebook:{job.name}"] = {"path": str(result)} | finished
            tqdm.write(f"executed {result} in {seconds} s")
            continue
        (ckpt, fresh), run = result, runs.get(job.name)
        steps[f"train:{job.name}"] = {"checkpoint": str(ckpt), "trained_now": fresh,
                                      "used_by": run.used_by if run else serves} | finished
        if run is not None:
            steps[f"train:{job.name}"]["landmarks"] = str(landmarks[job.name] or "annotations")
        tqdm.write(f"{'trained' if fresh else 'cached '} {job.name} ({steps[f'train:{job.name}']['used_by']}) in "
                   f"{seconds} s")
    order = [*(f"train:{run.name}" for run in detectors), *(f"train:{name}" for name in runs),
             *(f"notebook:{job.name}" for job in sorted(notebooks, key=lambda job: PAGE_ORDER[job.name]))]
    return {name: steps[name] for name in order} | steps  # the detectors, the models longest first, the pages


def inputs_of(runs: list, data_root: Path, runs_root: Path) -> list[tuple[Path, Path | None]]:
    """Each run's dataset and detected landmarks (:func:`s2d.repro.cache.training_inputs`), one run after another
    (runs that share a detector share its landmarks: found once)."""
    return [training_inputs(run, data_root, runs_root, progress=False) for run in runs]


def training_cost(run) -> tuple[int, bool]:
    """What orders the models to train, the longest first (so that no worker is left with a long one at the end):
    pixels times steps, then the keypoint baselines (about 1.5 times S2D's time at the cpu profile)."""
    return run.config.data.resolution ** 2 * run.config.train.steps, run.config.model.architecture != "s2d"


def book_step(book: Path) -> dict[str, dict]:
    """Build the Jupyter Book from the executed notebooks and the committed results (offline)."""
    start = time.perf_counter()
    builder = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(builder), "build", str(book), "--keep-going", "--warningiserror"], check=True)
    return {"book": {"path": str(book / "_build" / "html"), "wall_time_s": round(time.perf_counter() - start, 2)}}


def claims_step(out_dir: Path) -> dict[str, dict]:
    """Draw the claims at a glance (the intro's figure) from the tables' verdicts the notebooks wrote."""
    from s2d.repro.figures import claims_figure

    start = time.perf_counter()
    # and the gaze study's, where make gaze has written it (s2d.repro.gaze)
    verdicts = [*sorted(out_dir.glob("table[0-9]_claims.csv")), *sorted(out_dir.glob("gaze/table[0-9]_*_claims.csv"))]
    if not verdicts:
        return {}
    path = claims_figure(pd.concat([pd.read_csv(p) for p in verdicts], ignore_index=True),
                         out_dir / "figures" / "claims.png")
    return {"figures:claims": {"path": str(path), "wall_time_s": round(time.perf_counter() - start, 2)}}


def notebook_jobs(config: Config, config_file: Path, results_root: Path, data_root: Path, runs_root: Path,
                  book_results: Path, previous: dict | None = None) -> list:
    """A job per result notebook of ``make reproduce`` (:data:`REPRODUCED`), executed by papermill into the book
    (:func:`execute_page`) once the models and detectors it evaluates are trained (:func:`page_needs`): the ones that
    took longest in the ``previous`` run's steps first."""
    from s2d.repro.parallel import Job

    took = {name.removeprefix("notebook:"): step.get("wall_time_s", 0.0) for name, step in (previous or {}).items()}
    pages = sorted(REPRODUCED, key=lambda page: took.get(page.page, 0.0), reverse=True)
    return [Job(page.page, execute_page, (page, config_file, results_root, data_root, runs_root, book_results),
                after=page_needs(page, config)) for page in pages]


def page_needs(page: Page, config: Config) -> frozenset[str]:
    """The training jobs ``page`` waits for: the runs of its tables (:func:`s2d.repro.tables.table_runs`) and, for a
    page that evaluates any, the profile's detectors (its AKD and Table 5's stability are theirs)."""
    from s2d.repro.tables import table_runs

    runs = {run.name for number in page.tables for seeded in table_runs(number, config).values() for run in seeded}
    return frozenset(runs | ({detector.name for detector in detector_runs(config)} if runs else set()))


def execute_page(page: Page, config_file: Path, results_root: Path, data_root: Path, runs_root: Path,
                 book_results: Path) -> Path:
    """Execute ``page``'s notebook with papermill into ``book_results``, made ready for the book; its path."""
    import nbformat
    import papermill

    out = book_results / page.page
    with atomic_path(out) as tmp:
        executed = papermill.execute_notebook(
            str(NOTEBOOKS / page.notebook), str(tmp), progress_bar=False, cwd=str(Path.cwd()),
            parameters={"profile": str(config_file), "results": str(results_root), "data": str(data_root),
                        "runs": str(runs_root), **page.params},
        )
        _for_the_book(executed, page.title)
        nbformat.write(executed, str(tmp))
    return out


def _for_the_book(notebook, title: str) -> None:
    """Title the executed copy for its page, drop stderr logs and the widgets' saved state (a static page cannot
    run them, and the rating widget's state carried every clip it shows), and hide the raw parameter cells (the
    page states its settings)."""
    notebook.metadata.pop("widgets", None)
    heading = next(c for c in notebook.cells if c.cell_type == "markdown" and c.source.startswith("# "))
    heading.source = f"# {title}" + heading.source[heading.source.index("\n"):]
    for cell in notebook.cells:
        if cell.cell_type == "code":  # libraries' log lines (MediaPipe's C++ logging) are not the page's content
            cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
        elif cell.cell_type == "code" and "hide-input" not in tags:  # the page reads as prose; code on a toggle
            tags.append("hide-input")


def full_run_record(metadata: dict, previous: Path) -> dict | None:
    """The record of the last run that trained every model from scratch: this run's when it did, else the one
    ``previous`` (the last ``run.json``) kept or was; None when no such run is on record."""
    if (record := from_scratch(metadata)) is not None:
        return record
    if not previous.is_file():
        return None
    last = json.loads(previous.read_text())
    return last.get("last_full_run") or from_scratch(last)


def from_scratch(metadata: dict) -> dict | None:
    """The summary of a run's ``metadata`` (its ``run.json``) when it trained every model, else None."""
    trained = [step.get("trained_now") for name, step in metadata["steps"].items() if name.startswith("train:")]
    if not (trained and all(trained)):
        return None
    return {"finished_utc": metadata["finished_utc"], "wall_time_s": metadata["wall_time_s"],
            "stages_s": metadata["stages_s"], "git_commit": metadata["environment"]["git_commit"],
            "models_trained": len(trained)}


def reproduce(config: Config, results_root: Path = RESULTS_ROOT, data_root: Path = Path("data/synthtalk"),
              runs_root: Path = Path("runs"), book_results: Path = Path("book/results"),
              book: Path | None = None, processes: int = 1, jobs: int | None = None) -> Path:
    """Run every step of ``config.profile`` (and build ``book`` if given), training each model in ``processes``
    DDP processes, or on the CPU ``jobs`` models (and notebooks) side by side (:mod:`s2d.repro.parallel`); return
    the run metadata's path."""
    started = time.perf_counter()
    env = environment()  # before any result is rewritten, so the commit is not marked dirty by them
    out_dir = results_root / config.profile
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = json.loads((out_dir / "run.json").read_text()).get("steps", {}) if (out_dir / "run.json").is_file() else {}
    on_cpu = processes == 1 and pick_device(config.device).type == "cpu"
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def stage_done(name: str) -> None:  # the stage's wall time (its steps may run side by side)
        nonlocal clock
        stages[name] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    steps = data_step(config, out_dir, data_root)
    stage_done("data")
    for generated in ("figures", "clips"):  # the notebooks redraw them all: none is left from an older run
        shutil.rmtree(out_dir / generated, ignore_errors=True)
    # the notebooks read the run's resolved settings (profile, --set overrides, seed) from this file
    resolved = write_text(out_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    pages = notebook_jobs(config, resolved, results_root, data_root, runs_root, book_results, previous)
    steps.update(train_models(config, data_root, runs_root, processes, jobs, notebooks=pages))
    # the notebooks start as their models are ready: "train" lasts until the last model or detector is trained,
    # "notebook" is what the notebooks took after that
    trained_by = max(step["finished_s"] for name, step in steps.items() if name.startswith(("train:", "landmarks:")))
    stage_done("models")
    models = stages.pop("models")
    stages["train"], stages["notebook"] = round(trained_by, 2), round(models - trained_by, 2)
    steps.update(claims_step(out_dir))
    stage_done("figures")
    if book is not None:
        steps.update(book_step(book))
        stage_done("book")
    total = round(time.perf_counter() - started, 2)
    metadata = {
        "profile": config.profile,
        "config_fingerprint": config.fingerprint(),
        "seed": config.seed,
        "seeds": config.seeds,
        "dataset": config.data.dataset,
        "ff_dataset": config.data.ff_dataset,
        "processes": processes,
        "jobs": jobs or default_jobs(on_cpu, processes),  # side by side, one thread each, on the CPU
        "resolution": config.data.resolution,
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": total,
        "stages_s": stages,
        "environment": env,
        "steps": steps,
        "tables": {page.result: f"notebooks/{page.notebook}" + ("" if page in REPRODUCED else f" (make {page.target})")
                   for page in PAGES},
        "config": config.to_dict(),
    }
    metadata["last_full_run"] = full_run_record(metadata, out_dir / "run.json")
    path = write_json(out_dir / "run.json", metadata)
    print("wall time by stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items()) + f"; total {total:.0f} s")
    return path
