"""Files nobody here wrote, in each class a real-world corpus showed: what ingest says and does.

Small files made in the test, one of each kind: formats this installation cannot decode (said
apart from damaged files, naming what is missing), signatures recognised for a right
diagnosis, low-bit-depth gray trimaps in every format that has them, and the oddities that
must not pass silently (a PNG without its end chunk, a JPEG libjpeg warns about, a nearly
constant image, an EXIF orientation that cannot be checked against the trimap).
"""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from oxford_pet import records

SIZE = (50, 40)  # width, height


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _encoded(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _photo(size=SIZE) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def _trimap_values(size=SIZE) -> np.ndarray:
    return np.resize(np.array([1, 2, 3], np.uint8), (size[1], size[0]))


def _packed_rows(values: np.ndarray, bits: int):
    for row in values:
        packed, acc, used = b"", 0, 0
        for value in row:
            acc, used = (acc << bits) | int(value), used + bits
            if used == 8:
                packed, acc, used = packed + bytes([acc]), 0, 0
        yield packed + (bytes([acc << (8 - used)]) if used else b"")


def _tiff(values: np.ndarray, bits: int, compression: int = 1) -> bytes:
    """A one-strip grayscale TIFF (MinIsBlack) of `bits` per pixel, written by hand: PIL
    writes no 2- or 4-bit TIFFs."""
    height, width = values.shape
    strip = b"".join(_packed_rows(values, bits))
    entries = [(256, 3, width), (257, 3, height), (258, 3, bits), (259, 3, compression),
               (262, 3, 1), (273, 4, 0), (277, 3, 1), (278, 3, height), (279, 4, len(strip))]
    offset = 8 + 2 + 12 * len(entries) + 4
    out = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for tag, kind, value in entries:
        value = offset if tag == 273 else value
        out += struct.pack("<HHIHH" if kind == 3 else "<HHII", tag, kind, 1, value,
                           *((0,) if kind == 3 else ()))
    return out + b"\x00\x00\x00\x00" + strip


def _wmf() -> bytes:
    """A placeable Windows Metafile (header, metafile header, end record): intact."""
    words = struct.pack("<IHhhhhHI", 0x9AC6CDD7, 0, 0, 0, 100, 80, 1440, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", words):
        checksum ^= word
    header = words + struct.pack("<H", checksum)
    meta = struct.pack("<HHHIHIH", 1, 9, 0x0300, 12, 0, 3, 0)
    return header + meta + struct.pack("<IH", 3, 0)


CANNOT_DECODE = {
    "eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 50 40\nshowpage\n%%EOF\n",
            "an EPS file, a format this installation cannot decode: Pillow reads EPS through "
            "Ghostscript"),
    "wmf": (_wmf(), "a WMF file, a format this installation cannot decode: Pillow draws WMF "
                    "and EMF files only on Windows"),
    "tiff-webp": (_tiff(np.zeros((4, 4), np.uint8), 8, compression=50001),
                  "a TIFF file, a format this installation cannot decode: it is compressed "
                  "with WebP (TIFF compression 50001), a codec this installation's libtiff was "
                  "built without"),
    "jpeg-xl": (b"\xff\x0a\xfa\x00" + bytes(40), "a JPEG XL file, a format this installation "
                                                 "cannot decode: Pillow has no JPEG XL decoder"),
    "xcf": (b"gimp xcf v011\x00" + bytes(40), "a GIMP (XCF) file, a format this installation "
                                              "cannot decode"),
    "heic": (b"\x00\x00\x00\x18ftypheic" + bytes(40), "an HEIF file, a format this "
                                                      "installation cannot decode"),
    "svg": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n',
            "an SVG file, a format this installation cannot decode: SVG is a document format"),
}


@pytest.mark.parametrize("name", sorted(CANNOT_DECODE))
def test_a_format_this_installation_cannot_decode_is_not_called_damaged(name, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda tool: None)  # no Ghostscript, whatever is here
    data, said = CANNOT_DECODE[name]
    with pytest.raises(records.BadSampleError) as caught:
        records.canonical_image(data, "cat_1", f"{name}.jpg", SIZE)
    reason = str(caught.value)
    assert said in reason, reason
    assert "damaged" not in reason and "not an image" not in reason
    assert "\n" not in reason and len(reason) < 400


