"""Render one SynthTalk frame: the posed, expressive 3D face over a static background.

The face mesh is projected with the head pose (perspective, so faces foreshorten
under yaw), back faces are culled and the rest painted back to front, so the face
hides itself plausibly. Each triangle warps the identity's canonical texture
affinely (piecewise-affine over the mesh), so skin texture moves with the face.
Eyes (sclera, iris, pupil) are drawn inside the current lid outline, and the
mouth interior inside the inner lips. Everything is drawn at ``supersample``
times the output size and area-downsampled: anti-aliased edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from s2d import landmarks as lm
from s2d.data.identity import LABEL, Identity, to_texture
from s2d.data.template import (
    AUX_3D,
    IRIS_RADIUS,
    LANDMARKS_3D,
    MESH_TRIANGLES,
    deform,
    rotation_matrix,
)

CAMERA_DISTANCE = 5.0  # face units from the camera to the head's origin
FACE_SCALE = 0.4  # image widths per face unit at scale 1
ORIGIN = (0.5, 0.42)  # where the point between the eyes sits, as fractions of the image
OCCLUSION_TOLERANCE = 0.02  # face units: a surface nearer than this in front of a landmark hides it
_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 24, endpoint=False)),
                    np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False))], axis=1)
# mesh vertex i is landmark i for i < 68 and auxiliary point i - 68 after the 74 landmarks
_MESH_TO_POINT = np.concatenate([np.arange(lm.NUM_IBUG), lm.NUM_LANDMARKS + np.arange(len(AUX_3D))])
# Textures are laid out on the shared frontal template, not on each identity's own
# proportions, so every identity's skin, brows and lips land on the same face regions.
_TEXTURE_POINTS = to_texture(np.concatenate([LANDMARKS_3D[:, :2], AUX_3D[:, :2]]))


@dataclass
class FrameParams:
    """Head pose and expression of one frame."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    tx: float = 0.0  # translation, fractions of the image
    ty: float = 0.0
    scale: float = 1.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    blink: float = 0.0
    mouth_open: float = 0.0
    smile: float = 0.0
    brow_raise: float = 0.0


@dataclass
class RenderedFrame:
    image: np.ndarray  # (size, size, 3) uint8
    parsing: np.ndarray  # (size, size) uint8
    landmarks: np.ndarray  # (74, 2) float32, pixel coordinates of the output image
    visible: np.ndarray  # (74,) bool


