"""One listed sample -> one checked raw tf.Example, in the one form Transform decodes.

Feature names are `trainer.features`' (as TFDS `oxford_iiit_pet` names them).

What Transform sees is canonical, and checked with Transform's own decoders
(`trainer.preprocessing.decode_one_image` / `decode_one_trimap`), so training and serving
decode exactly the pixels and classes that ingest checked:

- images: an 8-bit RGB JPEG that TensorFlow decodes to the trimap's size is kept byte for byte;
  anything else that PIL can read (PNG, GIF, BMP, TIFF, WebP... data under the `.jpg` name;
  grayscale, palette, CMYK, RGBA, 16-bit pixels; an EXIF orientation; the JPEGs TFDS lists as
  "Corrupt JPEG data"; a JPEG TensorFlow cannot decode) is re-encoded as RGB JPEG, and the
  repair is named. 16-bit pixels are scaled to 8 bits (PIL's own conversion would clip them);
  an alpha channel is dropped, as TensorFlow drops it when serving a user's RGBA PNG.
- trimaps: an 8-bit single-channel PNG is kept byte for byte; a trimap whose values PIL reads
  unambiguously (16-bit gray, 1/2/4-bit gray, palette indices, RGB or gray+alpha with equal
  channels, GIF, BMP, TIFF) is re-encoded as 8-bit gray PNG, and the repair is named.
  TensorFlow's PNG decoder would have read those differently (16-bit values 1..3 as 0, a
  palette as the luminance of its colours).

A sample that cannot be used raises `BadSampleError` whose message is a plain sentence about
the file: "empty file (0 bytes)", "not an image: ...", "trimap holds values ...".
"""

import io
import os
import string
import unicodedata
import warnings
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from oxford_pet import breeds, file_kinds, layout, libjpeg_warnings, measures
from storage import files
from trainer import features, preprocessing

JPEG_QUALITY = 95
# The examples' features, as a number: raised whenever they change (2: the measured image
# features, the breed and species names), so the ExampleGen's cache does not hand back
# examples without them (components/oxford_pet_example_gen.py make_custom_config).
EXAMPLE_FORMAT = 2
# PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS, about 9459 x 9459): larger images
# are refused before they are decoded. Transform would decode them whole, 3 bytes a pixel.
MAX_PIXELS = 89_478_485
EXIF_ORIENTATION = 0x0112
# An image whose brightness (as Transform decodes it; measures.py) has a standard deviation
# below this is "nearly constant": a 12-bit image stored in 16 bits with values 0..30 becomes
# all black when scaled to 8 bits. Counted and shown (outcomes, runner summary, report), not
# refused.
NEARLY_CONSTANT_STD = 2.0
NEARLY_CONSTANT = "nearly constant"


class BadSampleError(ValueError):
    """A listed sample that cannot become a training example; the message says why."""


class Sample(NamedTuple):
    """What ingest produced for one sample: the example and, if repaired, what was done, what
    a person should know about it (e.g. "nearly constant: ..."), and its measures (also in the
    example: measures.py)."""
    example: tf.train.Example
    repair: Optional[str]
    notes: Tuple[str, ...] = ()
    measured: Dict[str, float] = {}


class CanonicalImage(NamedTuple):
    """An image as Transform will decode it: its bytes, (width, height), what was repaired
    (None: kept byte for byte), and the pixels TensorFlow decoded from the bytes."""
    data: bytes
    size: Tuple[int, int]
    repair: Optional[str]
    pixels: np.ndarray


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _measured_features(measured: Dict[str, float]) -> Dict[str, tf.train.Feature]:
    return {key: _int_feature(int(measured[key])) if measure.kind == "int" else
            tf.train.Feature(float_list=tf.train.FloatList(value=[measured[key]]))
            for key, measure in measures.BY_KEY.items()}


