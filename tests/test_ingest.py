"""Ingest: every listed sample becomes one example in its split, or is quarantined with a
reason; repairable images are re-encoded. Damaged datasets are built in the real layout."""

import glob
import io
import json
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components import oxford_pet_example_gen as example_gen
from oxford_pet import demo, layout, records
from trainer import features


def _read_examples(pattern: str):
    dataset = tf.data.TFRecordDataset(glob.glob(pattern), compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


def _value(example: tf.train.Example, key: str):
    feature = example.features.feature[key]
    return (feature.bytes_list.value or feature.int64_list.value)[0]


def _run(executor, data_dir: str, output_uri: str, limit: float = 1.0,
         patterns=None):
    """An ExampleGen executor as TFX runs it: a Beam job writing gzipped TFRecord splits."""
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    examples = standard_artifacts.Examples()
    examples.uri = output_uri
    executor.Do({}, {"examples": [examples]}, {
        "input_base": data_dir,
        "input_config": proto_utils.proto_to_json(example_gen.split_input_config(patterns)),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output()),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "custom_config": proto_utils.proto_to_json(
            example_gen.make_custom_config({"max_quarantined_fraction": limit})),
    })
    return examples


def _examples_by_name(uri: str, split: str):
    return {_value(e, features.FILE_NAME_KEY).decode()[:-4]: e
            for e in _read_examples(os.path.join(uri, f"Split-{split}", "*"))}


def test_example_fields_round_trip(small_dataset):
    entry = layout.read_list(os.path.join(small_dataset, layout.SPLIT_LISTS["train"]))[0]
    sample = records.make_sample(small_dataset, entry)
    assert sample.repair is None
    example = sample.example
    with open(layout.image_path(small_dataset, entry.name), "rb") as handle:
        assert _value(example, features.IMAGE_KEY) == handle.read()  # clean JPEG: as on disk
    with open(layout.trimap_path(small_dataset, entry.name), "rb") as handle:
        assert _value(example, features.MASK_KEY) == handle.read()
    assert _value(example, features.FILE_NAME_KEY) == (entry.name + ".jpg").encode()
    assert _value(example, features.LABEL_KEY) == entry.class_id - 1
    assert _value(example, features.SPECIES_KEY) == entry.species - 1


def test_clean_dataset_ingests_every_listed_image_once(small_dataset, tmp_path):
    examples = _run(example_gen.Executor(), small_dataset, str(tmp_path / "out"))
    for split, list_file in layout.SPLIT_LISTS.items():
        written = _examples_by_name(examples.uri, split)
        listed = [e.name for e in layout.read_list(os.path.join(small_dataset, list_file))]
        assert sorted(written) == sorted(listed)
        assert examples.get_int_custom_property(f"{split}_listed") == len(listed)
        assert examples.get_int_custom_property(f"{split}_quarantined") == 0


# ---- a dataset with every kind of damage the real one has, and some it might ----