def test_damaged_files_are_still_called_damaged():
    jpeg = _encoded(_photo(), "JPEG")
    with pytest.raises(records.BadSampleError, match="is truncated or damaged"):
        records.canonical_image(jpeg[: len(jpeg) // 2], "cat_1", "half.jpg", SIZE)
    broken = _tiff(np.zeros((4, 4), np.uint8), 8, compression=5)[:-10] + b"\xff" * 10  # LZW
    with pytest.raises(records.BadSampleError) as caught:
        records.canonical_image(broken, "cat_1", "lzw.tif", (4, 4))
    assert "cannot decode" not in str(caught.value)  # LZW is always there: the file is at fault


@pytest.mark.parametrize("data, said", [
    # A PNG whose compressed text chunk inflates past PIL's limit: a decompression bomb.
    (lambda png: png[:33] + _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"x" * 3_000_000))
     + png[33:], "text metadata decompresses past Pillow's safety limit"),
    # A JPEG 2000 codestream whose image is 0 rows high: recognised, and damaged.
    (lambda png: b"\xff\x4f\xff\x51\x00\x29\x00\x00" + struct.pack(">8I", 50, 0, 0, 0, 50, 0,
                                                                      0, 0)
     + b"\x00\x03" + b"\x07\x01\x01" * 3 + b"\xff\xd9", "is JPEG 2000 data with a damaged header"),
])
def test_a_recognised_signature_gets_the_right_diagnosis(data, said):
    with pytest.raises(records.BadSampleError, match=said) as caught:
        records.canonical_image(data(_encoded(_photo(), "PNG")), "cat_1", "odd.jpg", SIZE)
    assert "not an image" not in str(caught.value)


def _pgm(values: np.ndarray, maxval: int) -> bytes:
    height, width = values.shape
    return f"P5\n{width} {height}\n{maxval}\n".encode() + values.astype(np.uint8).tobytes()


def _png_bits(values: np.ndarray, bits: int) -> bytes:
    """A grayscale PNG of `bits` per pixel, written by hand (PIL writes L as 8 bits)."""
    height, width = values.shape
    raw = b"".join(b"\x00" + row for row in _packed_rows(values, bits))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits,
                                                                0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("make, how", [
    (lambda v: _png_bits(v, 2), "PNG trimap, 2-bit gray"),
    (lambda v: _png_bits(v, 4), "PNG trimap, 4-bit gray"),
    (lambda v: _tiff(v, 2), "TIFF trimap, 2-bit gray"),
    (lambda v: _tiff(v, 4), "TIFF trimap, 4-bit gray"),
    (lambda v: _pgm(v, 3), "PPM trimap, 2-bit gray"),
    (lambda v: _pgm(v, 15), "PPM trimap, 4-bit gray"),
])
def test_low_bit_depth_gray_trimaps_are_repaired_in_every_format_that_has_them(make, how):
    """PIL scales 1-, 2- and 4-bit gray (and a PGM's small maxval) to 0..255 (2-bit 1, 2, 3
    become 85, 170, 255): the file's header says how, whatever the format, and it is undone."""
    values = _trimap_values()
    _, checked, repair = records.canonical_trimap(make(values), "cat_1.png")
    np.testing.assert_array_equal(checked, values)
    assert repair == f"{how}: re-encoded as 8-bit gray PNG"


def test_an_8_bit_trimap_holding_scaled_looking_values_is_still_refused():
    """Only a header saying fewer bits undoes the scaling: 8-bit 85, 170, 255 are wrong."""
    with pytest.raises(records.BadSampleError, match="holds 85, 170, 255"):
        records.canonical_trimap(_encoded(Image.fromarray(_trimap_values() * 85), "PNG"),
                                 "cat_1.png")


