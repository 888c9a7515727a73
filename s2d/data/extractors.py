"""Landmark extractors for real frames: MediaPipe FaceMesh with iris, and dlib's 68 points.

Every extractor turns an RGB uint8 frame ``(H, W, 3)`` into s2d's 74 landmarks
``(74, 2)`` float32 (order in :mod:`s2d.landmarks`, pixel centres at integer
coordinates), or ``None`` when it finds no face. When a frame shows several
faces, the largest is taken. ``get_extractor(name, video=...)`` builds one:

- ``"mediapipe"``: MediaPipe FaceMesh (``mediapipe==0.10.14``, whose wheel bundles
  its models) with ``refine_landmarks=True``: 478 points, 468-477 the irises. In
  video mode it tracks (``static_image_mode=False``: the previous frame's mesh
  places the next one), so build one extractor per video; the same frames in the
  same order give the same landmarks. Faces too small for FaceMesh's own
  short-range detector (a person across a room) are found with MediaPipe's
  full-range face detector and meshed in a crop around them.
- ``"dlib"``: dlib's HOG face detector and its 68-point shape predictor
  (``shape_predictor_68_face_landmarks.dat`` from the face-recognition-models
  package), trained on iBUG-300W itself. It finds no pupils: points 68-73 are
  *estimated* (see :attr:`LandmarkExtractor.estimated`): each pupil at the centroid
  of its six eye points, the iris edges one iris radius to either side of it
  along the line through the eye corners, the radius being the template's
  (``IRIS_RADIUS`` over the template's eye width, about a fifth of the eye width).
  Their ``visible`` flag is False in prepared datasets.

MediaPipe -> s2d mapping (mediapipe vertex indices; "L"/"R" are image sides):

============================  ==================================================
s2d indices                   mediapipe vertices
============================  ==================================================
0-16 jaw                      arc-length resampling of the face-oval silhouette:
                              9 points evenly from 127 (L temple) through 234,
                              93, 132, 58, 172, 136, 150, 149, 176, 148 to 152
                              (chin) = point 8, and 9 from 152 through 377, 400,
                              378, 379, 365, 397, 288, 361, 323, 454 to 356
17-21 L brow, outer->inner    70, 63, 105, 66, 107
22-26 R brow, inner->outer    336, 296, 334, 293, 300
27-30 nose bridge             168, 197, 195, 4
31-35 nose base               75, 97, 2, 326, 305
36-41 L eye                   33, 160, 158, 133, 153, 144
42-47 R eye                   362, 385, 387, 263, 373, 380
48-59 outer lips              61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181
60-67 inner lips              78, 82, 13, 312, 308, 317, 14, 87
68, 69 pupils (L, R)          468, 473 (iris centres)
70, 71 L iris edge (L, R)     471, 469
72, 73 R iris edge (L, R)     476, 474
============================  ==================================================

FaceMesh has no exact iBUG counterpart for most points. Each was chosen as the
vertex on the anatomically matching contour (eye and lip outlines, brow top,
nose ridge and base) that lies closest on average to dlib's iBUG-trained points
over 276 frames of talking-head clips; the choices are mirror-symmetric (every
L vertex's mirror vertex is used for the mirrored point). iBUG's jaw points are
spread evenly along the visible outline, which no fixed vertex follows as well
as resampling the silhouette does (mean error to dlib 0.044 vs 0.054 interocular
distances for the best fixed vertices). MediaPipe's normalised coordinates count
from the image's edge, so 0.5 is subtracted after scaling to pixels.
"""

from __future__ import annotations

import abc
import functools
import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from s2d import landmarks as lm
from s2d.data.template import IRIS_RADIUS, LANDMARKS_3D

_JAW_LEFT = (127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152)
_JAW_RIGHT = (152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356)
# mediapipe vertex for s2d points 17..73 (the jaw, 0..16, is resampled from the silhouette)
MEDIAPIPE_TO_S2D = (
    70, 63, 105, 66, 107,  # 17-21 brow, image left
    336, 296, 334, 293, 300,  # 22-26 brow, image right
    168, 197, 195, 4,  # 27-30 nose bridge
    75, 97, 2, 326, 305,  # 31-35 nose base
    33, 160, 158, 133, 153, 144,  # 36-41 eye, image left
    362, 385, 387, 263, 373, 380,  # 42-47 eye, image right
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # 48-59 outer lips
    78, 82, 13, 312, 308, 317, 14, 87,  # 60-67 inner lips
    468, 473,  # 68, 69 pupils
    471, 469, 476, 474,  # 70-73 iris edges
)
MEDIAPIPE_POINTS = 478

# The template's iris radius relative to its eye width (outer to inner corner).
_IRIS_TO_EYE_WIDTH = IRIS_RADIUS / float(np.linalg.norm(LANDMARKS_3D[36, :2] - LANDMARKS_3D[39, :2]))


