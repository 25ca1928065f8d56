"""One decoder: every kind of input ingest accepts decodes in Transform, and in serving, to the
classes (exactly) and pixels ingest meant.

Each kind of image (JPEG, PNG, GIF, BMP, TIFF, WebP; 1-, 8- and 16-bit; gray, palette, RGB,
RGBA, CMYK; EXIF orientations; animations) and of trimap (8-bit gray, I;16, palette indices,
palette colours, GIF, BMP, TIFF, RGB/RGBA/LA with equal channels, 2- and 4-bit gray) is written
into a dataset in the real layout with a known truth: the classes its trimap means and the
pixels its image means. The real ExampleGen executor ingests it; the real `preprocessing_fn`
runs through tf.Transform on Beam over the examples; the saved Transform graph also runs as
serving runs it (the Transform layer on image bytes alone, and on whole raw examples as TFMA
does). Then, pixel for pixel:

- the transformed mask is the truth's classes, exactly;
- the transformed image is what Transform's own decoder makes of the stored bytes, exactly, and
  within JPEG error of the truth (this catches a 16-bit image clipped to white, a palette read
  as gray, CMYK read as RGB);
- serving's image equals training's.

A trimap value outside {1, 2, 3} that reaches the Transform graph anyway is refused with one
short line naming the example's file.
"""

import io
import os
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components import oxford_pet_example_gen as example_gen
from oxford_pet import breeds, layout
from trainer import features, preprocessing

SIZE = 64  # image_size of the Transform graph; most inputs are SIZE x SIZE: resize = identity


# ---- the truth: what a sample means ----

