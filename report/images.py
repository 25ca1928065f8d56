"""Masks and overlays as small images, and images as data URIs (the report embeds them).

Plain numpy and PIL: the report needs no plotting library.
"""

import base64
import io
from typing import Tuple

import numpy as np
from PIL import Image

from trainer import features

CLASS_COLOURS: Tuple[Tuple[int, int, int], ...] = features.CLASS_COLOURS


def colour_mask(class_ids: np.ndarray) -> np.ndarray:
    """[H, W] class ids -> [H, W, 3] uint8 in CLASS_COLOURS."""
    palette = np.array(CLASS_COLOURS, dtype=np.uint8)
    return palette[np.clip(np.asarray(class_ids, dtype=np.int64), 0, len(palette) - 1)]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] (floats) or [0, 255] (integers) -> uint8 [H, W, 3]."""
    image = np.asarray(image)
    if image.dtype.kind == "f":
        image = np.clip(image, 0.0, 1.0) * 255.0
    image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


def overlay(image: np.ndarray, class_ids: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The image with the predicted pet pixels tinted in the pet colour, border in white."""
    base = to_uint8(image).astype(np.float32)
    colours = colour_mask(class_ids).astype(np.float32)
    tinted = np.where((np.asarray(class_ids) != 1)[..., None],
                      (1 - alpha) * base + alpha * colours, base)
    return np.clip(tinted, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, image_format: str = "PNG") -> bytes:
    """uint8 [H, W, 3] -> PNG or JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, image_format, **(
        {"quality": 90} if image_format == "JPEG" else {"optimize": True}))
    return buffer.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_uri(image: np.ndarray, image_format: str = "PNG") -> str:
    """An image as a data: URI the HTML can embed (JPEG for photos, PNG for masks)."""
    return data_uri(encode(image, image_format), f"image/{image_format.lower()}")