def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _save_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a few bytes of pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A generated dataset (40 images) with one sample of each damage, and list files written
    by other tools (BOM, CRLF, tabs, trailing spaces, indented comments, bad UTF-8). Returns
    (dir, {name: repair note}, {name: reason}, {split: appended lines})."""
    data_dir = str(tmp_path_factory.mktemp("damaged"))
    demo.make_demo_data(data_dir, count=40, seed=11, min_size=64, max_size=96)
    train = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["train"]))
    test = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"]))
    image = lambda e: layout.image_path(data_dir, e.name)  # noqa: E731
    trimap = lambda e: layout.trimap_path(data_dir, e.name)  # noqa: E731
    rgb = lambda e: Image.open(image(e)).convert("RGB")  # noqa: E731
    values = lambda e: np.asarray(Image.open(trimap(e))).copy()  # noqa: E731

    repaired = {}
    _save_bytes(image(train[0]), _png(rgb(train[0])))  # PNG data under a .jpg name
    repaired[train[0].name] = "PNG data"
    _save_bytes(image(train[1]), _png(rgb(train[1]).convert("RGBA")))  # RGBA PNG as .jpg
    repaired[train[1].name] = "RGBA pixels"
    _save_bytes(image(train[2]), _jpeg(rgb(train[2]).convert("L")))  # grayscale JPEG
    repaired[train[2].name] = "L pixels"
    _save_bytes(image(train[3]), _jpeg(rgb(train[3]).convert("CMYK")))  # CMYK JPEG
    repaired[train[3].name] = "CMYK pixels"
    # A JPEG libjpeg warns about while TensorFlow decodes it ("Corrupt JPEG data"), as some of
    # the dataset's do: three stray bytes after the JFIF header (PIL writes SOI + a 16-byte
    # APP0, then DQT).
    corrupt = layout.ListEntry("Abyssinian_5", 1, 1, 1)
    jpeg = open(image(train[4]), "rb").read()
    _save_bytes(image(corrupt), jpeg[:20] + b"\x00\x11\x22" + jpeg[20:])
    shutil.copy(trimap(train[4]), trimap(corrupt))
    repaired[corrupt.name] = ('libjpeg warns "Corrupt JPEG data: 3 extraneous bytes before '
                              'marker 0xdb"')
    # A 16-bit trimap with the right values: TensorFlow's PNG decoder would read them as 0.
    Image.fromarray(values(train[10]).astype(np.uint16)).save(trimap(train[10]))
    repaired[train[10].name] = "16-bit gray: re-encoded as 8-bit gray PNG"
    # A palette trimap: PIL reads its indices, TensorFlow the luminance of its colours.
    indexed = Image.fromarray(values(train[11]), "P")
    indexed.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    indexed.save(trimap(train[11]))
    repaired[train[11].name] = "palette: re-encoded as 8-bit gray PNG"
    # A phone photo: stored turned, with EXIF orientation 6, annotated as shown.
    photo = next(e for e in train[12:19] if rgb(e).size[0] != rgb(e).size[1])
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = rgb(photo).transpose(Image.Transpose.ROTATE_90)  # the stored pixels
    turned.save(image(photo), "JPEG", exif=exif.tobytes())
    repaired[photo.name] = "turned by its EXIF orientation 6 to fit its trimap"
    # An odd but valid name: non-ASCII, listed with tabs and trailing spaces.
    odd = layout.ListEntry("Bengal_\u00e9t\u00e9-2", 6, 1, 2)
    shutil.copy(image(train[19]), image(odd))
    shutil.copy(trimap(train[19]), trimap(odd))

    quarantined = {}
    data = open(image(train[5]), "rb").read()
    _save_bytes(image(train[5]), data[: len(data) // 2])  # truncated
    quarantined[train[5].name] = "is truncated or damaged"
    os.remove(trimap(train[6]))
    quarantined[train[6].name] = "is missing"
    Image.fromarray(np.full((20, 20), 2, np.uint8)).save(trimap(train[7]))
    quarantined[train[7].name] = "is 20x20 but its image is"
    bad = values(test[0])
    bad[0, 0] = 9
    Image.fromarray(bad).save(trimap(test[0]))
    quarantined[test[0].name] = "holds 9 (1 pixel; read as 8-bit gray)"
    _save_bytes(image(test[1]), b"")
    quarantined[test[1].name] = "is an empty file (0 bytes)"
    _save_bytes(image(test[2]), b"<html>Not found</html>\n")
    quarantined[test[2].name] = "is not an image: its 23 bytes begin with text '<html>Not found<'"
    _save_bytes(image(test[3]), _png_header_only(0, 64))
    quarantined[test[3].name] = "is PNG data with a damaged header"
    _save_bytes(image(test[4]), _png_header_only(20_000, 20_000))
    quarantined[test[4].name] = "more than twice 89,478,485 pixels: too large to decode"
    _save_bytes(image(test[5]), _png_header_only(10_000, 10_000))
    quarantined[test[5].name] = "is 10000x10000 = 100,000,000 pixels, more than the limit"
    colour = np.repeat(values(test[6])[..., None], 3, axis=-1)
    colour[0, 0] = (1, 2, 3)
    Image.fromarray(colour).save(trimap(test[6]))
    quarantined[test[6].name] = "has colour pixels (RGB, channels differ)"
    Image.fromarray(values(test[7]) - 1).save(trimap(test[7]))  # class ids, not trimap values
    quarantined[test[7].name] = "0, 1, 2 look like class ids"
    _save_bytes(trimap(test[8]), b"")
    quarantined[test[8].name] = "trimap " + trimap(test[8]) + " is an empty file (0 bytes)"
    os.rename(image(test[9]), image(test[9])[:-4] + ".JPG")
    quarantined[test[9].name] = f"is missing (found {test[9].name}.JPG"

    appended = {
        "train": ["", corrupt.to_line(), "Bengal_xx 6 1", train[8].to_line(),
                  f"  {odd.name}\t6 1\t2   ", "   # an indented comment",
                  "../Bengal_3 6 1 3"],
        "eval": [train[9].to_line()],
    }
    for split, lines in appended.items():
        path = os.path.join(data_dir, layout.SPLIT_LISTS[split])
        text = open(path, encoding="utf-8").read()
        ending = "\r\n" if split == "train" else "\n"  # written on Windows, or not
        data = ("\ufeff" if split == "train" else "") + text.replace("\n", ending)
        data += ending.join(lines) + ending
        raw = data.encode("utf-8")
        if split == "eval":
            raw += b"Bengal_\xff 6 1 4\n"  # not UTF-8
        _save_bytes(path, raw)
    quarantined["line 23"] = "malformed list line: annotations/trainval.txt:23: expected"
    quarantined["line 27"] = "annotations/trainval.txt:27: the name '../Bengal_3' is not a file"
    quarantined[train[8].name] = "listed twice: annotations/trainval.txt:24 repeats line 9"
    quarantined[train[9].name + "@eval"] = "also listed for train (annotations/test.txt:21)"
    quarantined["line 22@eval"] = "annotations/test.txt:22 is not UTF-8 text"
    return data_dir, repaired, quarantined, appended


@pytest.fixture(scope="module")
def damaged_run(damaged, tmp_path_factory):
    data_dir = damaged[0]
    uri = str(tmp_path_factory.mktemp("damaged_out"))
    return _run(example_gen.Executor(), data_dir, uri, limit=0.7)


def _report(uri: str):
    with open(os.path.join(uri, example_gen.REPORT_DIR, example_gen.REPORT_FILE)) as handle:
        return json.load(handle)


def _jsonl(uri: str, name: str):
    with open(os.path.join(uri, example_gen.REPORT_DIR, name)) as handle:
        return [json.loads(line) for line in handle]


def _quarantine_keys(records_):
    found = {}
    for record in records_:
        key = record["name"]
        if record["split"] == "eval" and ("also listed" in record["reason"]
                                          or key.startswith("line ")):
            key += "@eval"
        found[key] = record["reason"]
    return found


def test_listed_equals_ingested_plus_quarantined_per_split(damaged, damaged_run):
    _, repaired, _, _ = damaged
    report = _report(damaged_run.uri)["splits"]
    # train: 20 generated + 5 appended samples (the blank line and the comment are not);
    # 3 damaged files and 3 bad lines are quarantined. eval: 20 generated + 2 appended lines
    # (one listed for train too, one not UTF-8); 10 damaged files and both lines quarantined.
    assert report["train"] == {"listed": 20 + 5, "ingested": 25 - 6, "repaired": len(repaired),
                               "quarantined": 6, "constant": 0}
    assert report["eval"] == {"listed": 20 + 2, "ingested": 22 - 12, "repaired": 0,
                              "quarantined": 12, "constant": 0}
    for split, counts in report.items():
        assert counts["listed"] == counts["ingested"] + counts["quarantined"]
        written = _examples_by_name(damaged_run.uri, split)
        assert len(written) == counts["ingested"]
        assert damaged_run.get_int_custom_property(f"{split}_ingested") == counts["ingested"]


def test_every_listed_sample_has_exactly_one_outcome(damaged, damaged_run):
    data_dir, _, _, _ = damaged
    outcomes = _jsonl(damaged_run.uri, example_gen.OUTCOMES_FILE)
    for split in ("train", "eval"):
        names = [o["name"] for o in outcomes if o["split"] == split]
        lines = [raw for raw in open(os.path.join(data_dir, layout.SPLIT_LISTS[split]),
                                     "rb").read().splitlines()
                 if raw.strip() and not raw.strip().lstrip(b"\xef\xbb\xbf").startswith(b"#")]
        assert len(names) == len(lines)


def test_each_damage_is_quarantined_with_a_plain_reason(damaged, damaged_run):
    _, _, expected, _ = damaged
    found = _quarantine_keys(_jsonl(damaged_run.uri, example_gen.QUARANTINE_FILE))
    assert set(found) == set(expected)
    for name, reason in expected.items():
        assert reason in found[name], (name, found[name])
    for name, reason in found.items():  # a sentence about the file: no object reprs, one line
        assert "object at 0x" not in reason and "Traceback" not in reason, reason
        assert "\n" not in reason and len(reason) < 400, reason
        assert name.split("@")[0] in reason or "annotations/" in reason, reason  # the file



def test_repairs_are_named_and_the_stored_forms_are_canonical(damaged, damaged_run):
    _, repaired, _, _ = damaged
    notes = {r["name"]: r["detail"] for r in _jsonl(damaged_run.uri, example_gen.OUTCOMES_FILE)
             if r["outcome"] == "repaired"}
    assert set(notes) == set(repaired)
    written = _examples_by_name(damaged_run.uri, "train")
    for name, what in repaired.items():
        assert what in notes[name] and "None" not in notes[name], (name, notes[name])
        image = Image.open(io.BytesIO(_value(written[name], features.IMAGE_KEY)))
        assert (image.format, image.mode) == ("JPEG", "RGB")
        trimap = Image.open(io.BytesIO(_value(written[name], features.MASK_KEY)))
        assert (trimap.format, trimap.mode) == ("PNG", "L")
        assert image.size == trimap.size
        classes = np.unique(np.asarray(trimap)).tolist()
        assert set(classes) <= {1, 2, 3} and len(classes) >= 2, (name, classes)


def test_odd_but_valid_list_lines_are_ingested(damaged_run):
    written = _examples_by_name(damaged_run.uri, "train")
    odd = written["Bengal_\u00e9t\u00e9-2"]  # tabs, trailing spaces, CRLF, non-ASCII
    assert odd.features.feature[features.LABEL_KEY].int64_list.value[0] == 5


def test_too_much_quarantine_stops_ingest_after_writing_the_report(damaged, tmp_path):
    """The stop leaves the whole report beside the examples' directory (which TFX deletes
    when the execution fails: tests/test_ingest.py::test_a_stopped_ingest_keeps_its_evidence
    shows that on a real run), and the message names that copy."""
    data_dir = damaged[0]
    uri = tmp_path / "OxfordPetExampleGen" / "examples" / "7"
    with pytest.raises(example_gen.IngestError, match=r"train: 6 of 25 samples quarantined, "
                                                      r"more than the limit of 10.0%") as stop:
        _run(example_gen.Executor(), data_dir, str(uri), limit=0.1)
    stopped = tmp_path / "OxfordPetExampleGen" / example_gen.STOPPED_DIR / "7"
    assert f"The reasons are in {stopped / example_gen.QUARANTINE_FILE}" in str(stop.value)
    for name in (example_gen.OUTCOMES_FILE, example_gen.QUARANTINE_FILE, example_gen.REPORT_FILE):
        assert (stopped / name).read_bytes() == (uri / example_gen.REPORT_DIR / name).read_bytes()
    assert len((stopped / example_gen.QUARANTINE_FILE).read_text().splitlines()) == 6 + 12
    assert len((stopped / example_gen.OUTCOMES_FILE).read_text().splitlines()) == 25 + 22


def test_a_split_with_nothing_left_stops_ingest(small_dataset, tmp_path):
    data_dir = str(tmp_path / "data")
    shutil.copytree(small_dataset, data_dir)
    for entry in layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"])):
        os.remove(layout.trimap_path(data_dir, entry.name))
    with pytest.raises(example_gen.IngestError, match="eval: no examples left to evaluate on"):
        _run(example_gen.Executor(), data_dir, str(tmp_path / "out"))


# ---- real runs of the component (LocalDagRunner): what TFX does around the executor ----

def _ingest_only(root, data_dir: str, limit: float = 0.05, tfds: bool = False):
    """Runs a pipeline of the ExampleGen alone, as create_pipeline configures it; returns the
    run's summary from ML Metadata, and the error if the run failed."""
    from tfx.orchestration import metadata
    from tfx.orchestration import pipeline as tfx_pipeline
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipeline import run_summary

    if tfds:
        component = example_gen.TfdsOxfordPetExampleGen(
            tfds_dir=data_dir, max_quarantined_fraction=limit).with_id("OxfordPetExampleGen")
    else:
        component = example_gen.OxfordPetExampleGen(data_dir=data_dir,
                                                    max_quarantined_fraction=limit)
    metadata_path = os.path.join(str(root), "metadata.sqlite")
    error = None
    try:
        LocalDagRunner().run(tfx_pipeline.Pipeline(
            pipeline_name="ingest", pipeline_root=str(root), components=[component],
            enable_cache=True,
            metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path),
            beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"]))
    except Exception as failure:  # noqa: BLE001 - the test looks at it
        error = failure
    return run_summary.summarize(metadata_path, "ingest").component("OxfordPetExampleGen"), error


def _error_text(error: Exception) -> str:
    texts = []
    while error is not None:
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


@pytest.mark.parametrize("source", ["dir", "tfds"])
def test_a_stopped_ingest_keeps_its_evidence(source, damaged, tfds_prepared, tmp_path):
    """TFX deletes a failed execution's outputs; the report and quarantine list it names are
    elsewhere, whole: one outcome per listed sample, one line per quarantined one."""
    if source == "dir":
        data_dir, listed, quarantined = damaged[0], 25 + 22, 6 + 12
    else:
        data_dir = _tfds_dir(tmp_path / "tfds", tfds_prepared, damage=True)
        listed, quarantined = 12 + 7, 6
    run, error = _ingest_only(tmp_path / "root", data_dir, limit=0.1, tfds=source == "tfds")
    assert run.state == "FAILED" and error is not None
    text = _error_text(error)
    match = re.search(r"The reasons are in (\S+quarantine\.jsonl);", text)
    assert match, text[-2000:]
    evidence = match.group(1)
    assert evidence.startswith(str(tmp_path / "root" / "OxfordPetExampleGen" /
                                   example_gen.STOPPED_DIR))
    assert not glob.glob(str(tmp_path / "root" / "OxfordPetExampleGen" / "examples" / "*" /
                             "ingest"))  # what TFX removed: why the copy must be elsewhere
    folder = os.path.dirname(evidence)
    lines = open(evidence).read().splitlines()
    assert len(lines) == quarantined and all(json.loads(line)["reason"] for line in lines)
    outcomes = open(os.path.join(folder, example_gen.OUTCOMES_FILE)).read().splitlines()
    assert len(outcomes) == listed
    report = json.load(open(os.path.join(folder, example_gen.REPORT_FILE)))
    assert sum(split["quarantined"] for split in report["splits"].values()) == quarantined


def test_an_image_fixed_in_place_is_ingested_again(small_dataset, tmp_path):
    """The fingerprint (the ExampleGen's cache key) covers every listed image and trimap: a
    rerun is CACHED while nothing changed, and ingests again after an edit in place."""
    data_dir = str(tmp_path / "data")
    shutil.copytree(small_dataset, data_dir)
    entry = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["train"]))[0]
    first, _ = _ingest_only(tmp_path / "root", data_dir)
    again, _ = _ingest_only(tmp_path / "root", data_dir)
    assert (first.state, again.state) == ("COMPLETE", "CACHED")
    fingerprint = first.output("examples").properties["input_fingerprint"]
    assert "split:train,listed_files:12," in fingerprint  # 6 images and their 6 trimaps

    path = layout.image_path(data_dir, entry.name)
    fixed = Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    fixed.save(path, "JPEG", quality=90)  # same name, same list files
    edited, _ = _ingest_only(tmp_path / "root", data_dir)
    assert edited.state == "COMPLETE"
    examples = _examples_by_name(edited.output("examples").uri, "train")
    assert _value(examples[entry.name], features.IMAGE_KEY) == open(path, "rb").read()


