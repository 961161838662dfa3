"""Camera images to JPEG for the page (no ROS: the bridge hands over the image's fields)."""

from __future__ import annotations

import io

import numpy as np

from robot_agent.errors import MessageError

#: encodings of ``sensor_msgs/Image`` the console shows, and their channels
ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def image_array(width: int, height: int, encoding: str, step: int, data: bytes | memoryview) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array from the fields of a ``sensor_msgs/Image``.

    Raises:
        MessageError: an encoding not in :data:`ENCODINGS`, or sizes that do not fit the data.
    """
    channels = ENCODINGS.get(encoding)
    if channels is None:
        raise MessageError(f"camera encoding {encoding!r} is not shown; supported: {', '.join(ENCODINGS)}")
    if width <= 0 or height <= 0 or step < width * channels or len(data) < step * height:
        raise MessageError(f"camera image {width}x{height} (step {step}) does not fit its {len(data)} bytes")
    rows = np.frombuffer(data, np.uint8, count=step * height).reshape(height, step)
    px = rows[:, : width * channels].reshape(height, width, channels)
    if channels == 1:
        return np.repeat(px, 3, axis=2)
    if encoding.startswith("bgr"):
        return px[:, :, 2::-1]
    return px[:, :, :3]


def to_jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 array."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()
