"""What ingest measures of every image and trimap it accepts, so data validation can see images.

The raw examples hold two byte strings, a name and two labels: statistics over them cannot tell
a new camera (4x larger images, grayscale), a labelling tool that writes almost-empty masks, or
an export that swapped the trimap's classes. Ingest decodes every image and trimap anyway (to
check them); from the pixels Transform will see it records these numbers as features of the
example, which StatisticsGen describes, the schema (schema/schema.pbtxt) bounds, and the data
gate compares between splits and spans (components/data_checks.py).

Brightness is the luminance Y = 0.299 R + 0.587 G + 0.114 B of 8-bit pixels; colourfulness is
Hasler and Suesstrunk's (2003) M = sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 + m_yb^2), 0 for a
gray image. Both are taken on every 8th row and column (1/64 of the pixels, 2,900 of a 500x375
image): a summary of the picture, not a measurement of it, at about 0.15 ms an image
(bench/INGEST.md measures what the features cost ingest).
"""

from typing import Dict, NamedTuple

import numpy as np

STEP = 8  # every 8th row and column
# The data gate's summary of the measures and its findings (components/anomalies_gate.py
# writes it into its `checks` output; the report reads it).
CHECKS_FILE = "data_checks.json"


class Measure(NamedTuple):
    key: str  # the example's feature
    kind: str  # "int" or "float"
    words: str  # how a sentence names it
    unit: str  # appended to a value ("px", " bytes"), or ""
    lowest: float  # the schema's domain (schema/schema.pbtxt says why)
    highest: float


MEASURES = (
    Measure("image_height", "int", "height", " px", 16, 10_000),
    Measure("image_width", "int", "width", " px", 16, 10_000),
    Measure("image_bytes", "int", "file size", " bytes", 100, 50_000_000),
    Measure("brightness_mean", "float", "mean brightness", "", 0, 255),
    Measure("brightness_std", "float", "brightness spread", "", 0, 128),
    Measure("colourfulness", "float", "colourfulness", "", 0, 400),
    Measure("pet_fraction", "float", "pet share of the trimap", "", 0.0001, 1),
    Measure("background_fraction", "float", "background share of the trimap", "", 0.0001, 1),
    Measure("border_fraction", "float", "border share of the trimap", "", 0, 1),
)
BY_KEY = {measure.key: measure for measure in MEASURES}


def measure(pixels: np.ndarray, trimap: np.ndarray, file_bytes: int) -> Dict[str, float]:
    """The measures of one sample: `pixels` uint8 [H, W, 3] as Transform decodes the image,
    `trimap` its values [H, W] in {1, 2, 3}, `file_bytes` the size of the file as given."""
    height, width = pixels.shape[:2]
    sample = pixels[::STEP, ::STEP].reshape(-1, 3).astype(np.float32)
    luminance = sample @ np.array([0.299, 0.587, 0.114], np.float32)
    rg = sample[:, 0] - sample[:, 1]
    yb = 0.5 * (sample[:, 0] + sample[:, 1]) - sample[:, 2]
    colourfulness = (np.sqrt(rg.var() + yb.var())
                     + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    total = max(1, trimap.size)  # two comparisons: np.bincount cost 1 ms a 500x375 trimap
    pet, background = (np.count_nonzero(trimap == value) for value in (1, 2))
    shares = (pet / total, background / total, (trimap.size - pet - background) / total)
    return {"image_height": int(height), "image_width": int(width),
            "image_bytes": int(file_bytes),
            "brightness_mean": float(luminance.mean()), "brightness_std": float(luminance.std()),
            "colourfulness": float(colourfulness),
            "pet_fraction": float(shares[0]), "background_fraction": float(shares[1]),
            "border_fraction": float(shares[2])}


def say(key: str, value: float) -> str:
    """A value as a sentence says it: '2,000 px', '0.31', '123,456 bytes'."""
    found = BY_KEY[key]
    shown = f"{value:,.0f}" if found.kind == "int" else f"{value:.3g}"
    return shown + found.unit
