"""Clips and figures of a model's output."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd

from s2d import evaluate
from s2d.data import format as fmt
from s2d.data.loaders import VideoFrames
from s2d.repro.figures import animation_gif, driven_clip, gaze_figure


def test_drive_feeds_the_protocols_landmarks(synth_vox):
    videos = fmt.video_ids(synth_vox, "test")
    received = []

    def record(source, source_landmarks, driving_landmarks):
        received.append(driving_landmarks.clone())
        return evaluate.copy_source(source, source_landmarks, driving_landmarks)

    same = driven_clip(record, synth_vox, videos[0], videos[0], batch=3)
    truth = VideoFrames(synth_vox, "test", videos[0])
    assert same["generated"].shape == same["driving"].shape == (len(truth), 64, 64, 3)
    assert (same["generated"] == same["source"]).all()  # copying the source, frame after frame
    np.testing.assert_allclose(np.concatenate(received), truth.annotations["landmarks"], atol=1e-6)
    received.clear()
    other = VideoFrames(synth_vox, "test", videos[-1])
    driven_clip(record, synth_vox, videos[0], videos[-1])
    wanted = evaluate.relative_landmarks(truth.annotations["landmarks"][0], other.annotations["landmarks"],
                                         other.annotations["landmarks"][0])
    np.testing.assert_allclose(np.concatenate(received), wanted, atol=1e-5)  # cross identity: relative motion


def test_animation_gif_puts_panels_side_by_side(tmp_path):
    still = np.zeros((8, 8, 3), np.uint8)
    moving = (np.arange(5)[:, None, None, None] * 40 + np.zeros((5, 8, 8, 3))).astype(np.uint8)
    frames = iio.imread(animation_gif([still, moving], tmp_path / "a.gif", scale=2), index=None)
    assert frames.shape[:3] == (5, 16, 32)
    assert len(iio.imread(animation_gif([still, moving], tmp_path / "b.gif", stride=2), index=None)) == 3


def test_gaze_figure_shows_every_model(synth_vox, tmp_path):
    fig = gaze_figure({"copy": evaluate.copy_source}, synth_vox, out=tmp_path / "gaze.png")
    assert (tmp_path / "gaze.png").stat().st_size > 1000 and len(fig.axes) % 4 == 0


def test_figures_under_results_are_linked_from_the_book_and_others_embedded(tmp_path, monkeypatch):
    from IPython.display import Image, Markdown

    from s2d.repro.figures import displayable

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "cpu").mkdir(parents=True)
    clip = tmp_path / "results" / "cpu" / "clip.gif"
    clip.write_bytes(b"GIF89a")
    linked = displayable(Path("results/cpu/clip.gif"))
    assert isinstance(linked, Markdown) and linked.data == "![clip](../../results/cpu/clip.gif)"
    elsewhere = tmp_path / "scratch.png"
    iio.imwrite(elsewhere, np.zeros((4, 4, 3), np.uint8))
    assert isinstance(displayable(elsewhere), Image)


def test_claims_at_a_glance_draws_every_claim_and_the_missing_ones(tmp_path):
    from s2d.repro import claims
    from s2d.repro.figures import claims_figure

    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.2, 8)
    per_video = pd.DataFrame([{"method": m, "seed": s, "item": f"v{i}", "l1": base[i] + shift + 0.001 * s}
                              for m, shift in (("full", 0.0), ("no adain", 0.01)) for s in (0, 1)
                              for i in range(8)])
    verdicts = claims.verdicts(4, per_video, {"Full model": "full", "no AdaIN layer": "no adain"}, {})
    path = claims_figure(verdicts, tmp_path / "claims.png")
    assert path.stat().st_size > 5_000
    drawn = verdicts.dropna(subset=["gain"])
    assert len(drawn) == 1 and drawn.iloc[0].verdict == claims.REPRODUCED and drawn.iloc[0].gain > 0