def _read(path: str, what: str) -> bytes:
    """The file's bytes, read first and diagnosed only when that fails (on gs:// each check is a
    request: a sample that reads costs one)."""
    try:
        return files.read_bytes(path)
    except (FileNotFoundError, IsADirectoryError):
        if files.isdir(path):
            raise BadSampleError(f"{what} {path} is a directory, not a file") from None
        others = _same_name_files(path)
        base = os.path.basename(path)
        hint = (f" (found {', '.join(others)}: the layout names it {base})") if others else ""
        if any(unicodedata.normalize("NFC", name) == unicodedata.normalize("NFC", base)
               for name in others):
            hint = (f" (found {', '.join(repr(name) for name in others)}: the same name with "
                    f"its accents written as other Unicode code points, as macOS writes them "
                    f"(NFD) where the list has {unicodedata.normalize('NFC', base)!r} (NFC): "
                    f"rename the files to NFC, e.g. `convmv -r -f utf8 -t utf8 --nfc --notest "
                    f"DIR`)")
        raise BadSampleError(f"{what} {path} is missing{hint}") from None
    except OSError as error:
        raise BadSampleError(f"{what} {path} cannot be read: {error.strerror or error}") \
            from None


def _same_name_files(path: str) -> List[str]:
    """Files beside `path` with its name and another extension, case or Unicode normalization
    ('x.JPG', 'x.png', 'Abyssinian_café.jpg' with its 'é' written as 'e' + a combining accent)."""
    folder, base = os.path.split(path)

    def key(name: str) -> str:
        return unicodedata.normalize("NFC", os.path.splitext(name)[0]).casefold()

    try:
        return sorted(name for name in files.names(folder)
                      if key(name) == key(base) and name != base)[:3]
    except OSError:
        return []


def check_entry(entry: layout.ListEntry) -> None:
    """The list line agrees with the dataset's 37 breeds (name, class id, species)."""
    name = entry.name.rsplit("_", 1)[0]
    breed = breeds.BY_NAME.get(name)
    if breed is None:
        raise BadSampleError(f"{entry.name}: '{name}' is not one of the 37 breeds")
    if (entry.class_id, entry.species) != (breed.class_id, breed.species):
        raise BadSampleError(
            f"{entry.name}: list says class {entry.class_id}, species {entry.species}; "
            f"the breed {name} is class {breed.class_id}, species {breed.species}")


# ---- reading a file with PIL, with plain reasons ----

def _first_bytes(data: bytes) -> str:
    head = data[:16]
    text = head.decode("ascii", errors="replace")
    if all(ch in string.printable for ch in text):
        return f"text {text.strip()!r}"
    return f"bytes {head[:8].hex(' ')}"


def _cannot_decode(what: str, kind: str, missing: str) -> BadSampleError:
    article = "an" if kind[:1] in "AEFHILMNORSX" else "a"  # an EPS, an HEIF, a JPEG XL...
    return BadSampleError(f"{what} is {article} {kind} file, a format this installation cannot "
                          f"decode: {missing}")