class Renderer:
    """Renders frames of one identity in front of one background."""

    def __init__(self, identity: Identity, background: np.ndarray, size: int = 256, supersample: int = 2):
        self.identity = identity
        self.size = size
        self.ss = supersample
        self.res = size * supersample
        self.background = cv2.resize(background, (self.res, self.res), interpolation=cv2.INTER_LINEAR)
        self.triangles = _MESH_TO_POINT[MESH_TRIANGLES]

    def project(self, points: np.ndarray, p: FrameParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """3D head points -> (screen xy at render resolution, rotated points, rotation)."""
        rot = rotation_matrix(p.yaw, p.pitch, p.roll)
        rotated = points @ rot.T
        factor = CAMERA_DISTANCE / (CAMERA_DISTANCE - rotated[:, 2])
        px_per_unit = FACE_SCALE * p.scale * self.res
        centre = np.array([(ORIGIN[0] + p.tx) * self.res, (ORIGIN[1] + p.ty) * self.res])
        return centre + px_per_unit * rotated[:, :2] * factor[:, None], rotated, rot

    def render(self, p: FrameParams) -> RenderedFrame:
        ident = self.identity
        points = deform(ident.points, np.array([p.gaze_x, p.gaze_y]), p.blink, p.mouth_open, p.smile, p.brow_raise)
        screen, rotated, _ = self.project(points, p)
        image = self.background.astype(np.float32)
        labels = np.zeros((self.res, self.res), np.uint8)
        self._neck(image, labels, screen)
        ids, depth_planes = self._face(image, labels, screen, rotated)
        eye_polygons = [screen[list(eye)] for eye in (lm.LEFT_EYE, lm.RIGHT_EYE)]
        for eye, pupil in zip(eye_polygons, (lm.LEFT_PUPIL, lm.RIGHT_PUPIL)):
            self._eye(image, labels, eye, points[pupil], p)
        self._mouth(image, labels, screen[list(lm.INNER_LIPS)], screen[60:65])
        out = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        landmarks = (screen[: lm.NUM_LANDMARKS] + 0.5) / self.ss - 0.5
        visible = self._visibility(screen, rotated[:, 2], ids, depth_planes, eye_polygons, p.blink)
        return RenderedFrame(
            image=np.clip(np.round(out), 0, 255).astype(np.uint8),
            parsing=labels[:: self.ss, :: self.ss].copy(),
            landmarks=landmarks.astype(np.float32),
            visible=visible,
        )

    def _neck(self, image: np.ndarray, labels: np.ndarray, screen: np.ndarray) -> None:
        left, right, chin = screen[5], screen[11], screen[8]
        bottom = self.res * 1.05
        poly = np.array([left, chin, right, [right[0] + 0.1 * (right[0] - left[0]), bottom],
                         [left[0] - 0.1 * (right[0] - left[0]), bottom]])
        fill_polygon(image, poly, (self.identity.skin_colour * 0.78).tolist())
        fill_polygon(labels, poly, LABEL["skin"])

    def _face(self, image: np.ndarray, labels: np.ndarray, screen: np.ndarray,
              rotated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Paint the textured mesh; return the triangle drawn at each pixel and each triangle's depth plane."""
        tri = self.triangles
        a, b, c = screen[tri[:, 0]], screen[tri[:, 1]], screen[tri[:, 2]]
        area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        front = np.flatnonzero(area > 1e-3)  # back faces (turned away) are culled
        order = front[np.argsort(rotated[tri[front]][:, :, 2].mean(axis=1), kind="stable")]
        ids = np.full((self.res, self.res), -1, np.int32)
        for k in order:  # painter's algorithm: far triangles first
            fill_polygon(ids, screen[tri[k]], int(k))
        # affine map of each triangle from screen to canonical texture coordinates
        src = np.concatenate([screen[tri], np.ones((len(tri), 3, 1))], axis=2)  # (N, 3, 3)
        dst = _TEXTURE_POINTS[tri]  # (N, 3, 2)
        safe = np.where(np.abs(area)[:, None, None] > 1e-3, src, np.eye(3)[None])
        affine = np.linalg.solve(safe, dst)  # (N, 3, 2): [x y 1] @ affine = texture xy
        depth_planes = np.linalg.solve(safe, rotated[tri][:, :, 2:])[:, :, 0]  # [x y 1] @ plane = depth
        ys, xs = np.nonzero(ids >= 0)
        coeff = affine[ids[ys, xs]]
        map_x = np.full((self.res, self.res), -1, np.float32)
        map_y = np.full((self.res, self.res), -1, np.float32)
        map_x[ys, xs] = xs * coeff[:, 0, 0] + ys * coeff[:, 1, 0] + coeff[:, 2, 0]
        map_y[ys, xs] = xs * coeff[:, 0, 1] + ys * coeff[:, 1, 1] + coeff[:, 2, 1]
        colour = cv2.remap(self.identity.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        face_labels = cv2.remap(self.identity.labels, map_x, map_y, cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_REPLICATE)
        inside = ids >= 0
        image[inside] = colour[inside]
        labels[inside] = face_labels[inside]
        return ids, depth_planes

    def _eye(self, image: np.ndarray, labels: np.ndarray, eye: np.ndarray, pupil: np.ndarray, p: FrameParams) -> None:
        if _signed_area(eye) <= 0:  # the eye faces away
            return
        mask = np.zeros((self.res, self.res), np.uint8)
        fill_polygon(mask, eye, 1)
        layer = np.empty_like(image)
        layer[:] = self.identity.sclera_colour
        iris3d = pupil + IRIS_RADIUS * np.concatenate([_CIRCLE, np.zeros((len(_CIRCLE), 1))], axis=1)
        iris, _, _ = self.project(iris3d, p)
        pupil_ring, _, _ = self.project(pupil + 0.42 * (iris3d - pupil), p)
        fill_polygon(layer, iris, (self.identity.iris_colour * 0.6).tolist())
        inner = pupil_ring + 0.85 * (iris - pupil_ring)  # a darker limbal ring around the iris
        fill_polygon(layer, inner, self.identity.iris_colour.tolist())
        fill_polygon(layer, pupil_ring, [12, 10, 10])
        iris_mask = np.zeros_like(mask)
        fill_polygon(iris_mask, iris, 1)
        on = mask > 0
        image[on] = layer[on]
        labels[on] = LABEL["sclera"]
        labels[on & (iris_mask > 0)] = LABEL["iris"]

    def _mouth(self, image: np.ndarray, labels: np.ndarray, inner: np.ndarray, upper: np.ndarray) -> None:
        if _signed_area(inner) <= 0:
            return
        mask = np.zeros((self.res, self.res), np.uint8)
        fill_polygon(mask, inner, 1)
        layer = np.empty_like(image)
        layer[:] = self.identity.mouth_colour
        teeth_height = 0.05 * FACE_SCALE * self.res
        teeth = np.concatenate([upper, upper[::-1] + [0, teeth_height]])
        fill_polygon(layer, teeth, self.identity.teeth_colour.tolist())
        on = mask > 0
        image[on] = layer[on]
        labels[on] = LABEL["mouth_interior"]

    def _visibility(self, screen: np.ndarray, depth: np.ndarray, ids: np.ndarray, depth_planes: np.ndarray,
                    eyes: list[np.ndarray], blink: float) -> np.ndarray:
        """A landmark is hidden when the painted surface at its pixel lies in front of it
        (a depth test against the face itself); pupils and irises also need an open eye."""
        visible = np.ones(lm.NUM_LANDMARKS, bool)
        for i in range(lm.NUM_IBUG):
            x, y = np.clip(np.round(screen[i]).astype(int), 0, self.res - 1)
            k = ids[y, x]
            if k >= 0:
                visible[i] = depth[i] >= depth_planes[k] @ [x, y, 1.0] - OCCLUSION_TOLERANCE
        for eye, group in zip(eyes, ((lm.LEFT_PUPIL, *lm.LEFT_IRIS_EDGE), (lm.RIGHT_PUPIL, *lm.RIGHT_IRIS_EDGE))):
            open_eye = _signed_area(eye) > 0 and blink < 0.5
            for idx in group:
                inside = cv2.pointPolygonTest(eye.astype(np.float32), tuple(map(float, screen[idx])), False) >= 0
                visible[idx] = open_eye and inside
        return visible


def _signed_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def fill_polygon(img: np.ndarray, poly: np.ndarray, value) -> None:
    """Fill a polygon with sub-pixel vertex precision (4 fractional bits; anti-aliasing, where wanted, comes
    from supersampling)."""
    pts = np.round(np.asarray(poly) * 16).astype(np.int32)
    cv2.fillPoly(img, [pts], value, lineType=cv2.LINE_8, shift=4)
