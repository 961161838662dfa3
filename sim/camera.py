"""A fixed RGB-D camera over the table, with per-object crops from the segmentation mask.

Crops feed the visual retrieval of skill knowledge: each is the object's pixels on a
neutral background, square, resized to ``crop_size`` (nearest neighbour, no extra deps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.world import SimWorld

BACKGROUND = 127


@dataclass
class CameraFrame:
    """One rendering: rgb (H, W, 3) uint8, depth (H, W) metres, seg (H, W) body ids."""

    rgb: np.ndarray
    depth: np.ndarray
    seg: np.ndarray


class Camera:
    """A pinhole camera looking at the table from the operator's side, slightly above.

    Args:
        world: the simulation.
        eye/target: camera position and look-at point (base frame, m).
        fov_deg: vertical field of view.
    """

    def __init__(
        self,
        world: SimWorld,
        eye: tuple[float, float, float] = (1.25, 0.0, 0.75),
        target: tuple[float, float, float] = (0.5, 0.0, 0.0),
        fov_deg: float = 55.0,
        near: float = 0.05,
        far: float = 3.0,
    ) -> None:
        self.world = world
        self.width = world.sim_cfg.camera_width
        self.height = world.sim_cfg.camera_height
        self.near, self.far = near, far
        c = world.client
        self._view = c.computeViewMatrix(cameraEyePosition=eye, cameraTargetPosition=target, cameraUpVector=[0, 0, 1])
        self._proj = c.computeProjectionMatrixFOV(
            fov=fov_deg, aspect=self.width / self.height, nearVal=near, farVal=far
        )

    def render(self) -> CameraFrame:
        c = self.world.client
        _, _, rgba, depth_buf, seg = c.getCameraImage(
            self.width, self.height, viewMatrix=self._view, projectionMatrix=self._proj, renderer=c.ER_TINY_RENDERER
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[:, :, :3].copy()
        zb = np.asarray(depth_buf, dtype=np.float32).reshape(self.height, self.width)
        depth = self.far * self.near / (self.far - (self.far - self.near) * zb)
        seg_arr = np.asarray(seg, dtype=np.int64).reshape(self.height, self.width)
        return CameraFrame(rgb, depth, seg_arr)

    def object_crops(
        self, frame: CameraFrame | None = None, crop_size: int = 64, pad: int = 4
    ) -> dict[str, np.ndarray]:
        """Square crops of every visible object, background set to neutral grey.

        Returns:
            name -> (crop_size, crop_size, 3) uint8 array. Objects hidden from the camera are absent.
        """
        frame = frame or self.render()
        crops = {}
        for name, obj in self.world.objects.items():
            # Body id in the low 24 bits (PyBullet encodes the link above them when asked).
            mask = (frame.seg & ((1 << 24) - 1)) == obj.body
            mask &= frame.seg >= 0
            if mask.sum() < 4:
                continue
            ys, xs = np.nonzero(mask)
            cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
            half = max(ys.max() - ys.min(), xs.max() - xs.min()) / 2 + pad
            y0, y1 = int(max(cy - half, 0)), int(min(cy + half + 1, self.height))
            x0, x1 = int(max(cx - half, 0)), int(min(cx + half + 1, self.width))
            patch = np.where(mask[y0:y1, x0:x1, None], frame.rgb[y0:y1, x0:x1], BACKGROUND).astype(np.uint8)
            crops[name] = _resize_nearest(patch, crop_size)
        return crops


def _resize_nearest(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    side = max(h, w)
    canvas = np.full((side, side, 3), BACKGROUND, dtype=np.uint8)
    canvas[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = img
    idx = (np.arange(size) * side / size).astype(int)
    return canvas[idx][:, idx]