def _open(data: bytes, what: str) -> Image.Image:
    """PIL's image of `data`, its header read (not its pixels); BadSampleError in plain
    words for an empty file, a file that is no image, a format this installation cannot
    decode, no pixels, or too many."""
    if not data:
        raise BadSampleError(f"{what} is an empty file (0 bytes)")
    kind = file_kinds.kind_of(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise BadSampleError(f"{what} has more than twice {MAX_PIXELS:,} pixels: too large to "
                             "decode") from None
    except Exception as error:  # UnidentifiedImageError and the decoders' own errors
        if "MAX_TEXT_CHUNK" in str(error):
            raise BadSampleError(
                f"{what} is {kind or 'PNG'} data whose text metadata decompresses past "
                f"Pillow's safety limit ({PngImagePlugin.MAX_TEXT_CHUNK:,} bytes): refused as a "
                "possible decompression bomb; save the image again without its metadata") \
                from None
        missing = file_kinds.missing_decoder(kind, None, error)
        if missing:
            raise _cannot_decode(what, kind, missing) from None
        if kind:
            detail = "" if isinstance(error, UnidentifiedImageError) else f": {_short(error)}"
            raise BadSampleError(f"{what} is {kind} data with a damaged header "
                                 f"({len(data):,} bytes){detail}") from None
        raise BadSampleError(f"{what} is not an image: its {len(data):,} bytes begin with "
                             f"{_first_bytes(data)}") from None
    width, height = image.size
    if width == 0 or height == 0:
        raise BadSampleError(f"{what} is {width}x{height}: it has no pixels")
    if width * height > MAX_PIXELS:
        raise BadSampleError(f"{what} is {width}x{height} = {width * height:,} pixels, more "
                             f"than the limit of {MAX_PIXELS:,}: too large to decode")
    return image


def _load(image: Image.Image, what: str) -> Image.Image:
    """The image with its pixels decoded; BadSampleError for truncated or damaged data, or
    for data this installation lacks the decoder of (said apart: not the file's fault)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except Exception as error:  # truncated or corrupt pixel data, or a missing codec
        kind = file_kinds.kind_of_image(image)
        missing = file_kinds.missing_decoder(kind, image, error)
        if missing:
            raise _cannot_decode(what, kind, missing) from None
        width, height = image.size
        raise BadSampleError(f"{what} ({image.format}, {width}x{height}) is truncated or "
                             f"damaged: {_short(error)}") from None
    return image


def _short(error: Exception) -> str:
    """The decoder's own words, without object addresses, at most one line."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if " object at 0x" in text:
        return type(error).__name__
    return text[:120]


def _tf_decodes(decode, data: bytes) -> Optional[np.ndarray]:
    """What Transform's decoder makes of `data`, or None if it refuses it."""
    return _tf_decodes_warning(decode, data)[0]


def _tf_decodes_warning(decode, data: bytes) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """(what Transform's decoder makes of `data` or None, the first warning libjpeg wrote
    while decoding it, e.g. "Corrupt JPEG data: 3 extraneous bytes before marker 0xdb").

    TensorFlow decodes without an error but libjpeg writes its warnings to the process's
    stderr (what floods a training log, and why TFDS re-encodes such files), so they are
    caught there (libjpeg_warnings.py)."""
    with libjpeg_warnings.caught() as warned:
        try:
            decoded = decode(tf.constant(data)).numpy()
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
            decoded = None
    return decoded, (warned[0] if warned else None)


# ---- images ----

def _to_rgb(image: Image.Image, what: str) -> Image.Image:
    """8-bit RGB pixels of any PIL mode, converted by what the values mean."""
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image, dtype=np.int64)
        if mode == "I" and (values.min() < 0 or values.max() > 65535):
            raise BadSampleError(f"{what} has 32-bit integer pixels beyond the 16-bit range: "
                                 "save it as 8-bit")
        gray = np.round(values / 257.0).astype(np.uint8)  # 16 bits -> 8 bits, not clipped
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "F":
        raise BadSampleError(f"{what} has floating-point pixels: save it as 8-bit")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as error:
        raise BadSampleError(f"{what} has {mode} pixels that cannot be converted to RGB: "
                             f"{_short(error)}") from None


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
    except Exception:  # a damaged EXIF block: the pixels are what they are
        return 1


def _orientation_note(orientation: int, size: Tuple[int, int],
                      trimap_size: Optional[Tuple[int, int]]) -> Tuple[bool, str]:
    """(turn the image, what was done) for an EXIF orientation other than 1. A trimap follows
    the pixels it was drawn on: when the turned image has the trimap's size and the stored one
    does not, the image is turned; otherwise the stored pixels are kept, and the note says
    whether the trimap's size showed that (it cannot for a square image)."""
    turned = size[::-1] if orientation in (5, 6, 7, 8) else size
    if trimap_size is not None and trimap_size != size and trimap_size == turned:
        return True, f"turned by its EXIF orientation {orientation} to fit its trimap"
    if trimap_size is not None and turned == size:
        return False, (f"EXIF orientation {orientation} dropped (the image is "
                       f"{'square' if size[0] == size[1] else 'the same size either way'}: its "
                       "trimap's size cannot tell which way it was drawn; the stored pixels "
                       "are kept)")
    return False, (f"EXIF orientation {orientation} dropped (its trimap has the stored pixels' "
                   "size)")