def test_the_fingerprint_sees_size_and_time_of_every_listed_file(small_dataset, tmp_path):
    data_dir = str(tmp_path / "data")
    shutil.copytree(small_dataset, data_dir)
    entry = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"]))[-1]
    before = layout.listed_files_fingerprint(data_dir, "eval")
    assert before == layout.listed_files_fingerprint(data_dir, "eval")  # stable
    trimap = layout.trimap_path(data_dir, entry.name)
    status = os.stat(trimap)
    os.utime(trimap, ns=(status.st_atime_ns, status.st_mtime_ns + 1))  # same bytes, touched
    touched = layout.listed_files_fingerprint(data_dir, "eval")
    assert touched != before
    os.remove(trimap)
    assert "missing:1," in layout.listed_files_fingerprint(data_dir, "eval")
    assert layout.listed_files_fingerprint(data_dir, "train") == \
        layout.listed_files_fingerprint(small_dataset, "train")  # location-independent


def test_list_line_contradicting_the_breed_table():
    with pytest.raises(records.BadSampleError, match="the breed Abyssinian is class 1"):
        records.check_entry(layout.ListEntry("Abyssinian_3", 2, 1, 1))


def test_strict_list_reading_names_file_and_line(tmp_path):
    path = tmp_path / "trainval.txt"
    path.write_text("Abyssinian_1 1 1 1\n\nAbyssinian_2 1 x 1\n")
    with pytest.raises(ValueError, match=r"trainval.txt:3: class id, species and breed id"):
        layout.read_list(str(path))