def test_a_png_without_its_end_chunk_is_repaired_and_said():
    trimap = _encoded(Image.fromarray(_trimap_values()), "PNG")[:-12]  # IEND removed
    encoded, checked, repair = records.canonical_trimap(trimap, "cat_1.png")
    assert "a PNG without its end chunk (IEND)" in repair and encoded.endswith(b"IEND\xaeB`\x82")
    image = _encoded(_photo(), "PNG")[:-12]
    repair = records.canonical_image(image, "cat_1", "cat_1.jpg", SIZE).repair
    assert "a PNG without its end chunk (IEND)" in repair


def test_a_jpeg_libjpeg_warns_about_is_re_encoded_whatever_its_name():
    """The warning, not a list of names: stray bytes between two markers of a JPEG that
    TensorFlow decodes anyway."""
    jpeg = _encoded(_photo(), "JPEG")
    stray = jpeg[:20] + b"\x00\x11\x22" + jpeg[20:]
    kept, _, repair, _ = records.canonical_image(jpeg, "beagle_116", "beagle_116.jpg", SIZE)
    assert kept == jpeg and repair is None  # a name TFDS lists, with nothing wrong: kept
    encoded, _, repair, _ = records.canonical_image(stray, "cat_1", "cat_1.jpg", SIZE)
    assert repair == ('libjpeg warns "Corrupt JPEG data: 3 extraneous bytes before marker '
                      '0xdb": re-encoded as RGB JPEG')
    assert records.canonical_image(encoded, "cat_1", "again.jpg", SIZE)[2] is None


def test_a_nearly_constant_image_is_kept_and_noted():
    """A 12-bit image stored in 16 bits, values 0..30: scaled to 8 bits it is all black."""
    rng = np.random.default_rng(2)
    dark = Image.fromarray(rng.integers(0, 31, (SIZE[1], SIZE[0])).astype(np.uint16), "I;16")
    trimap = _encoded(Image.fromarray(_trimap_values()), "PNG")
    sample = records.build_sample("cat_1", _encoded(dark, "PNG"), trimap, 5, 0)
    [note] = sample.notes
    assert note.startswith(f"{records.NEARLY_CONSTANT}: its 8-bit pixels span 0..0 (brightness "
                           "standard deviation 0.00)")
    normal = records.build_sample("cat_1", _encoded(_photo(), "JPEG"), trimap, 5, 0)
    assert normal.notes == ()


def test_an_exif_orientation_on_a_square_image_says_it_cannot_be_checked():
    exif = Image.Exif()
    exif[0x0112] = 6
    square = _encoded(_photo((40, 40)), "JPEG", exif=exif.tobytes())
    repair = records.canonical_image(square, "cat_1", "cat_1.jpg", (40, 40)).repair
    assert "the image is square: its trimap's size cannot tell which way it was drawn" in repair
    wide = _encoded(_photo(), "JPEG", exif=exif.tobytes())
    repair = records.canonical_image(wide, "cat_1", "cat_1.jpg", SIZE).repair
    assert "EXIF orientation 6 dropped (its trimap has the stored pixels' size)" in repair


def test_nearly_constant_images_are_counted_in_the_ingest_report(tmp_path, capsys):
    import json

    from components import oxford_pet_example_gen as example_gen

    outcomes = [{"name": "cat_1", "split": "train", "outcome": "repaired", "detail": "x",
                 "notes": [f"{records.NEARLY_CONSTANT}: its 8-bit pixels span 0..0"]},
                {"name": "cat_2", "split": "train", "outcome": "ingested"},
                {"name": "cat_3", "split": "eval", "outcome": "ingested"}]
    (tmp_path / example_gen.OUTCOMES_FILE).write_text(
        "".join(json.dumps(outcome) + "\n" for outcome in outcomes))
    report = example_gen.write_report(str(tmp_path), 0.5, ["train", "eval"])
    assert report["splits"]["train"]["constant"] == 1
    assert report["splits"]["eval"]["constant"] == 0
    assert "train: 2 listed = 2 ingested (1 repaired) + 0 quarantined; 1 nearly constant " \
           "images" in capsys.readouterr().out