def _image_problems(image: Image.Image, data: bytes, size: Tuple[int, int],
                    trimap_size: Optional[Tuple[int, int]], what: str):
    """(what needs re-encoding, in words; the image, turned if its EXIF says so)."""
    problems = []
    if image.format != "JPEG":
        problems.append(f"{image.format} data")
    if image.mode != "RGB":
        problems.append(f"{image.mode} pixels")
    try:
        frames = getattr(image, "n_frames", 1)
    except Exception:  # counting frames reads them all: damaged ones fail here
        frames = 1
    if frames > 1:
        problems.append(f"the first of {frames} frames")
    ending = file_kinds.incomplete_ending(file_kinds.kind_of(data), data)
    if ending:
        problems.append(ending)
    orientation = _orientation(image)
    if orientation != 1:
        turn, note = _orientation_note(orientation, size, trimap_size)
        if turn:
            image = ImageOps.exif_transpose(_load(image, what))
        problems.append(note)
    return problems, image


def nearly_constant_note(pixels: np.ndarray, spread: float) -> Optional[str]:
    """A note when an image's brightness barely varies (`spread`, its standard deviation,
    below NEARLY_CONSTANT_STD)."""
    if spread >= NEARLY_CONSTANT_STD:
        return None
    return (f"{NEARLY_CONSTANT}: its 8-bit pixels span {int(pixels.min())}..{int(pixels.max())} "
            f"(brightness standard deviation {spread:.2f}); check the file (a 12-bit image in "
            "16 bits turns black when scaled to 8)")


def canonical_image(data: bytes, name: str, where: str,
                    trimap_size: Optional[Tuple[int, int]] = None) -> CanonicalImage:
    """The image as RGB JPEG bytes that Transform decodes to its (width, height), what was
    repaired and the decoded pixels. With `trimap_size`, an EXIF orientation is applied
    only if that makes the image fit its trimap (a trimap follows the pixels it was drawn on).
    A JPEG is re-encoded when libjpeg warns while TensorFlow decodes it ("Corrupt JPEG data")."""
    what = f"image {where}"
    image = _open(data, what)
    size = image.size
    problems, image = _image_problems(image, data, size, trimap_size, what)
    size = image.size
    if not problems:
        decoded, warning = _tf_decodes_warning(preprocessing.decode_one_image, data)
        if decoded is not None and decoded.shape[:2] == size[::-1] and not warning:
            return CanonicalImage(data, size, None, decoded)
        problems.append(f"libjpeg warns \"{warning}\"" if warning and decoded is not None
                        else "a JPEG TensorFlow's decoder rejects")
    buffer = io.BytesIO()
    _to_rgb(_load(image, what), what).save(buffer, "JPEG", quality=JPEG_QUALITY)
    encoded = buffer.getvalue()
    decoded = _tf_decodes(preprocessing.decode_one_image, encoded)
    if decoded is None or decoded.shape[:2] != size[::-1]:  # never seen: say so, do not guess
        raise BadSampleError(f"{what}: its re-encoded JPEG does not decode in TensorFlow")
    return CanonicalImage(encoded, size, f"{', '.join(problems)}: re-encoded as RGB JPEG",
                          decoded)


# ---- trimaps ----

def _palette_values(image: Image.Image, indices: np.ndarray) -> Optional[np.ndarray]:
    """A palette trimap's values: its indices if they are trimap values, else the gray levels
    of its colours if those are (gray palettes reordered by an editor), else None."""
    if set(np.unique(indices).tolist()) <= set(features.TRIMAP_VALUES):
        return indices
    palette = np.asarray(image.getpalette() or [], dtype=np.int64).reshape(-1, 3)
    used = np.unique(indices)
    if used.max() >= len(palette):
        return None
    colours = palette[used]
    if not (colours == colours[:, :1]).all():
        return None
    lookup = np.zeros(256, np.int64)
    lookup[used] = colours[:, 0]
    values = lookup[indices]
    return values if set(np.unique(values).tolist()) <= set(features.TRIMAP_VALUES) else None