def truth_values(height: int, width: int) -> np.ndarray:
    """Trimap values: background 2, a border ring 3 around a pet 1, off-centre."""
    values = np.full((height, width), 2, np.uint8)
    values[height // 5: 4 * height // 5, width // 4: 3 * width // 4] = 3
    values[height // 5 + 3: 4 * height // 5 - 3, width // 4 + 3: 3 * width // 4 - 3] = 1
    return values


def truth_rgb(height: int, width: int) -> np.ndarray:
    """Smooth colours (JPEG keeps them within a few levels): gradients and a brighter pet."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([40 + 150 * xs / width, 60 + 120 * ys / height,
                    200 - 100 * (xs + ys) / (width + height)], axis=-1)
    rgb[truth_values(height, width) == 1] += 40
    return np.clip(rgb, 0, 255).astype(np.uint8)


# ---- encoders for every kind ----

def save(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def raw_png(array: np.ndarray, bit_depth: int, color_type: int) -> bytes:
    """A PNG written by hand, for what PIL cannot write: 16-bit RGB, 2- and 4-bit gray."""
    height, width = array.shape[:2]
    if bit_depth == 16:
        rows = [array[y].astype(">u2").tobytes() for y in range(height)]
    elif bit_depth < 8:
        per_byte = 8 // bit_depth
        rows = []
        for y in range(height):
            padded = np.zeros(-(-width // per_byte) * per_byte, np.uint8)
            padded[:width] = array[y]
            packed = padded.reshape(-1, per_byte)
            shifts = bit_depth * np.arange(per_byte - 1, -1, -1)
            rows.append(bytes((packed << shifts).sum(axis=1).astype(np.uint8)))
    else:
        rows = [array[y].astype(np.uint8).tobytes() for y in range(height)]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + row for row in rows)))
            + chunk(b"IEND", b""))


def with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(Image.fromarray(rgb), "JPEG", quality=95, exif=exif.tobytes())


def palette_image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(rgb).quantize(colors=64, method=Image.Quantize.MEDIANCUT)


def image_kinds():
    """name -> (image bytes, the RGB pixels they mean, trimap values they go with)."""
    rgb, values = truth_rgb(SIZE, SIZE), truth_values(SIZE, SIZE)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    gray3 = np.repeat(gray[..., None], 3, axis=-1)
    rgba = np.concatenate([rgb, np.full((SIZE, SIZE, 1), 128, np.uint8)], axis=-1)
    palette = palette_image(rgb)
    transparent = palette.copy()
    transparent.info["transparency"] = 0
    bilevel = Image.fromarray(gray).convert("1")
    frames = [Image.fromarray(rgb).quantize(64), Image.fromarray(255 - rgb).quantize(64)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:])
    tall_rgb = truth_rgb(SIZE + 32, SIZE)  # stored landscape, shown (and annotated) portrait
    stored = np.ascontiguousarray(np.rot90(tall_rgb, 1))  # orientation 6: turn 90 degrees cw
    gray16 = gray.astype(np.uint16) * 257
    kinds = {
        "jpeg_rgb": (save(Image.fromarray(rgb), "JPEG", quality=95), rgb, values),
        "jpeg_progressive": (save(Image.fromarray(rgb), "JPEG", quality=95, progressive=True),
                             rgb, values),
        "jpeg_gray": (save(Image.fromarray(gray), "JPEG", quality=95), gray3, values),
        "jpeg_cmyk": (save(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95), rgb,
                      values),
        "png_rgb": (save(Image.fromarray(rgb), "PNG"), rgb, values),
        "png_rgba": (save(Image.fromarray(rgba), "PNG"), rgb, values),
        "png_la": (save(Image.fromarray(gray).convert("LA"), "PNG"), gray3, values),
        "png_gray8": (save(Image.fromarray(gray), "PNG"), gray3, values),
        "png_gray16": (save(Image.fromarray(gray16), "PNG"), gray3, values),
        "png_rgb16": (raw_png(rgb.astype(np.uint16) * 257, 16, 2), rgb, values),
        "png_gray2bit": (raw_png(gray // 85, 2, 0), np.repeat((gray // 85 * 85)[..., None], 3,
                                                              axis=-1), values),
        "png_bilevel": (save(bilevel, "PNG"), np.asarray(bilevel.convert("RGB")), values),
        "png_palette": (save(palette, "PNG"), np.asarray(palette.convert("RGB")), values),
        "png_palette_transparent": (save(transparent, "PNG"),
                                    np.asarray(palette.convert("RGB")), values),
        "gif": (save(palette, "GIF"), np.asarray(palette.convert("RGB")), values),
        "gif_animated": (animated.getvalue(), np.asarray(frames[0].convert("RGB")), values),
        "bmp_rgb": (save(Image.fromarray(rgb), "BMP"), rgb, values),
        "bmp_palette": (save(palette, "BMP"), np.asarray(palette.convert("RGB")), values),
        "bmp_gray": (save(Image.fromarray(gray), "BMP"), gray3, values),
        "tiff_rgb": (save(Image.fromarray(rgb), "TIFF"), rgb, values),
        "tiff_gray16": (save(Image.fromarray(gray16), "TIFF"), gray3, values),
        "webp": (save(Image.fromarray(rgb), "WEBP", lossless=True), rgb, values),
        # EXIF: turned to fit a trimap drawn on the shown (portrait) pixels...
        "jpeg_exif_turned": (with_orientation(stored, 6), tall_rgb, truth_values(SIZE + 32,
                                                                                  SIZE)),
        # ... and left as stored when the trimap fits the stored pixels (the tag is dropped).
        "jpeg_exif_stored": (with_orientation(rgb, 3), rgb, values),
    }
    return kinds


def trimap_kinds():
    """name -> (trimap bytes, the trimap values they mean)."""
    values = truth_values(SIZE, SIZE)
    colours = Image.fromarray(values, "P")
    colours.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (252 * 3))
    gray_palette = Image.fromarray(np.choose(values - 1, [7, 30, 200]).astype(np.uint8), "P")
    palette = [0] * 768
    for index, value in zip((7, 30, 200), (1, 2, 3)):  # indices != values, gray colours = values
        palette[3 * index: 3 * index + 3] = [value] * 3
    gray_palette.putpalette(palette)
    same3 = np.repeat(values[..., None], 3, axis=-1)
    return {
        "L": (save(Image.fromarray(values), "PNG"), values),
        "I;16": (save(Image.fromarray(values.astype(np.uint16)), "PNG"), values),
        "I;16_scaled": (save(Image.fromarray(values.astype(np.uint16) * 257), "PNG"), values),
        "P_indices": (save(colours, "PNG"), values),
        "P_gray_colours": (save(gray_palette, "PNG"), values),
        "GIF": (save(gray_palette, "GIF"), values),
        "BMP_L": (save(Image.fromarray(values), "BMP"), values),
        "BMP_P": (save(colours, "BMP"), values),
        "TIFF_L": (save(Image.fromarray(values), "TIFF"), values),
        "TIFF_I;16": (save(Image.fromarray(values.astype(np.uint16)), "TIFF"), values),
        "RGB_equal": (save(Image.fromarray(same3), "PNG"), values),
        "RGBA_equal": (save(Image.fromarray(np.concatenate(
            [same3, np.full((SIZE, SIZE, 1), 255, np.uint8)], axis=-1)), "PNG"), values),
        "LA": (save(Image.fromarray(values).convert("LA"), "PNG"), values),
        "gray_2bit": (raw_png(values, 2, 0), values),
        "gray_4bit": (raw_png(values, 4, 0), values),
    }


# ---- the dataset, ingest, Transform ----

@pytest.fixture(scope="module")
def cases():
    """name -> (image bytes, trimap bytes, truth RGB, truth trimap values): every image kind
    with an 8-bit trimap, every trimap kind with an RGB JPEG."""
    images, trimaps = image_kinds(), trimap_kinds()
    jpeg, rgb, values = images["jpeg_rgb"]
    result = {}
    for name, (data, truth, image_values) in images.items():
        result[f"image_{name}"] = (data, save(Image.fromarray(image_values), "PNG"), truth,
                                   image_values)
    for name, (data, trimap_values) in trimaps.items():
        result[f"trimap_{name}"] = (jpeg, data, rgb, trimap_values)
    return result


@pytest.fixture(scope="module")
def ingested(cases, tmp_path_factory):
    """The cases as a dataset in the real layout, through the real ExampleGen executor:
    {case: (raw tf.Example, outcome record)}."""
    from tests.test_ingest import _examples_by_name, _jsonl, _run

    data_dir = str(tmp_path_factory.mktemp("kinds"))
    os.makedirs(os.path.join(data_dir, layout.IMAGES_DIR))
    os.makedirs(os.path.join(data_dir, layout.TRIMAPS_DIR))
    names, lists = {}, {"train": [], "eval": []}
    for index, (case, (image, trimap, _, _)) in enumerate(sorted(cases.items())):
        breed = breeds.BREEDS[index % len(breeds.BREEDS)]
        entry = layout.ListEntry(f"{breed.name}_{1000 + index}", breed.class_id, breed.species,
                                 breed.breed_id)
        names[entry.name] = case
        with open(layout.image_path(data_dir, entry.name), "wb") as handle:
            handle.write(image)
        with open(layout.trimap_path(data_dir, entry.name), "wb") as handle:
            handle.write(trimap)
        lists["train" if index % 2 == 0 else "eval"].append(entry)
    for split, entries in lists.items():
        layout.write_list(os.path.join(data_dir, layout.SPLIT_LISTS[split]), entries)
    uri = str(tmp_path_factory.mktemp("kinds_out"))
    _run(example_gen.Executor(), data_dir, uri, limit=0.0)  # nothing may be quarantined
    outcomes = {names[record["name"]]: record
                for record in _jsonl(uri, example_gen.OUTCOMES_FILE)}
    result = {}
    for split in lists:
        for name, example in _examples_by_name(uri, split).items():
            result[names[name]] = (example, outcomes[names[name]])
    return result


def _raw_schema():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from pipeline.pipeline import SCHEMA_FILE

    with open(SCHEMA_FILE) as handle:
        return text_format.Parse(handle.read(), schema_pb2.Schema())


@pytest.fixture(scope="module")
def transformed(ingested, tmp_path_factory):
    """The real preprocessing_fn through tf.Transform on Beam over the ingested examples, with
    the pipeline's raw schema: ({case: transformed features}, TFTransformOutput)."""
    import shutil

    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    schema = _raw_schema()
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    cases = sorted(ingested)
    serialized = [ingested[case][0].SerializeToString() for case in cases]
    parsed = tf.io.parse_example(tf.constant(serialized), spec)
    raw = [{key: parsed[key][i].numpy().tolist() for key in spec} for i in range(len(cases))]
    work = tmp_path_factory.mktemp("transform")
    with tft_beam.Context(temp_dir=str(work / "tmp")):
        (rows, metadata), (transform_fn, _) = (
            (raw, dataset_metadata.DatasetMetadata(schema))
            | tft_beam.AnalyzeAndTransformDataset(
                lambda inputs: preprocessing.preprocessing_fn(inputs, {"image_size": SIZE})))
    output = work / "transform_output"
    shutil.copytree(transform_fn[0], output / tft.TFTransformOutput.TRANSFORM_FN_DIR)
    metadata_io.write_metadata(metadata,
                               str(output / tft.TFTransformOutput.TRANSFORMED_METADATA_DIR))
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               str(output / tft.TFTransformOutput.RAW_METADATA_DIR))
    return dict(zip(cases, rows)), tft.TFTransformOutput(str(output))


def _resized(array: np.ndarray, method: str) -> np.ndarray:
    if array.shape[:2] == (SIZE, SIZE):
        return array
    return tf.image.resize(array if array.ndim == 3 else array[..., None], [SIZE, SIZE],
                           method=method).numpy()


def _stored(example, key):
    return example.features.feature[key].bytes_list.value[0]


# ---- the property ----

def test_every_kind_is_ingested_and_no_sample_is_lost(cases, ingested):
    assert set(ingested) == set(cases)
    for case, (_, outcome) in ingested.items():
        expected = "ingested" if case in ("image_jpeg_rgb", "image_jpeg_progressive",
                                          "trimap_L") else "repaired"
        assert outcome["outcome"] == expected, (case, outcome)


def test_stored_forms_are_the_canonical_ones(ingested):
    for case, (example, outcome) in ingested.items():
        image = Image.open(io.BytesIO(_stored(example, features.IMAGE_KEY)))
        trimap = Image.open(io.BytesIO(_stored(example, features.MASK_KEY)))
        assert (image.format, image.mode) == ("JPEG", "RGB"), case
        assert (trimap.format, trimap.mode) == ("PNG", "L"), case
        assert 0x0112 not in image.getexif() or outcome["outcome"] == "ingested", case


def test_transformed_masks_are_the_truths_classes_pixel_for_pixel(cases, transformed):
    rows, _ = transformed
    for case, row in rows.items():
        _, _, _, values = cases[case]
        expected = _resized(values, "nearest").reshape(SIZE, SIZE).astype(np.int64) - 1
        np.testing.assert_array_equal(np.asarray(row[features.MASK_XF]).reshape(SIZE, SIZE),
                                      expected, err_msg=case)


def test_transformed_images_are_the_checked_pixels_and_mean_the_truth(cases, ingested,
                                                                      transformed):
    rows, _ = transformed
    for case, row in rows.items():
        pixels = preprocessing.unpack_pixels(tf.constant([row[features.IMAGE_XF]]),
                                             SIZE).numpy()[0]
        stored = _stored(ingested[case][0], features.IMAGE_KEY)
        checked = preprocessing.decode_one_image(tf.constant(stored)).numpy()
        if checked.shape[:2] == (SIZE, SIZE):  # identity resize: what ingest decoded, exactly
            np.testing.assert_array_equal(pixels, checked, err_msg=case)
        truth = _resized(cases[case][2].astype(np.float32), "bilinear")
        error = np.abs(pixels.astype(np.float32) - truth)
        assert error.mean() < 3.0, (case, error.mean())  # JPEG quality 95 on smooth colours


@pytest.fixture(scope="module")
def exported_path(transformed, tmp_path_factory):
    """The SavedModel trainer/export.py writes, around a 1x1-convolution stand-in for the
    U-Net (serving's decoding does not depend on the model)."""
    import tf_keras as keras

    from trainer import export

    _, output = transformed
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                              keras.layers.Conv2D(features.NUM_CLASSES, 1)])
    path = str(tmp_path_factory.mktemp("exported") / "model")
    export.save_model(model, output, path)
    return path


