"""Checkpoints: written atomically, read safely (``weights_only``), checked against the model they are for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from s2d.config import Config, config_from_dict
from s2d.io import atomic_path
from s2d.models import build_model

MODEL_NAME = "s2d"


class CheckpointError(ValueError):
    """A checkpoint that is missing or belongs to another model or profile."""


def save_checkpoint(path: str | Path, state: dict[str, Any], model_name: str = MODEL_NAME) -> None:
    """Write ``state`` (with ``model_name`` added, which :func:`read_checkpoint` checks) to a temporary file,
    then rename it onto ``path``."""
    with atomic_path(path) as tmp:
        torch.save({"model_name": model_name, **state}, tmp)


def read_checkpoint(path: str | Path, model_name: str = MODEL_NAME) -> dict[str, Any]:
    """The state a checkpoint file of ``model_name`` holds, read safely (``weights_only``, onto the CPU).

    A missing file, an unreadable one (truncated, or not a checkpoint) and a checkpoint of another
    model each raise a :class:`CheckpointError` that says so in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{model_name} checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: say which
        reason = f"{type(err).__name__}: {err}"
        raise CheckpointError(f"{path} is not a readable {model_name} checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("model_name") != model_name:
        name = state.get("model_name") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is a checkpoint of '{name}', not of '{model_name}'")
    return state


def load_checkpoint(path: str | Path, config: Config | None = None) -> dict[str, Any]:
    """Read an s2d checkpoint (:func:`read_checkpoint`); refuse one of another model, or (given ``config``)
    of incompatible settings."""
    state = read_checkpoint(path)
    if config is not None:
        for section in ("model", "data"):
            theirs, ours = state["config"][section], getattr(config, section).__dict__
            defaults = type(getattr(config, section))().__dict__  # a key older than the checkpoint: its default
            keys = ("resolution", "num_landmarks") if section == "data" else tuple(ours)
            diff = [k for k in keys if theirs.get(k, defaults[k]) != ours[k]]
            if diff:
                raise CheckpointError(
                    f"{path} was trained with other {section} settings ({', '.join(f'{section}.{k}' for k in diff)}; "
                    f"profile '{state['config']['profile']}'), not those of profile '{config.profile}'"
                )
    return state


def load_model(path: str | Path, device: torch.device | str = "cpu"):
    """The trained model of a checkpoint (S2D, or the baseline its ``model.architecture`` names), in eval
    mode on ``device``, and its config."""
    state = load_checkpoint(path)
    config = config_from_dict(state["config"], origin=str(path))
    model = build_model(config)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config