def _trimap_values(image: Image.Image, data: bytes, what: str) -> Tuple[np.ndarray, str]:
    """(the trimap's values [H, W], how they were read) for any PIL mode with one value a
    pixel; BadSampleError for colour pixels."""
    mode = image.mode
    if mode in ("P", "PA"):
        indices = np.asarray(image, dtype=np.int64)
        indices = indices[..., 0] if indices.ndim == 3 else indices  # PA: alpha ignored
        values = _palette_values(image, indices)
        return (indices, "palette") if values is None else (values, "palette")
    if mode == "LA":
        return np.asarray(image, dtype=np.int64)[..., 0], "gray + alpha, alpha ignored"
    if mode in ("RGB", "RGBA", "CMYK", "YCbCr"):
        colour = np.asarray(image.convert("RGB") if mode in ("CMYK", "YCbCr") else image,
                            dtype=np.int64)[..., :3]
        if not (colour == colour[..., :1]).all():
            raise BadSampleError(f"{what} has colour pixels ({mode}, channels differ): a "
                                 "trimap holds one value a pixel, 1, 2 or 3")
        return colour[..., 0], f"{mode} with equal channels" + (
            ", alpha ignored" if mode == "RGBA" else "")
    if mode == "F":
        raise BadSampleError(f"{what} has floating-point pixels: save it as 8-bit gray PNG")
    values = np.asarray(image, dtype=np.int64)
    if mode == "1":
        return values, "1-bit"
    if mode == "L":
        # PIL (and TensorFlow) scale 1, 2 and 4-bit gray (and a PGM's small maxval) to
        # 0..255, whatever the format: undo it from what the file's header says.
        top = file_kinds.gray_max_value(image, data, file_kinds.kind_of(data))
        if top:
            bits = {1: 1, 3: 2, 15: 4}.get(top)
            return (np.round(values * top / 255.0).astype(np.int64),
                    f"{bits}-bit gray" if bits else f"gray of maximum value {top}")
        return values, "8-bit gray"
    if mode.startswith("I"):
        scaled = values // 257
        if (values % 257 == 0).all() and set(np.unique(scaled).tolist()) <= set(
                features.TRIMAP_VALUES):
            return scaled, "16-bit gray, 8-bit values scaled by 257"
        return values, f"{'16' if mode.startswith('I;16') else '32'}-bit gray"
    raise BadSampleError(f"{what} has {mode} pixels: save it as 8-bit gray PNG")


TRIMAP_RANGE = (features.TRIMAP_VALUES[0], features.TRIMAP_VALUES[-1])
assert tuple(features.TRIMAP_VALUES) == tuple(range(TRIMAP_RANGE[0], TRIMAP_RANGE[1] + 1))


def _describe_bad_values(values: np.ndarray, how: str) -> str:
    found, counts = np.unique(values, return_counts=True)
    bad = [(int(v), int(c)) for v, c in zip(found, counts) if v not in features.TRIMAP_VALUES]
    shown = ", ".join(str(v) for v, _ in bad[:5]) + (f" and {len(bad) - 5} more"
                                                     if len(bad) > 5 else "")
    pixels = sum(c for _, c in bad)
    hint = ""
    if set(found.tolist()) <= {0, 1, 2} and how != "1-bit":
        hint = " (0, 1, 2 look like class ids; the dataset's trimaps hold 1, 2, 3)"
    return (f"holds {shown} ({pixels:,} pixel{'s' if pixels != 1 else ''}; read as {how}); a "
            f"trimap holds only 1 (pet), 2 (background) and 3 (border){hint}")


