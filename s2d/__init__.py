"""s2d: Sparse to Dense Motion Transfer for Face Image Animation (Zhao, Wu, Guo)."""

__version__ = "0.1.0"
