"""Jobs side by side on the CPU (s2d.repro.parallel): one process and one torch thread each, and the same model
whatever the number of jobs."""

import math
import os

import pytest
import torch

from s2d.config import load_config
from s2d.repro.cache import trained
from s2d.repro.parallel import Job, default_jobs, side_by_side


def test_each_job_runs_in_a_worker_process_at_one_thread():
    jobs = [Job(f"threads {i}", torch.get_num_threads) for i in range(3)]
    assert [threads for _, threads, _ in side_by_side(jobs, 2, "test", in_workers=True)] == [1, 1, 1]
    pids = {pid for _, pid, _ in side_by_side([Job(f"pid {i}", os.getpid) for i in range(2)], 2, "test")}
    assert os.getpid() not in pids
    here = list(side_by_side([Job("pid here", os.getpid)], 2, "test", in_workers=False))
    assert here[0][1] == os.getpid() and here[0][0].name == "pid here" and here[0][2] >= 0


def test_a_failed_job_stops_the_run_with_its_name():
    jobs = [Job("fine", math.sqrt, (4.0,)), Job("the broken one", math.sqrt, (-1.0,))]
    with pytest.raises(RuntimeError, match="the broken one failed in its worker process: math domain error"):
        list(side_by_side(jobs, 2, "test"))
    with pytest.raises(ValueError, match="at least 1"):
        list(side_by_side(jobs, 0, "test"))


def test_default_jobs_is_one_per_core_on_the_cpu_only():
    assert default_jobs(on_cpu=True) >= 1
    assert default_jobs(on_cpu=False) == 1 and default_jobs(on_cpu=True, processes=2) == 1


def test_a_model_trained_side_by_side_is_the_same_whatever_the_number_of_jobs(synth_vox, tmp_path):
    config = load_config("smoke", ["train.steps=3"])

    def job(folder):
        return Job(folder, trained, (config, synth_vox, "model", tmp_path / folder), {"progress": False})

    alone = list(side_by_side([job("alone")], 1, "test"))
    together = list(side_by_side([job("first"), job("second")], 2, "test"))
    states = [torch.load(ckpt, weights_only=True)["model"] for _, (ckpt, fresh), _ in alone + together]
    assert all(fresh for _, (_, fresh), _ in alone + together)
    for name, tensor in states[0].items():
        assert all(torch.equal(tensor, state[name]) for state in states[1:]), name


@pytest.mark.parametrize("in_workers", [False, True])
def test_a_jobs_followers_run_before_the_jobs_still_waiting(in_workers):
    """A detector's landmarks, then the models that learn from them, go ahead of the models still waiting."""
    first = Job("detector", str, ("detector",), then=lambda result: [Job(f"model on {result}", str, ("model",))])
    jobs = [first, Job("waiting", str, ("waiting",))]
    done = [job.name for job, _, _ in side_by_side(jobs, 1, "test", in_workers=in_workers)]
    assert done == ["detector", "model on detector", "waiting"]


@pytest.mark.parametrize("in_workers", [False, True])
def test_a_job_waits_for_the_jobs_it_comes_after_even_when_queued_first(in_workers):
    """A notebook waits for the models it evaluates, the ones a detector's landmarks make included."""
    notebook = Job("notebook", str, ("notebook",), after=frozenset({"model on detector", "other model"}))
    detector = Job("detector", str, ("detector",), then=lambda result: [Job(f"model on {result}", str, ("model",))])
    jobs = [notebook, detector, Job("other model", str, ("other",)), Job("data page", str, ("data",))]
    done = [job.name for job, _, _ in side_by_side(jobs, 1, "test", in_workers=in_workers)]
    assert done == ["detector", "model on detector", "other model", "notebook", "data page"]  # ready: in order


@pytest.mark.parametrize("in_workers", [False, True])
def test_a_job_that_waits_for_a_job_that_never_runs_stops_the_run(in_workers):
    jobs = [Job("notebook", str, ("notebook",), after=frozenset({"a model nobody trains"})), Job("model", str, ("m",))]
    with pytest.raises(RuntimeError, match="notebook wait for jobs that never ran: a model nobody trains"):
        list(side_by_side(jobs, 2, "test", in_workers=in_workers))
