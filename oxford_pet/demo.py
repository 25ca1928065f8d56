"""Generates a dataset in the exact on-disk layout of Oxford-IIIT Pet, for offline runs and tests.

The real archives cannot be fetched on our machines; this writes `images/*.jpg`,
`annotations/trimaps/*.png` (1 pet, 2 background, 3 border), `annotations/xmls/*.xml` (a head
box, for trainval images only, as in the archive), `annotations/list.txt`, `trainval.txt` and
`test.txt` with the real 37 breed names and their species. Each "pet" is a
textured animal-like shape (body, head, ears; cats with pointed ears, dogs with hanging ones)
on a varied background (gradients, low-frequency noise, clutter), at a varied size and place,
with the dataset's border ring around it. Deterministic for a seed: image i depends only on
(seed, i), so a larger count extends a smaller one.
"""

import colorsys
import io
import os
from typing import Callable, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from oxford_pet import breeds, layout
from storage import files


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a coarse random grid, bilinearly upsampled."""
    grid = (rng.random((cells, cells)) * 255).astype(np.uint8)
    big = Image.fromarray(grid).resize((width, height), Image.BILINEAR)
    return np.asarray(big, dtype=np.float32) / 255.0


def _muted_color(rng: np.random.Generator) -> np.ndarray:
    hue, sat, val = rng.random(), rng.uniform(0.05, 0.35), rng.uniform(0.3, 0.95)
    return np.array(colorsys.hsv_to_rgb(hue, sat, val), dtype=np.float32) * 255


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Gradient between two muted colours, blotches of noise, and a few flat clutter shapes."""
    c0, c1 = _muted_color(rng), _muted_color(rng)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    image = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    image += (_smooth_noise(rng, height, width, int(rng.integers(3, 8)))[..., None] - 0.5) * 60
    canvas = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 5))):  # furniture, floors, walls
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(width // 8, width // 2), y0 + rng.integers(height // 8, height // 2)
        color = tuple(int(v) for v in _muted_color(rng))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x1, y1], fill=color)
        else:
            draw.line([x0, y0, x1, y1], fill=color, width=int(rng.integers(2, 8)))
    return np.asarray(canvas, dtype=np.float32)