class ExtractorError(RuntimeError):
    """An extractor that cannot be built: unknown name or missing package."""


class LandmarkExtractor(abc.ABC):
    """Finds s2d's 74 landmarks on one RGB frame at a time: the extractors here, which label real
    videos, and the pretrained detectors of Table 5 (:mod:`s2d.detector.baselines`).

    ``name`` is the registry name, ``num_points`` how many points the detector
    itself outputs, and ``estimated`` which of the 74 it does not detect but
    estimates from the others (prepared datasets mark them not visible). ``single_threaded``: it runs on one
    CPU core and holds no threads, so forked processes can share a dataset's videos
    (:func:`s2d.data.detections.detect_dataset`).
    """

    name: str
    num_points: int
    estimated: tuple[int, ...] = ()
    single_threaded: bool = False

    @abc.abstractmethod
    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """(74, 2) float32 landmarks of the largest face on an RGB uint8 (H, W, 3) frame, or None."""

    def close(self) -> None:
        """Release the detector's resources (a no-op unless overridden)."""

    def __enter__(self) -> LandmarkExtractor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def face_box(landmarks: np.ndarray) -> np.ndarray:
    """The bounding box ``[x0, y0, x1, y1]`` of the 68 iBUG points (jaw, brows, eyes, nose, lips)."""
    pts = np.asarray(landmarks)[..., : lm.NUM_IBUG, :]
    return np.concatenate([pts.min(axis=-2), pts.max(axis=-2)], axis=-1)


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """n points evenly spaced by arc length along a polyline, its ends included."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    t = np.linspace(0.0, arc[-1], n)
    return np.stack([np.interp(t, arc, points[:, 0]), np.interp(t, arc, points[:, 1])], axis=1)


def landmarks_from_mediapipe(mesh: np.ndarray) -> np.ndarray:
    """Map FaceMesh's (478, 2) pixel points onto s2d's (74, 2), as the module docstring's table says."""
    if mesh.shape != (MEDIAPIPE_POINTS, 2):
        raise ValueError(f"expected ({MEDIAPIPE_POINTS}, 2) FaceMesh points with irises, got {mesh.shape}")
    jaw = np.concatenate([_resample(mesh[list(_JAW_LEFT)], 9), _resample(mesh[list(_JAW_RIGHT)], 9)[1:]])
    return np.concatenate([jaw, mesh[list(MEDIAPIPE_TO_S2D)]]).astype(np.float32)


def estimate_pupils(ibug: np.ndarray) -> np.ndarray:
    """Points 68-73 (pupils, iris edges) estimated from the 68 iBUG points, shape (6, 2)."""
    out = np.zeros((6, 2))
    for k, eye in enumerate((lm.LEFT_EYE, lm.RIGHT_EYE)):
        pts = ibug[list(eye)]
        left, right = pts[0], pts[3]
        if left[0] > right[0]:
            left, right = right, left
        axis = right - left
        width = float(np.linalg.norm(axis))
        pupil = pts.mean(axis=0)
        offset = _IRIS_TO_EYE_WIDTH * axis if width > 0 else np.zeros(2)
        out[k] = pupil
        out[2 + 2 * k] = pupil - offset
        out[3 + 2 * k] = pupil + offset
    return out


def with_estimated_pupils(ibug: np.ndarray) -> np.ndarray:
    """The 68 iBUG points ``(68, 2)`` and the pupils and iris edges estimated from them, ``(74, 2)`` float32."""
    return np.concatenate([ibug, estimate_pupils(ibug)]).astype(np.float32)


