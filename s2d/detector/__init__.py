"""The paper's landmark detector (Sec. 3.3, Sec. 4.3.2, Table 5), one small file each.

- ``fan.py``: FAN, the stacked-hourglass heatmap network of Bulat and Tzimiropoulos
  [2], with 74 heatmaps, and its initialisation from face-alignment's 2DFAN4.
- ``decode.py``: heatmaps to coordinates: argmax (the FAN4 row of Table 5) and
  DSNT [34] with its Jensen-Shannon regulariser.
- ``sbr.py``: supervision-by-registration [12, 11]: Lucas-Kanade tracking with a
  forward-backward check, and the registration loss.
- ``train.py``: training of the three variants ``FAN4``, ``FAN4+DSNT`` and
  ``FAN4+DSNT+SBR``, and the :class:`~s2d.detector.train.Detector` that runs one.
"""
