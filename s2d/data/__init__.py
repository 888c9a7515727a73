"""Datasets: SynthTalk (procedural, exact ground truth), real videos, and the loaders."""