class MediaPipeExtractor(LandmarkExtractor):
    """MediaPipe FaceMesh with iris refinement (478 points), mapped onto the 74."""

    name = "mediapipe"
    num_points = MEDIAPIPE_POINTS

    def __init__(self, video: bool = False):
        from mediapipe.python.solutions import face_detection, face_mesh

        # Tracking keeps one face; on stills, look at a few and keep the largest.
        self._video = video
        self._mesh = face_mesh.FaceMesh(static_image_mode=not video, max_num_faces=1 if video else 4,
                                        refine_landmarks=True, min_detection_confidence=0.5)
        self._crop_mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
        self._detector = face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        faces = self.faces(frame)
        return faces[0] if faces else None

    def faces(self, frame: np.ndarray) -> list[np.ndarray]:
        """The 74 landmarks of every face found (up to 4 on stills), the largest first.

        FaceMesh's own short-range detector misses small faces and, on stills, often all
        but one face: the full-range detector's faces are meshed one crop at a time when
        it finds more (on video frames only when FaceMesh finds none).
        """
        frame = _check_frame(frame)
        meshes = self._meshes(self._mesh, frame)
        if not meshes or not self._video:
            detected = self._mesh_detections(frame)
            meshes = detected if len(detected) > len(meshes) else meshes
        return [landmarks_from_mediapipe(mesh) for mesh in meshes[:1 if self._video else 4]]

    @staticmethod
    def _meshes(mesh_model: Any, image: np.ndarray) -> list[np.ndarray]:
        """Every mesh of ``image`` in pixels, the largest (bounding-box area) first."""
        with warnings.catch_warnings():  # protobuf's deprecation warning, raised on every call
            warnings.simplefilter("ignore", UserWarning)
            result = mesh_model.process(image)
        h, w = image.shape[:2]
        meshes = [np.array([(p.x * w - 0.5, p.y * h - 0.5) for p in face.landmark])
                  for face in result.multi_face_landmarks or []]
        return _largest_first(meshes)

    def _mesh_detections(self, frame: np.ndarray) -> list[np.ndarray]:
        """The full-range detector's faces, each meshed in a square crop twice its size, the largest first."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            detections = self._detector.process(frame).detections or []
        h, w = frame.shape[:2]
        meshes = []
        for box in (d.location_data.relative_bounding_box for d in detections):
            side = 2.0 * max(box.width * w, box.height * h)
            cx, cy = (box.xmin + box.width / 2) * w, (box.ymin + box.height / 2) * h
            x0, y0 = max(int(round(cx - side / 2)), 0), max(int(round(cy - side / 2)), 0)
            x1, y1 = min(int(round(cx + side / 2)), w), min(int(round(cy + side / 2)), h)
            if x1 - x0 >= 8 and y1 - y0 >= 8:
                found = self._meshes(self._crop_mesh, np.ascontiguousarray(frame[y0:y1, x0:x1]))
                meshes += [found[0] + [x0, y0]] if found else []
        return _largest_first(meshes)

    def close(self) -> None:
        for model in (self._mesh, self._crop_mesh, self._detector):
            model.close()


def _largest_first(meshes: list[np.ndarray]) -> list[np.ndarray]:
    return sorted(meshes, key=lambda m: -float(np.prod(np.ptp(m, axis=0))))


@functools.lru_cache(maxsize=1)
def dlib_models() -> tuple[Any, Any]:
    """dlib's HOG face detector and 68-point shape predictor, loaded once per process."""
    import dlib

    path = face_recognition_model("shape_predictor_68_face_landmarks.dat", "the dlib extractor")
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))


def face_recognition_model(name: str, needed_by: str) -> Path:
    """The path of dlib model file ``name`` that the face-recognition-models package ships; ExtractorError
    naming ``needed_by`` when it is not installed."""
    spec = importlib.util.find_spec("face_recognition_models")
    # Not imported: its __init__ needs pkg_resources, which current setuptools lacks.
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = next((p for p in (Path(f) / "models" / name for f in folders) if p.is_file()), None)
    if path is None:
        raise ExtractorError(f"{needed_by} needs {name} from the face-recognition-models package: "
                             "pip install face-recognition-models")
    return path


class DlibExtractor(LandmarkExtractor):
    """dlib's HOG detector and 68-point predictor; pupils and iris edges estimated."""

    name = "dlib"
    num_points = lm.NUM_IBUG
    estimated = (lm.LEFT_PUPIL, lm.RIGHT_PUPIL, *lm.LEFT_IRIS_EDGE, *lm.RIGHT_IRIS_EDGE)
    single_threaded = True

    def __init__(self, video: bool = False):
        self._detector, self._predictor = dlib_models()
        self._video = video

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        frame = _check_frame(frame)
        # dlib detects every frame afresh, at the frame's size and at twice it (faces down to
        # 40 px; the two scales also miss different turned faces). Video frames try the second
        # scale only when the first finds nothing, for speed.
        rects = list(self._detector(frame, 0))
        if not rects or not self._video:
            rects += list(self._detector(frame, 1))
        if not rects:
            return None
        shape = self._predictor(frame, max(rects, key=lambda r: r.area()))
        ibug = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return with_estimated_pupils(ibug)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
    return np.ascontiguousarray(frame)


# name -> (class, the modules it imports, the pip packages that provide them)
EXTRACTORS: dict[str, tuple[type[LandmarkExtractor], tuple[str, ...], str]] = {
    "mediapipe": (MediaPipeExtractor, ("mediapipe",), "mediapipe==0.10.14"),
    "dlib": (DlibExtractor, ("dlib", "face_recognition_models"), "dlib-bin face-recognition-models"),
}


def get_extractor(name: str, video: bool = False) -> LandmarkExtractor:
    """Build the extractor called ``name``; ``video=True`` lets it track from frame to frame."""
    if name not in EXTRACTORS:
        raise ExtractorError(f"unknown landmark detector {name!r}; known: {', '.join(EXTRACTORS)}")
    cls, modules, packages = EXTRACTORS[name]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ExtractorError(f"the {name} detector needs {', '.join(missing)}: pip install {packages} "
                             f"(or pip install 's2d[real]')")
    return cls(video=video)