def canonical_trimap(data: bytes, where: str) -> Tuple[bytes, np.ndarray, Optional[str]]:
    """(8-bit gray PNG bytes, their values uint8 [H, W] in {1, 2, 3}, what was repaired or
    None). The bytes decode in Transform (`preprocessing.decode_one_trimap`) to exactly those
    values: that is checked here."""
    what = f"trimap {where}"
    image = _load(_open(data, what), what)
    values, how = _trimap_values(image, data, what)
    # The values are a range (TRIMAP_RANGE), so two reductions check a trimap: np.unique
    # sorted every trimap, 41 ms each at 300-500 px (py-spy, BENCHMARKS.md "Where the fixed
    # cost went"), and np.isin's comparison with each value took 16% of ExampleGen's samples.
    if values.size and not TRIMAP_RANGE[0] <= values.min() <= values.max() <= TRIMAP_RANGE[1]:
        raise BadSampleError(f"{what} {_describe_bad_values(values, how)}")
    values = values.astype(np.uint8)
    ending = file_kinds.incomplete_ending(file_kinds.kind_of(data), data)
    if ending:
        how = f"{how}, {ending}"
    if image.format == "PNG" and how == "8-bit gray":
        decoded = _tf_decodes(preprocessing.decode_one_trimap, data)
        if decoded is not None and np.array_equal(decoded[..., 0], values):
            return data, values, None
    buffer = io.BytesIO()
    Image.fromarray(values, "L").save(buffer, "PNG")
    encoded = buffer.getvalue()
    decoded = _tf_decodes(preprocessing.decode_one_trimap, encoded)
    if decoded is None or not np.array_equal(decoded[..., 0], values):
        raise BadSampleError(f"{what}: its re-encoded PNG does not decode to the same values "
                             "in TensorFlow")
    return encoded, values, f"{image.format} trimap, {how}: re-encoded as 8-bit gray PNG"


def _check_sizes(values: np.ndarray, image_size: Tuple[int, int], trimap_where: str) -> None:
    size = (values.shape[1], values.shape[0])
    if size != image_size:
        raise BadSampleError(f"trimap {trimap_where} is {size[0]}x{size[1]} but its image is "
                             f"{image_size[0]}x{image_size[1]}")


def build_sample(name: str, image_bytes: bytes, trimap_bytes: bytes, label: int, species: int,
                 image_where: str = "", trimap_where: str = "") -> Sample:
    """Checks and repairs one sample's bytes; label 0..36 and species 0..1 as in the examples."""
    image_where, trimap_where = image_where or name, trimap_where or name
    given_bytes = len(image_bytes)
    trimap_bytes, values, trimap_repair = canonical_trimap(trimap_bytes, trimap_where)
    image = canonical_image(image_bytes, name, image_where, (values.shape[1], values.shape[0]))
    image_bytes, size, image_repair = image.data, image.size, image.repair
    _check_sizes(values, size, trimap_where)
    measured = measures.measure(image.pixels, values, given_bytes)
    note = nearly_constant_note(image.pixels, measured["brightness_std"])
    notes = (note,) if note else ()
    both = bool(image_repair and trimap_repair)
    repairs = [f"image: {image_repair}" if both else image_repair,
               f"trimap: {trimap_repair}" if both else trimap_repair]
    return Sample(tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: _bytes_feature(image_bytes),
        features.MASK_KEY: _bytes_feature(trimap_bytes),
        features.FILE_NAME_KEY: _bytes_feature(f"{name}.jpg".encode()),
        features.LABEL_KEY: _int_feature(label),
        features.SPECIES_KEY: _int_feature(species),
        features.BREED_KEY: _bytes_feature(breeds.BREED_NAMES[label].encode()),
        features.SPECIES_NAME_KEY: _bytes_feature(features.SPECIES_NAMES[species].encode()),
        **_measured_features(measured),
    })), "; ".join(r for r in repairs if r) or None, notes, measured)


def make_sample(data_dir: str, entry: layout.ListEntry) -> Sample:
    """The checked (and if need be repaired) example for one list entry of a data directory."""
    check_entry(entry)
    image_file = layout.image_path(data_dir, entry.name)
    trimap_file = layout.trimap_path(data_dir, entry.name)
    return build_sample(entry.name, _read(image_file, "image"), _read(trimap_file, "trimap"),
                        entry.class_id - 1, entry.species - 1, image_file, trimap_file)