def _pet_shape(rng: np.random.Generator, height: int, width: int, species: int) -> np.ndarray:
    """Boolean mask of an animal-like silhouette: body ellipse, head, ears."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    side = min(width, height)
    scale = rng.uniform(0.25, 0.45) * side  # body half-width
    cx = rng.uniform(scale * 1.1, width - scale * 1.1)
    cy = rng.uniform(scale * 0.9, height - scale * 0.7)
    bw, bh = scale, scale * rng.uniform(0.45, 0.7)
    draw.ellipse([cx - bw, cy - bh, cx + bw, cy + bh], fill=255)  # body
    direction = 1 if rng.random() < 0.5 else -1
    hr = scale * rng.uniform(0.35, 0.5)
    hx, hy = cx + direction * bw * 0.75, cy - bh * 0.9
    draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=255)  # head
    for side_sign in (-1, 1):  # ears
        ex = hx + side_sign * hr * 0.55
        if species == breeds.CAT:  # pointed, upright
            draw.polygon([(ex - hr * 0.35, hy - hr * 0.6), (ex + hr * 0.35, hy - hr * 0.6),
                          (ex, hy - hr * 1.45)], fill=255)
        else:  # hanging
            draw.ellipse([ex - hr * 0.3, hy - hr * 0.4, ex + hr * 0.3, hy + hr * 0.7], fill=255)
    for leg in range(4):  # legs
        lx = cx - bw * 0.7 + leg * bw * 0.45
        draw.rectangle([lx, cy, lx + bw * 0.16, min(height - 1, cy + bh * 1.6)], fill=255)
    if rng.random() < 0.7:  # tail
        tx = cx - direction * bw
        draw.line([tx, cy, tx - direction * bw * 0.4, cy - bh * rng.uniform(0.5, 1.5)],
                  fill=255, width=max(2, int(bw * 0.12)))
    return np.asarray(canvas) > 127


def _pet_texture(rng: np.random.Generator, height: int, width: int, class_id: int) -> np.ndarray:
    """Fur: a breed-coloured base with stripes or spots in a second colour, and fine grain."""
    hue = (class_id * 0.618) % 1.0
    base = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.5, 0.9), rng.uniform(0.55, 0.95)))
    second = np.array(colorsys.hsv_to_rgb((hue + 0.5) % 1.0, rng.uniform(0.3, 0.8),
                                          rng.uniform(0.1, 0.5)))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(6, 16) * max(height, width) / 256
    if class_id % 2:  # stripes at an angle
        angle = rng.uniform(0, np.pi)
        pattern = np.sin((np.cos(angle) * xs + np.sin(angle) * ys) * 2 * np.pi / period) > 0.3
    else:  # spots
        pattern = _smooth_noise(rng, height, width, max(4, int(max(height, width) / period))) > 0.6
    image = np.where(pattern[..., None], second[None, None], base[None, None]) * 255
    image += rng.normal(0, 12, size=(height, width, 1))  # grain
    return image.astype(np.float32)


def _trimap(shape: np.ndarray, border: int) -> np.ndarray:
    """1 pet, 2 background, 3 a ring `border` pixels either side of the outline."""
    mask = Image.fromarray(shape.astype(np.uint8) * 255)
    size = 2 * border + 1
    outer = np.asarray(mask.filter(ImageFilter.MaxFilter(size))) > 127
    inner = np.asarray(mask.filter(ImageFilter.MinFilter(size))) > 127
    trimap = np.full(shape.shape, 2, np.uint8)
    trimap[outer] = 3
    trimap[inner] = 1
    return trimap


def make_sample(seed: int, index: int, breed: breeds.Breed, min_size: int,
                max_size: int) -> Tuple[Image.Image, Image.Image]:
    """One (RGB image, trimap) pair; depends only on (seed, index) and the breed."""
    rng = np.random.default_rng([seed, index])
    width, height = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
    shape = _pet_shape(rng, height, width, breed.species)
    image = _background(rng, height, width)
    soft = np.asarray(Image.fromarray(shape.astype(np.uint8) * 255).filter(
        ImageFilter.GaussianBlur(1.0)), dtype=np.float32)[..., None] / 255.0
    image = image * (1 - soft) + _pet_texture(rng, height, width, breed.class_id) * soft
    image += rng.normal(0, 4, size=image.shape)  # sensor noise
    rgb = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    border = max(1, round(min(width, height) / 80))
    return rgb, Image.fromarray(_trimap(shape, border), "L")


def head_box_xml(entry: layout.ListEntry, trimap: np.ndarray) -> str:
    """The archive's xml for an image: its size and a head box (here the top third of the
    pet's extent), in the VOC form the official xmls have."""
    rows, cols = np.nonzero(trimap == 1)
    height, width = trimap.shape
    if not rows.size:
        rows, cols = np.array([0, height - 1]), np.array([0, width - 1])
    top, bottom = int(rows.min()), int(rows.max())
    box = (int(cols.min()), top, int(cols.max()), top + max(1, (bottom - top) // 3))
    species = "cat" if entry.species == 1 else "dog"
    return (f"<annotation><folder>OXIIIT</folder><filename>{entry.name}.jpg</filename>"
            f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
            f"<segmented>0</segmented><object><name>{species}</name><pose>Frontal</pose>"
            f"<truncated>0</truncated><occluded>0</occluded><bndbox><xmin>{box[0]}</xmin>"
            f"<ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox>"
            "<difficult>0</difficult></object></annotation>\n")


def plan(count: int) -> List[Tuple[layout.ListEntry, str]]:
    """(list entry, split) for `count` images: breeds in turn, alternate images to each split.

    As in the real lists, every breed appears in both splits and the split is about half/half.
    """
    result = []
    numbers = {breed.name: 0 for breed in breeds.BREEDS}
    for index in range(count):
        breed = breeds.BREEDS[index % len(breeds.BREEDS)]
        numbers[breed.name] += 1
        entry = layout.ListEntry(f"{breed.name}_{numbers[breed.name]}", breed.class_id,
                                 breed.species, breed.breed_id)
        split = "train" if index % 2 == 0 else "eval"
        result.append((entry, split))
    return result


def make_demo_data(data_dir: str, count: int = 400, seed: int = 0, min_size: int = 160,
                   max_size: int = 320, quality: int = 90,
                   progress: Optional[Callable[[int, int], None]] = None) -> List[layout.ListEntry]:
    """Writes `count` images with their trimaps and list files under `data_dir`."""
    if count < 2:
        raise ValueError(f"count must be at least 2 (one image per split), got {count}")
    if not 32 <= min_size <= max_size:
        raise ValueError(f"need 32 <= min_size <= max_size, got {min_size}, {max_size}")
    files.makedirs(os.path.join(data_dir, layout.IMAGES_DIR))
    files.makedirs(os.path.join(data_dir, layout.TRIMAPS_DIR))
    files.makedirs(os.path.join(data_dir, layout.XMLS_DIR))
    entries = plan(count)
    for done, (entry, split) in enumerate(entries, start=1):
        image, trimap = make_sample(seed, done - 1, breeds.BY_NAME[entry.name.rsplit("_", 1)[0]],
                                    min_size, max_size)
        for picture, path, kind, options in (
                (image, layout.image_path(data_dir, entry.name), "JPEG", {"quality": quality}),
                (trimap, layout.trimap_path(data_dir, entry.name), "PNG", {})):
            encoded = io.BytesIO()
            picture.save(encoded, kind, **options)
            files.write_bytes(path, encoded.getvalue())
        if split == "train":
            files.write_text(os.path.join(data_dir, layout.XMLS_DIR, entry.name + ".xml"),
                             head_box_xml(entry, np.asarray(trimap)))
        if progress:
            progress(done, count)
    all_entries = [entry for entry, _ in entries]
    layout.write_list(os.path.join(data_dir, layout.LIST_FILE), all_entries, layout.LIST_HEADER)
    for split, list_file in layout.SPLIT_LISTS.items():
        layout.write_list(os.path.join(data_dir, list_file),
                          [entry for entry, s in entries if s == split])
    return all_entries
