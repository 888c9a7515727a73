"""Head and face motion over time for SynthTalk videos.

Smooth, natural trajectories with occasional fast events: head pose drifts
smoothly (low-pass filtered noise), gaze holds fixations and jumps between them
in fast saccades, blinks come at random intervals and last about a quarter of a
second, the mouth opens and closes while talking, smiles and brow raises come and
go. Two styles mirror the paper's datasets: ``vox`` (VoxCeleb: strong head
motion) and ``ff`` (FaceForensics: mostly frontal, anchor-like).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

FPS = 25


@dataclass(frozen=True)
class MotionStyle:
    """Amplitudes of one dataset variant's motion."""

    yaw: float  # degrees, the largest excursion
    pitch: float
    roll: float
    translation: float  # fractions of the image
    scale: float  # relative change of size
    frontal_start: float  # probability that a video starts with a near-frontal head


STYLES = {
    "vox": MotionStyle(yaw=30, pitch=25, roll=15, translation=0.06, scale=0.08, frontal_start=0.5),
    "ff": MotionStyle(yaw=10, pitch=8, roll=5, translation=0.02, scale=0.03, frontal_start=0.8),
}


def _smooth(rng: np.random.Generator, frames: int, sigma: float) -> np.ndarray:
    """Smooth noise in [-1, 1] (low-pass filtered Gaussian noise, normalised to its peak)."""
    pad = int(3 * sigma) + 1
    noise = gaussian_filter1d(rng.standard_normal(frames + 2 * pad), sigma, mode="reflect")[pad:-pad]
    return noise / max(np.abs(noise).max(), 1e-6)


def _events(rng: np.random.Generator, frames: int, mean_gap: float, shape: np.ndarray) -> np.ndarray:
    """Place ``shape`` at Poisson-distributed times (mean gap in frames); overlapping events take the max."""
    out = np.zeros(frames)
    t = rng.exponential(mean_gap) * rng.random()
    while t < frames:
        start = int(t)
        end = min(frames, start + len(shape))
        out[start:end] = np.maximum(out[start:end], shape[: end - start])
        t += len(shape) + rng.exponential(mean_gap)
    return out


def _gaze(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Fixations held 0.4-2 s, joined by 2-frame saccades, with a little drift. Shape (T, 2), in the unit disc."""
    gaze = np.zeros((frames, 2))
    target = rng.uniform([-0.6, -0.5], [0.6, 0.5])
    current = target.copy()
    t = 0
    while t < frames:
        hold = int(rng.uniform(0.4, 2.0) * FPS)
        gaze[t:t + hold] = target
        t += hold
        current, target = target, rng.uniform([-1, -0.8], [1, 0.8])
        for step in (1 / 3, 2 / 3):  # a fast saccade
            if t < frames:
                gaze[t] = current + step * (target - current)
                t += 1
    gaze += 0.04 * np.stack([_smooth(rng, frames, 6), _smooth(rng, frames, 6)], axis=1)
    return gaze / np.maximum(1.0, np.linalg.norm(gaze, axis=1, keepdims=True))  # inside the unit disc


def sample_motion(rng: np.random.Generator, frames: int, style: str) -> dict[str, np.ndarray]:
    """Per-frame parameters of one video (each an array of length ``frames``; gaze is (T, 2))."""
    s = STYLES[style]
    # pose: a slow and a faster component; some videos start near frontal and turn later
    pose = {}
    frontal = rng.random() < s.frontal_start
    ramp = 1 - np.exp(-np.arange(frames) / rng.uniform(8, 20)) if frontal else np.ones(frames)
    for name, amplitude in (("yaw", s.yaw), ("pitch", s.pitch), ("roll", s.roll)):
        track = 0.75 * _smooth(rng, frames, 18) + 0.25 * _smooth(rng, frames, 5)
        start = rng.uniform(-3, 3) if frontal else 0.0  # frontal starts lie within 3 degrees
        pose[name] = np.clip(start + amplitude * rng.uniform(0.5, 1.0) * track * ramp, -amplitude, amplitude)
    blink_shape = np.array([0.35, 0.8, 1.0, 0.85, 0.55, 0.25, 0.08])
    talking = _smooth(rng, frames, 20) > rng.uniform(-0.6, 0.2)  # speech segments
    syllables = np.clip(_smooth(rng, frames, 1.8), 0, None) * rng.uniform(0.6, 1.0)
    return {
        **pose,
        "tx": s.translation * _smooth(rng, frames, 20),
        "ty": s.translation * _smooth(rng, frames, 20),
        "scale": 1 + s.scale * _smooth(rng, frames, 25),
        "gaze": _gaze(rng, frames),
        "blink": _events(rng, frames, mean_gap=rng.uniform(50, 100), shape=blink_shape),
        "mouth_open": np.clip(gaussian_filter1d(syllables * talking, 0.8), 0, 1),
        "smile": np.clip(_smooth(rng, frames, 30) * rng.uniform(0, 1.2), 0, 1),
        "brow_raise": _events(rng, frames, mean_gap=rng.uniform(40, 120),
                              shape=np.sin(np.linspace(0, np.pi, 15)) * rng.uniform(0.4, 1.0)),
    }
