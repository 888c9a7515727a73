"""Edit a face's landmarks with a few named controls, and animate the face with them (the explorer).

The controls are SynthTalk's own (:mod:`s2d.data.template`): head yaw, pitch and roll
in degrees, gaze x and y in the unit disc, blink, mouth opening and smile in [0, 1].
:func:`controlled_landmarks` applies them to the 3D template, projects it, and moves
the face's own landmarks by the template's displacement scaled to the face (relative
transfer, as :func:`s2d.evaluate.relative_landmarks`), so any face keeps its shape.
:func:`controls_grid` animates one face with one control swept at a time, for a
static page that shows what each control does.
"""

from __future__ import annotations

import numpy as np
import torch

from s2d import landmarks as lm
from s2d.data.render import FrameParams
from s2d.data.template import LANDMARKS_3D, deform, rotation_matrix

# slider ranges: (minimum, maximum) of each control
SLIDER_RANGES = {"yaw": (-30.0, 30.0), "pitch": (-20.0, 20.0), "roll": (-20.0, 20.0), "gaze_x": (-1.0, 1.0),
          "gaze_y": (-1.0, 1.0), "blink": (0.0, 1.0), "mouth_open": (0.0, 1.0), "smile": (0.0, 1.0)}


def controls(**values: float) -> FrameParams:
    """The explorer's controls (the names of :data:`SLIDER_RANGES`; the rest at zero) as SynthTalk's frame parameters;
    ValueError for another name or a value outside its range."""
    for name, value in values.items():
        if name not in SLIDER_RANGES:
            raise ValueError(f"unknown control {name!r}; controls: {', '.join(SLIDER_RANGES)}")
        low, high = SLIDER_RANGES[name]
        if not low <= value <= high:
            raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value}")
    return FrameParams(**values)


def _template_2d(params: FrameParams) -> np.ndarray:
    """The template's 74 points under ``params``, projected orthographically (face units)."""
    points = deform(LANDMARKS_3D, np.array([params.gaze_x, params.gaze_y]), params.blink, params.mouth_open,
                    params.smile, params.brow_raise)
    # SynthTalk's pitch > 0 tilts the face up; the image's y points down, so the rotation is applied as is
    return (points @ rotation_matrix(params.yaw, params.pitch, params.roll).T)[:, :2]


def controlled_landmarks(landmarks: np.ndarray, params: FrameParams) -> np.ndarray:
    """``landmarks`` (74, 2) pixels moved by the template's displacement under ``params`` (:func:`controls`),
    scaled to the face."""
    landmarks = np.asarray(landmarks, dtype=np.float32)
    if landmarks.shape != (lm.NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks must have shape ({lm.NUM_LANDMARKS}, 2), got {landmarks.shape}")
    neutral, moved = _template_2d(FrameParams()), _template_2d(params)
    scale = lm.interocular_distance(landmarks) / lm.interocular_distance(neutral)
    return (landmarks + scale * (moved - neutral)).astype(np.float32)


@torch.inference_mode()
def animate_controls(animate, image: torch.Tensor, landmarks: np.ndarray, settings: list[FrameParams]) -> np.ndarray:
    """The face ``image`` (3, H, W) in [0, 1] animated to each of ``settings`` (:func:`controls`): uint8 (N, H, W, 3).

    ``animate`` is an S2D model's ``animate`` (source, source landmarks, driving landmarks).
    """
    wanted = torch.from_numpy(np.stack([controlled_landmarks(landmarks, p) for p in settings]))
    n = len(settings)
    device = image.device
    source = torch.as_tensor(landmarks, dtype=torch.float32, device=device)[None].expand(n, -1, -1)
    frames = animate(image[None].expand(n, -1, -1, -1), source, wanted.to(device))
    return (frames.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def controls_grid(animate, image: torch.Tensor, landmarks: np.ndarray, steps: int = 5) -> dict[str, np.ndarray]:
    """For each control, the face animated with that control swept over its range (the others at zero)."""
    rows = {}
    for name, (low, high) in SLIDER_RANGES.items():
        sweep = [controls(**{name: float(v)}) for v in np.linspace(low, high, steps)]
        rows[name] = animate_controls(animate, image, landmarks, sweep)
    return rows