# ---- TFDS: what TFDS's own builders wrote (3.2.0 and 4.0.0) becomes the same examples ----

def _tfds_example(**feature) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _records_by_name(pattern: str) -> dict:
    found = {}
    for path in sorted(glob.glob(pattern)):
        for record in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(record.numpy())
            name = example.features.feature["file_name"].bytes_list.value[0].decode()
            found[name[:-len(".jpg")]] = record.numpy()
    return found


def _tfds_dir(path, prepared, version: str = "4.0.0", damage: bool = False) -> str:
    """A copy of a TFDS-prepared oxford_iiit_pet version directory (conftest `tfds_prepared`);
    with `damage`, one more train shard as a damaged or edited dataset would have it: a record
    with a 16-bit mask (repaired), four that cannot be used (not a tf.Example, no mask, a label
    that contradicts the breed, an empty image) and an identical copy of another; and one more
    eval shard with a train record again."""
    source = os.path.join(prepared.tfds_dir, "oxford_iiit_pet", version)
    tfds_dir = path / "oxford_iiit_pet" / version
    shutil.copytree(source, tfds_dir)
    if not damage:
        return str(tfds_dir)
    data_dir = prepared.data_dir
    train = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["train"]))
    tfds_train = _records_by_name(str(tfds_dir / "*-train.tfrecord*"))
    image = open(layout.image_path(data_dir, train[0].name), "rb").read()
    mask16 = _png(Image.fromarray(np.asarray(Image.open(
        layout.trimap_path(data_dir, train[0].name))).astype(np.uint16)))

    def b(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def i(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    damaged = {"train": [
        _tfds_example(image=b(image), segmentation_mask=b(mask16),
                      file_name=b(b"Bengal_900.jpg"), label=i(5), species=i(0)),
        b"\x08\x96\x01 not a tf.Example",
        _tfds_example(image=b(image), file_name=b(b"Bengal_901.jpg"), label=i(5), species=i(0)),
        _tfds_example(image=b(image), segmentation_mask=b(mask16),
                      file_name=b(b"Bengal_902.jpg"), label=i(7), species=i(0)),
        _tfds_example(image=b(b""), segmentation_mask=b(mask16),
                      file_name=b(b"Bengal_903.jpg"), label=i(5), species=i(0)),
        tfds_train[train[1].name],  # the same record twice
    ], "test": [tfds_train[train[2].name]]}  # a train sample in the test split too
    for tfds_split, extra in damaged.items():
        with tf.io.TFRecordWriter(str(tfds_dir / f"oxford_iiit_pet-{tfds_split}.tfrecord-"
                                                 "added-00000-of-00001")) as writer:
            for record in extra:
                writer.write(record)
    return str(tfds_dir)


@pytest.mark.parametrize("version", ["3.2.0", "4.0.0"])
def test_tfds_records_give_the_same_examples_as_the_directory(tfds_prepared, tmp_path, version):
    """What TFDS's own builder wrote (4.0.0 by the installed TFDS, 3.2.0 by TFDS 4.9.6) becomes
    the examples the directory gives, byte for byte."""
    tfds_dir = _tfds_dir(tmp_path / "tensorflow_datasets", tfds_prepared, version)
    from_tfds = _run(example_gen.TfdsExecutor(), tfds_dir, str(tmp_path / "tfds_out"),
                     patterns=example_gen.TFDS_SPLIT_PATTERNS)
    from_dir = _run(example_gen.Executor(), tfds_prepared.data_dir, str(tmp_path / "dir_out"))
    for split in ("train", "eval"):
        tfds_examples = _examples_by_name(from_tfds.uri, split)
        dir_examples = _examples_by_name(from_dir.uri, split)
        assert sorted(tfds_examples) == sorted(dir_examples) and tfds_examples
        for name, example in dir_examples.items():
            assert tfds_examples[name] == example  # same features, same bytes
    assert _report(from_tfds.uri) == _report(from_dir.uri)
    assert from_tfds.get_int_custom_property("train_tfds_examples") == 6


def test_the_two_versions_are_what_their_builders_write(tfds_prepared):
    """4.0.0 adds the head box (read from the xmls of trainval images), 3.2.0 has none."""
    from oxford_pet import tfds_dataset

    assert tfds_dataset.prepared_versions(tfds_prepared.tfds_dir) == ["3.2.0", "4.0.0"]
    for version, has_box in (("3.2.0", False), ("4.0.0", True)):
        prepared = tfds_dataset.read(tfds_prepared.tfds_dir, version)
        assert prepared.examples == {"train": 6, "eval": 6} and prepared.file_format == "tfrecord"
        record = next(iter(_records_by_name(prepared.shards["train"][0]).values()))
        feature = tf.train.Example.FromString(record).features.feature
        assert ("head_bbox" in feature) == has_box, version
        assert {"image", "segmentation_mask", "label", "species", "file_name"} <= set(feature)


def test_damaged_tfds_records_are_repaired_or_quarantined_with_plain_reasons(tfds_prepared,
                                                                             tmp_path, capfd):
    tfds_dir = _tfds_dir(tmp_path / "tensorflow_datasets", tfds_prepared, damage=True)
    examples = _run(example_gen.TfdsExecutor(), tfds_dir, str(tmp_path / "out"), limit=0.5,
                    patterns=example_gen.TFDS_SPLIT_PATTERNS)
    outcomes = {r["name"]: r for r in _jsonl(examples.uri, example_gen.OUTCOMES_FILE)}
    assert outcomes["Bengal_900"]["outcome"] == "repaired"
    assert "16-bit gray: re-encoded as 8-bit gray PNG" in outcomes["Bengal_900"]["detail"]
    mask = _value(_examples_by_name(examples.uri, "train")["Bengal_900"], features.MASK_KEY)
    assert set(np.unique(np.asarray(Image.open(io.BytesIO(mask)))).tolist()) <= {1, 2, 3}
    quarantine = _jsonl(examples.uri, example_gen.QUARANTINE_FILE)
    reasons = {r["name"]: r["reason"] for r in quarantine}
    assert len(quarantine) == len(reasons) == 6
    unnamed = [name for name in reasons if name.startswith("<record ")]
    assert len(unnamed) == 1 and "is not a tf.Example" in reasons[unnamed[0]]
    assert reasons["Bengal_901"] == "TFDS record Bengal_901 has no 'segmentation_mask'"
    assert "list says class 8, species 1; the breed Bengal is class 6" in reasons["Bengal_902"]
    assert reasons["Bengal_903"] == "image of TFDS record Bengal_903 is an empty file (0 bytes)"
    train = layout.read_list(os.path.join(tfds_prepared.data_dir, layout.SPLIT_LISTS["train"]))
    assert reasons[train[1].name] == (f"TFDS record {train[1].name} appears 2 times (2 in "
                                      "train); one train record is used")
    assert reasons[train[2].name] == (f"TFDS record {train[2].name} appears 2 times (1 in "
                                      "train, 1 in eval); one train record is used")
    assert [r["split"] for r in quarantine if r["name"] == train[2].name] == ["eval"]
    assert _report(examples.uri)["splits"] == {
        "train": {"listed": 12, "ingested": 7, "repaired": 1, "quarantined": 5, "constant": 0},
        "eval": {"listed": 7, "ingested": 6, "repaired": 0, "quarantined": 1, "constant": 0}}
    written = _examples_by_name(examples.uri, "train")
    assert train[1].name in written and train[2].name in written  # each once
    assert len(_read_examples(os.path.join(examples.uri, "Split-train", "*"))) == 7
    # The shards no longer hold what TFDS recorded: said, not hidden.
    assert ("train: TFDS recorded 6 examples when it prepared "
            f"{tfds_dir}, its shards hold 12") in capfd.readouterr().out


def test_a_split_that_lists_nothing_stops_ingest(tmp_path):
    """An empty list file yields no outcome records at all; the split is still expected."""
    (tmp_path / example_gen.OUTCOMES_FILE).write_text(json.dumps(
        {"name": "Abyssinian_1", "split": "train", "outcome": "ingested"}) + "\n")
    with pytest.raises(example_gen.IngestError, match="eval: no examples left to evaluate on"):
        example_gen.write_report(str(tmp_path), 0.05, ["train", "eval"])
    report = json.loads((tmp_path / example_gen.REPORT_FILE).read_text())
    assert report["splits"]["eval"] == {"listed": 0, "ingested": 0, "repaired": 0,
                                        "quarantined": 0, "constant": 0}


@pytest.mark.parametrize("extra,refused", [
    (None, None), (0, "holds 0 (1 pixel"), (4, "holds 4 (1 pixel"), (255, "holds 255 (1 pixel")])
def test_a_trimap_value_just_outside_1_to_3_is_refused(extra, refused):
    """Ingest checks a trimap's values as a range (two reductions, not a comparison with each
    value): the values next to the range, and far from it, are refused by name."""
    values = np.tile(np.array([[1, 2, 3]], np.uint8), (4, 2))
    if extra is not None:
        values[2, 3] = extra
    buffer = io.BytesIO()
    Image.fromarray(values, "L").save(buffer, "PNG")
    if refused is None:
        _, checked, repair = records.canonical_trimap(buffer.getvalue(), "cat_1.png")
        np.testing.assert_array_equal(checked, values)
        assert repair is None
    else:
        with pytest.raises(records.BadSampleError, match=re.escape(refused)):
            records.canonical_trimap(buffer.getvalue(), "cat_1.png")


def test_examples_lost_after_the_checks_stop_ingest_naming_the_split(tmp_path):
    """The report's ingested count is checked against what the Beam job wrote (a
    DirectRunner with two workers dropped records after the checks: pipeline/beam_args.py)."""
    os.makedirs(tmp_path / "Split-train")
    os.makedirs(tmp_path / "Split-eval")
    with tf.io.TFRecordWriter(str(tmp_path / "Split-train" / "data.gz"), "GZIP") as writer:
        for index in range(3):
            writer.write(b"example %d" % index)
    counts = {"train": {"ingested": 3}, "eval": {"ingested": 0}}
    example_gen.check_written(str(tmp_path), counts)  # whole: nothing raised
    counts["train"]["ingested"] = 4
    with pytest.raises(example_gen.IngestError,
                       match="train: 3 examples written, 4 checked and ingested"):
        example_gen.check_written(str(tmp_path), counts)


def test_an_example_dropped_by_the_writer_fails_the_executor(small_dataset, tmp_path,
                                                             monkeypatch):
    """The check runs in the executor: a writer that drops one checked example (as the
    multi-worker DirectRunner did) fails ingest instead of training on fewer examples."""
    from tfx.components.example_gen import write_split

    serialize, dropped = write_split.MaybeSerialize.process, []

    def drop_the_first(self, example):
        if not dropped:
            dropped.append(example)
            return
        yield from serialize(self, example)

    monkeypatch.setattr(write_split.MaybeSerialize, "process", drop_the_first)
    with pytest.raises(example_gen.IngestError, match="examples written, .* checked and "
                                                      "ingested. The Beam job dropped them"):
        _run(example_gen.Executor(), small_dataset, str(tmp_path / "out"))
    assert len(dropped) == 1
