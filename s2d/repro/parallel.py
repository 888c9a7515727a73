"""Independent jobs of ``make reproduce`` side by side on the CPU: one worker process per job, one torch thread each.

A model trained at one thread is the same whatever the machine's core count or the number of jobs, so the tables do
not depend on them (at two threads torch sums in another order, and the run takes another path). It is also faster
on 2 cores, though by less than a short test promised: 40 steps of a cpu-profile S2D model (process start included)
took 41.4 s at two threads and 59.5 s at one, and two side by side at one thread each 61.4 s for both, against 82.8 s
one after the other. In a whole ``make reproduce`` of the cpu profile an S2D model took 176-196 s at one thread beside
another against 97-139 s alone at two threads, and the keypoint baselines 297-357 s against 153-201 s: the training
stage took 3,370 s (26 models, 3 detectors) where the last run one model after another took 3,311 s with a
real-face model about 340 s shorter to train, and the notebooks 636 s against 797 s. A job can wait for others
(``Job.after``): ``make reproduce`` starts each notebook as soon as the models it evaluates are trained, so the
notebooks fill the workers that the last models leave idle.

On a GPU, or with several DDP processes per model, the jobs run one after another in this process
(:func:`default_jobs` is 1 there and :func:`side_by_side` does not start workers).
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, Callable, Iterator

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    """One call to make, ``function(*args, **kwargs)``, named for the progress bar and the run record; ``then``
    makes the jobs that wait for its result (run before the jobs still waiting), e.g. the models that learn from a
    detector's landmarks; ``after`` names the jobs (given or made by a ``then``) that must finish before it starts,
    e.g. the models a notebook evaluates."""

    name: str
    function: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    then: Callable[[Any], list["Job"]] | None = None
    after: frozenset[str] = frozenset()


def cpu_cores() -> int:
    """The CPU cores this process may use (its affinity where the platform says, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        return os.cpu_count() or 1


def default_jobs(on_cpu: bool, processes: int = 1) -> int:
    """How many jobs run at once: one per core when models train on the CPU in one process each, else one (a GPU
    or a DDP run already uses what the machine has)."""
    return cpu_cores() if on_cpu and processes == 1 else 1


def single_threaded() -> None:
    """Make this process, and the processes it starts (a notebook's kernel), use one thread for torch's work."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def timed(function: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, float]:
    """``function(*args, **kwargs)`` and the seconds it took."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, round(time.perf_counter() - start, 2)


def side_by_side(jobs: list[Job], workers: int, desc: str, unit: str = "job",
                 in_workers: bool = True) -> Iterator[tuple[Job, Any, float]]:
    """Run ``jobs`` (and the jobs their ``then`` makes) and yield ``(job, result, seconds)`` as each finishes,
    behind a progress bar.

    With ``in_workers``, each job runs in one of ``workers`` processes (spawned: no thread pool is inherited) set to
    one thread (:func:`single_threaded`), in the order given (put the longest first), a job's followers ahead of the
    jobs still waiting, and a job with ``after`` once those jobs have finished (the first job ready takes a free
    worker); otherwise one after another in this process, in the same order. A failed job stops the run with its
    name (jobs already running finish first), and so does a job that waits for jobs that never run.
    """
    from tqdm.auto import tqdm

    if workers < 1:
        raise ValueError(f"jobs must be at least 1, got {workers}")
    waiting, ran = deque(jobs), set()  # ran: the names of the jobs finished
    bar = tqdm(total=len(waiting), desc=desc, unit=unit)

    def finished(job: Job, result: Any) -> None:
        ran.add(job.name)
        followers = job.then(result) if job.then is not None else []
        waiting.extendleft(reversed(followers))
        bar.total += len(followers)
        bar.update()

    def next_ready(running: int) -> Job | None:
        """The first waiting job whose ``after`` jobs have all finished (taken off the queue), else None."""
        for job in waiting:
            if job.after <= ran:
                waiting.remove(job)
                return job
        if not running:
            missing = {name for job in waiting for name in job.after - ran}
            raise RuntimeError(f"{', '.join(job.name for job in waiting)} wait for jobs that never ran: "
                               f"{', '.join(sorted(missing))}")
        return None

    try:
        if not in_workers:
            while waiting:
                job = next_ready(0)
                result, seconds = timed(job.function, job.args, job.kwargs)
                finished(job, result)
                yield job, result, seconds
            return
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                 initializer=single_threaded) as pool:
            running = {}
            try:
                while waiting or running:
                    while waiting and len(running) < workers and (job := next_ready(len(running))) is not None:
                        running[pool.submit(timed, job.function, job.args, job.kwargs)] = job
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = running.pop(future)
                        try:
                            result, seconds = future.result()
                        except Exception as err:
                            raise RuntimeError(f"{job.name} failed in its worker process: {err}") from err
                        finished(job, result)
                        yield job, result, seconds
            except BaseException:
                waiting.clear()
                for future in running:
                    future.cancel()
                raise
    finally:
        bar.close()