@pytest.fixture(scope="module")
def exported(exported_path):
    return tf.saved_model.load(exported_path)


def test_the_export_holds_the_transform_graph_not_a_keras_model(exported_path, exported):
    """tf.Transform's layer is a Keras model; saved as one, its call is traced again (most of
    the export's time, trainer/export.py). The SavedModel holds the layer's resources and no
    Keras-serialized object, and its signatures still run the Transform graph (next test)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(exported_path, "saved_model.pb"), "rb") as handle:
        saved.ParseFromString(handle.read())
    kinds = {node.user_object.identifier for node in saved.meta_graphs[0].object_graph_def.nodes
             if node.WhichOneof("kind") == "user_object"}
    assert not [kind for kind in kinds if "keras" in kind], kinds
    assert "_imported" in exported.transform_graph  # the loaded Transform graph, tracked


def test_without_the_layers_resources_the_export_tracks_the_layer_and_still_serves(
        ingested, transformed, tmp_path, monkeypatch):
    """Another tf.Transform whose layer keeps its resources elsewhere: the export falls back to
    tracking the layer itself (slower, as before), and the SavedModel serves the same logits."""
    import tf_keras as keras

    from trainer import export

    monkeypatch.setattr(export, "TRANSFORM_RESOURCES", "_no_such_attribute")
    _, output = transformed
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                              keras.layers.Conv2D(features.NUM_CLASSES, 1)])
    export.save_model(model, output, str(tmp_path / "model"))
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    assert hasattr(loaded, "tft_layer") and not hasattr(loaded, "transform_graph")
    serialized = tf.constant([example.SerializeToString() for example, _ in ingested.values()])
    logits = loaded.signatures[features.EXAMPLES_SIGNATURE](examples=serialized)
    assert logits[features.LOGITS_KEY].shape == (len(ingested), SIZE, SIZE, features.NUM_CLASSES)


def test_serving_decodes_as_training_did(ingested, transformed, exported):
    """The exported signatures: `transform_features` (what TFMA runs on raw examples) gives
    the training features; `serving_default` (image bytes alone) gives the logits of the
    same pixels as `serving_examples` does from the whole example."""
    rows, _ = transformed
    cases = sorted(rows)
    serialized = tf.constant([ingested[case][0].SerializeToString() for case in cases])
    whole = exported.signatures[features.TRANSFORM_SIGNATURE](examples=serialized)
    for index, case in enumerate(cases):
        assert whole[features.IMAGE_XF][index].numpy() == rows[case][features.IMAGE_XF], case
        np.testing.assert_array_equal(whole[features.MASK_XF][index].numpy(),
                                      rows[case][features.MASK_XF], err_msg=case)
    images = tf.constant([_stored(ingested[case][0], features.IMAGE_KEY) for case in cases])
    served = exported.signatures[features.SERVING_SIGNATURE](image_bytes=images)
    from_examples = exported.signatures[features.EXAMPLES_SIGNATURE](examples=serialized)
    np.testing.assert_allclose(
        tf.nn.softmax(from_examples[features.LOGITS_KEY]).numpy(),
        served[features.PROBABILITIES_KEY].numpy(), atol=1e-6)


def test_a_trimap_value_outside_1_2_3_is_refused_in_one_line_naming_the_file(exported):
    """Defence in depth: a 16-bit trimap that bypassed ingest (TensorFlow's PNG decoder reads
    its 1..3 as 0) stops the Transform graph with a short message, not a tensor dump."""
    from oxford_pet import measures, records

    def example(name: bytes, trimap: np.ndarray) -> bytes:
        rgb = truth_rgb(300, 300)
        measured = measures.measure(rgb, truth_values(300, 300), 1)
        return tf.train.Example(features=tf.train.Features(feature={
            features.IMAGE_KEY: records._bytes_feature(save(Image.fromarray(rgb), "PNG")),
            features.MASK_KEY: records._bytes_feature(save(Image.fromarray(trimap), "PNG")),
            features.FILE_NAME_KEY: records._bytes_feature(name),
            features.LABEL_KEY: records._int_feature(5),
            features.SPECIES_KEY: records._int_feature(0),
            features.BREED_KEY: records._bytes_feature(b"Bengal"),
            features.SPECIES_NAME_KEY: records._bytes_feature(b"cat"),
            **records._measured_features(measured),
        })).SerializeToString()

    values = truth_values(300, 300)
    transform = exported.signatures[features.TRANSFORM_SIGNATURE]
    good = example(b"Bengal_1.jpg", values)
    assert transform(examples=tf.constant([good]))[features.MASK_XF].shape == (1, SIZE, SIZE, 1)
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        transform(examples=tf.constant([good, example(b"Bengal_16bit.jpg",
                                                      values.astype(np.uint16))]))
    message = str(raised.value)
    assert "MASK REFUSED: the trimap of Bengal_16bit.jpg holds values 0; only 1, 2, 3 (pet, " \
           "background, border) are trimap values" in message
    assert len(message) < 1000 and "Bengal_1.jpg" not in message  # one example, no tensor
