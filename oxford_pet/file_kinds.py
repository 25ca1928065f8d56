"""What a file is by its first bytes, and what this installation would need to decode it.

Ingest tells a damaged file from one in a format this installation cannot decode (an intact
EPS without Ghostscript, a TIFF compressed with a codec libtiff was built without, a JPEG XL,
which Pillow has no decoder for): the first is the file's fault, the second is not, and the
fix differs. Signatures are the formats' own magic numbers (each format's specification; the
same ones `file(1)` uses).
"""

import re
import shutil
import struct
from typing import Optional

from PIL import features

# (kind, test on the first bytes); the first that matches names the file.
_SIGNATURES = (
    ("JPEG", lambda d: d.startswith(b"\xff\xd8\xff")),
    ("PNG", lambda d: d.startswith(b"\x89PNG\r\n\x1a\n")),
    ("GIF", lambda d: d[:6] in (b"GIF87a", b"GIF89a") or d.startswith(b"GIF8")),
    ("BMP", lambda d: d.startswith(b"BM")),
    ("TIFF", lambda d: d[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")),
    ("WebP", lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP"),
    ("JPEG 2000", lambda d: d.startswith(b"\xff\x4f\xff\x51")
     or d.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n")),
    ("JPEG XL", lambda d: d.startswith(b"\xff\x0a")
     or d.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n")),
    ("AVIF", lambda d: d[4:8] == b"ftyp" and d[8:12] in (b"avif", b"avis")),
    ("HEIF", lambda d: d[4:8] == b"ftyp" and d[8:12] in (b"heic", b"heix", b"hevc", b"heim",
                                                         b"heis", b"mif1", b"msf1")),
    ("Photoshop (PSD)", lambda d: d.startswith(b"8BPS")),
    ("GIMP (XCF)", lambda d: d.startswith(b"gimp xcf ")),
    ("EPS", lambda d: d.startswith(b"%!PS") or d.startswith(b"\xc5\xd0\xd3\xc6")),
    ("PDF", lambda d: d.startswith(b"%PDF-")),
    ("WMF", lambda d: d.startswith(b"\xd7\xcd\xc6\x9a") or d[:6] in (b"\x01\x00\x09\x00\x00\x03",
                                                                      b"\x02\x00\x09\x00\x00\x03")),
    ("EMF", lambda d: d[:4] == b"\x01\x00\x00\x00" and d[40:44] == b" EMF"),
    ("ICO", lambda d: d.startswith(b"\x00\x00\x01\x00")),
    ("SVG", lambda d: b"<svg" in d[:1024].lower()),
    ("QOI", lambda d: d.startswith(b"qoif")),
    ("OpenEXR", lambda d: d.startswith(b"\x76\x2f\x31\x01")),
    ("Radiance HDR", lambda d: d.startswith(b"#?RADIANCE") or d.startswith(b"#?RGBE")),
    ("PNM", lambda d: len(d) > 2 and d[:1] == b"P" and d[1:2] in b"1234567"
     and d[2:3] in b" \t\r\n#"),
)

# TIFF compressions libtiff always has (TIFF 6.0 baseline and the common extensions);
# anything else is an optional codec a libtiff build may lack.
_TIFF_BASIC = {1: "none", 2: "CCITT RLE", 3: "CCITT G3", 4: "CCITT G4", 5: "LZW", 6: "old JPEG",
               7: "JPEG", 8: "Deflate", 32773: "PackBits", 32946: "Deflate"}
_TIFF_OPTIONAL = {34712: "JPEG 2000", 34887: "LERC", 34925: "LZMA", 50000: "Zstandard",
                  50001: "WebP", 50002: "JPEG XL", 34892: "lossy JPEG"}
_TIFF_COMPRESSION = 259
_TIFF_BITS_PER_SAMPLE = 258


# PIL's format names -> the kinds above, where they differ.
_PIL_FORMATS = {"JPEG2000": "JPEG 2000", "WEBP": "WebP", "PSD": "Photoshop (PSD)",
                "PPM": "PNM", "AVIF": "AVIF"}


def kind_of(data: bytes) -> Optional[str]:
    return next((kind for kind, test in _SIGNATURES if test(data)), None)


def kind_of_image(image) -> Optional[str]:
    """The kind of a file PIL opened, by PIL's own name for its format."""
    return _PIL_FORMATS.get(image.format, image.format)


def missing_decoder(kind: Optional[str], image, error: Optional[BaseException]) -> Optional[str]:
    """What this installation lacks to decode a file of `kind` (its PIL image if opened, the
    error PIL raised), or None when nothing is missing (the file itself is at fault)."""
    text = str(error or "")
    if kind == "EPS" and ("Ghostscript" in text or shutil.which("gs") is None):
        return "Pillow reads EPS through Ghostscript (`gs`), which is not installed here"
    if kind in ("WMF", "EMF") and "loader" in text:
        return "Pillow draws WMF and EMF files only on Windows"
    if kind == "JPEG XL":
        return "Pillow has no JPEG XL decoder (the pillow-jxl-plugin package adds one)"
    if kind == "HEIF":
        return "Pillow has no HEIF decoder (the pillow-heif package adds one)"
    if kind == "GIMP (XCF)":
        return "Pillow has no reader for GIMP's own format: export the image from GIMP"
    if kind in ("PDF", "SVG"):
        return f"{kind} is a document format that Pillow does not render"
    if kind == "OpenEXR":
        return "Pillow has no OpenEXR decoder"
    for wanted, feature, name in (("AVIF", "avif", "libavif"), ("WebP", "webp", "libwebp"),
                                  ("JPEG 2000", "jpg_2000", "OpenJPEG")):
        if kind == wanted and not _has(feature):
            return f"this Pillow was built without {name}"
    if kind == "TIFF" and image is not None:
        return tiff_codec_missing(image)
    return None


def _has(feature: str) -> bool:
    try:
        return bool(features.check(feature))
    except ValueError:  # a feature this Pillow does not even know
        return False


def tiff_codec_missing(image) -> Optional[str]:
    """For a TIFF PIL opened but could not decode: the optional codec it is compressed with."""
    tags = getattr(image, "tag_v2", None)
    code = tags.get(_TIFF_COMPRESSION) if tags is not None else None
    if code is None or code in _TIFF_BASIC:
        return None
    name = _TIFF_OPTIONAL.get(code, "a compression")
    return (f"it is compressed with {name} (TIFF compression {code}), a codec this "
            "installation's libtiff was built without")


def gray_max_value(image, data: bytes, kind: Optional[str]) -> Optional[int]:
    """The largest value a grayscale file's header allows, when below 255: a PNG or TIFF of
    1, 2 or 4 bits, a PGM with a small maxval. PIL scales such values to 0..255 when it
    reads them (2-bit 1, 2, 3 become 85, 170, 255); None for 8 bits or more."""
    bits = None
    if kind == "PNG" and len(data) >= 26:
        depth, color_type = struct.unpack(">BB", data[24:26])
        bits = depth if color_type in (0, 4) else None
    elif kind == "TIFF":
        tags = getattr(image, "tag_v2", None)
        value = tags.get(_TIFF_BITS_PER_SAMPLE) if tags is not None else None
        bits = value[0] if isinstance(value, tuple) and value else value
    elif kind == "PNM":
        header = re.match(rb"P[25]\s+(?:#[^\n]*\n\s*)*\d+\s+(?:#[^\n]*\n\s*)*\d+\s+"
                          rb"(?:#[^\n]*\n\s*)*(\d+)", data[:256])
        maxval = int(header.group(1)) if header else None
        return maxval if maxval and maxval < 255 else None
    return (2 ** bits - 1) if bits in (1, 2, 4) else None


def incomplete_ending(kind: Optional[str], data: bytes) -> Optional[str]:
    """A structural end missing from a file decoders accept anyway, in words; else None."""
    if kind == "PNG" and not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        return "a PNG without its end chunk (IEND)"
    return None
