"""The paper's reported numbers, transcribed once from its text (Tables 1-5).

Every book page that shows the paper's numbers beside ours reads them from here.
``None`` is the paper's "N/A". Metric directions follow the paper's arrows, except
PSNR, printed with a down arrow in Table 1 but higher-is-better by definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

HIGHER_IS_BETTER = {
    "l1": False, "l1_255": False, "fid": False, "ssim": True, "lpips": False, "ms_ssim": True, "akd": False,
    "psnr": True, "user_preference": True, "user_study": True, "sms": False,
    # beyond the paper's tables: Fig. 2 and 5's claim (s2d.repro.claims.FIGURE_CLAIMS)
    "gaze_error": False, "pupil_transfer_px": False,
}


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: what it measures and the rows it reports."""

    number: int
    caption: str
    dataset: str
    columns: tuple[str, ...]
    rows: dict[str, tuple[float | None, ...]] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame indexed by method/setting, NaN where the paper says N/A."""
        data = {name: [np.nan if v is None else v for v in values] for name, values in self.rows.items()}
        return pd.DataFrame.from_dict(data, orient="index", columns=list(self.columns))


TABLES = {
    1: PaperTable(
        1, "Comparison with state-of-the-arts on VoxCeleb1 dataset (same identity).", "VoxCeleb1",
        ("l1", "fid", "ssim", "lpips", "ms_ssim", "akd", "psnr"),
        {
            "Few-shot (2019)": (None, 30.6, 0.7200, 0.75, None, None, None),
            "PuppeteerGAN (2020)": (None, 33.61, 0.7255, None, None, None, None),
            "Monkey-Net (2019)": (0.0490, 12.66, 0.7367, 0.1249, 0.7966, 1.76, 30.86),
            "First-order (2019)": (0.0415, 10.69, 0.7936, 0.1020, 0.8587, 1.09, 30.97),
            "Ours": (0.0437, 9.06, 0.7770, 0.1004, 0.8438, 0.89, 31.06),
        },
    ),
    2: PaperTable(
        2, "Comparison of cross identity testing on VoxCeleb1.", "VoxCeleb1",
        ("fid", "user_preference"),
        {
            "Monkey-Net (2019)": (70.7, 0.122),
            "First-order (2019)": (57.43, 0.378),
            "Ours": (55.81, 0.499),
        },
    ),
    3: PaperTable(
        3, "Comparison with state-of-the-arts on FaceForensics (L1 on the 0-255 scale).", "FaceForensics",
        ("l1_255", "fid"),
        {
            "GANimation (2018)": (16.19, 47.99),
            "X2Face (2018)": (11.05, 23.98),
            "FLNet (2020)": (10.20, 20.62),
            "First-order (2019)": (14.06, 13.99),
            "Ours": (10.05, 10.33),
        },
    ),
    4: PaperTable(
        4, "Ablation study on motion transfer (generator sees the warped source only).", "VoxCeleb1",
        ("l1", "fid", "ssim"),
        {
            "Full model": (0.0442, 9.82, 0.7733),
            "no Add_Motion layer": (0.0449, 10.20, 0.7728),
            "no AdaIN layer": (0.0449, 9.98, 0.7725),
            "no local motion": (0.0454, 10.17, 0.7729),
        },
    ),
    5: PaperTable(
        5, "Ablation study on the face landmark detector.", "VoxCeleb1",
        ("user_study", "sms", "l1", "fid", "ssim"),
        {
            "Dlib": (0.0, 92, 0.0479, 12.98, 0.7640),
            "FAN4": (0.0, 115, 0.0478, 12.71, 0.7662),
            "FAN4+DSNT": (0.38, 61, 0.0460, 11.88, 0.7759),
            "FAN4+DSNT+SBR": (0.62, 51, 0.0457, 11.70, 0.7775),
        },
    ),
}


def table(number: int) -> pd.DataFrame:
    """Table ``number`` (1-5) of the paper as a DataFrame."""
    if number not in TABLES:
        raise KeyError(f"the paper has Tables 1-5, not {number}")
    return TABLES[number].frame()
