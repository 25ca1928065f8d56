"""ExampleGens for Oxford-IIIT Pet: from the dataset's directory layout, or from TFDS.

Both write the same raw tf.Examples (see `oxford_pet.records`) into the splits `train`
(trainval.txt, or TFDS `train`) and `eval` (test.txt, or TFDS `test`), as a Beam job. Every
listed sample is accounted for: it becomes an example (repaired if need be: re-encoded into the
one form Transform decodes, RGB JPEG and 8-bit gray PNG trimap) or goes to the quarantine
report with its reason. The ExampleGen's output holds `ingest/outcomes.jsonl` (one line per
listed sample: ingested, repaired and how, or quarantined and why), `ingest/quarantine.jsonl`
(name, split, reason) and `ingest/ingest_report.json` (per split: listed, ingested, repaired,
quarantined); the counts also go into the artifact's custom properties. TFDS records get the
same checks; a name twice (in a split, or in both) is ingested once, the others quarantined,
as the list files' repeats are.

When the quarantined share of a split passes `max_quarantined_fraction` (or a split has nothing
left) the component fails. TFX then deletes the failed execution's outputs, so the same three
files are first written where they last: `<pipeline_root>/OxfordPetExampleGen/stopped_ingest/
<execution id>/`, the path the error names.

Built on FileBasedExampleGen, so splits, span/version patterns and the cache behave as in
TFX's own ExampleGens. TFX's fingerprint covers the list files only (names, sizes, modification
times); `ListedFilesDriver` adds every listed image and trimap (size and modification time), so
an image fixed in place is ingested again on the next run. A TFDS directory's fingerprint is
TFX's own: its record files are the input files.
"""

import hashlib
import json
import os
from typing import Any, Dict, Optional, Sequence

import apache_beam as beam
import numpy as np
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import driver as example_gen_driver
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from oxford_pet import layout, records, tfds_dataset
from report import samples
from storage import files
from trainer import features

REPORT_DIR = "ingest"
STOPPED_DIR = "stopped_ingest"  # beside the examples' output dir: survives a failed execution
REPORT_FILE = "ingest_report.json"  # per split: listed, ingested, repaired, quarantined
OUTCOMES_FILE = "outcomes.jsonl"  # one line per listed sample: name, split, outcome, detail
QUARANTINE_FILE = "quarantine.jsonl"  # one line per quarantined sample: name, split, reason
DEFAULT_MAX_QUARANTINED_FRACTION = 0.05
# TFDS oxford_iiit_pet file names: oxford_iiit_pet-<split>.tfrecord-00000-of-00004
TFDS_SPLIT_PATTERNS = {"train": "*-train.tfrecord*", "eval": "*-test.tfrecord*"}


class IngestError(RuntimeError):
    """Too many samples quarantined, or samples unaccounted for."""


def split_input_config(patterns: Optional[Dict[str, str]] = None,
                       span_pattern: Optional[str] = None) -> example_gen_pb2.Input:
    """One input split per pattern (default: the official list files), relative to input_base.

    With `span_pattern` (e.g. "span-{SPAN}") every pattern sits under it: `span-{SPAN}/
    annotations/trainval.txt`. TFX's ExampleGen driver then picks the highest span present
    for which every split matches, substitutes it into the patterns, fingerprints those files
    and records the span on the examples artifact (property `span`).
    """
    patterns = patterns or layout.SPLIT_LISTS
    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(
            name=split, pattern=os.path.join(span_pattern, pattern) if span_pattern else pattern)
        for split, pattern in patterns.items()])


def dataset_dir(input_base: str, split: str, pattern: str) -> str:
    """The directory in the dataset's layout that a split's (resolved) list-file pattern is in.

    `annotations/trainval.txt` -> input_base; `span-2/annotations/trainval.txt` ->
    input_base/span-2.
    """
    list_file = layout.SPLIT_LISTS[split]
    if os.path.normpath(pattern) != list_file and not pattern.endswith(os.sep + list_file):
        raise ValueError(f"input pattern {pattern!r} for split {split!r} must end with "
                         f"{list_file!r}: each span holds the dataset's layout")
    return files.normalized(os.path.join(input_base, pattern[:-len(list_file)] or "."))


class _IngestListed(beam.DoFn):
    """List entry -> tf.Example (main output), and one outcome record per sample (tagged
    "outcomes"): ingested, repaired (with what was done) or quarantined (with why)."""

    def __init__(self, data_dir: str, split: str):
        self._data_dir = data_dir
        self._split = split

    def _read(self, element):
        """(sample name, what `_sample` needs): here the list entry itself."""
        return element.name, element

    def _sample(self, name: str, entry) -> records.Sample:
        return records.make_sample(self._data_dir, entry)

    def process(self, element, repeated=None):
        name, payload = self._read(element)
        kept = (repeated or {}).get(name)
        if kept:
            if (self._split, _digest(element)) == (kept["split"], kept["digest"]):
                yield beam.pvalue.TaggedOutput("kept", (name, element))  # one of them: below
            else:
                yield beam.pvalue.TaggedOutput("outcomes", repeated_outcome(name, self._split,
                                                                            kept))
            return
        try:
            sample = self._sample(name, payload)
        except records.BadSampleError as error:
            yield beam.pvalue.TaggedOutput("outcomes", quarantined_outcome(
                layout.Quarantined(name, self._split, str(error))))
            return
        outcome = {"name": name, "split": self._split, "outcome": "ingested"}
        if sample.repair:
            outcome.update(outcome="repaired", detail=sample.repair)
        if sample.notes:
            outcome["notes"] = list(sample.notes)
        outcome["measured"] = {key: round(value, 4) for key, value in sample.measured.items()}
        yield beam.pvalue.TaggedOutput("outcomes", outcome)
        yield sample.example.SerializeToString()  # bytes travel cheaper than protos


def _digest(element) -> Optional[str]:
    return hashlib.sha256(element).hexdigest()[:16] if isinstance(element, bytes) else None


def tfds_record_name(element: bytes):
    """Parses a TFDS record once: (name from file_name, its feature map, or None for a record
    that is no tf.Example). Nameless records are named by a digest of their bytes."""
    anonymous = f"<record {hashlib.sha256(element).hexdigest()[:12]}>"
    try:
        feature = tf.train.Example.FromString(element).features.feature
    except Exception:  # protobuf's DecodeError: not a serialized tf.Example
        return anonymous, None
    file_name = feature[features.FILE_NAME_KEY].bytes_list.value
    name = (os.path.splitext(file_name[0].decode("utf-8", "replace"))[0]
            if file_name else anonymous)
    return name, feature


def _kept_record(item):
    """(name, [(split order, split, digest)]) -> (name, the one record used) when repeated:
    the first split's (a name in train and eval stays in train, as for list files), then the
    smallest digest, so every run keeps the same one."""
    name, seen = item
    seen = sorted(seen)
    if len(seen) > 1:
        counts = {}
        for _, split, _ in seen:
            counts[split] = counts.get(split, 0) + 1
        yield name, {"split": seen[0][1], "digest": seen[0][2], "count": len(seen),
                     "where": ", ".join(f"{n} in {split}" for split, n in counts.items())}


def repeated_outcome(name: str, split: str, kept: dict) -> dict:
    return quarantined_outcome(layout.Quarantined(
        name, split, f"TFDS record {name} appears {kept['count']} times ({kept['where']}); "
                     f"one {kept['split']} record is used"))


class _OneOfIdentical(beam.DoFn):
    """(name, identical records) -> the first, to ingest (main), and an outcome for each other
    copy (tagged "outcomes")."""

    def __init__(self, split: str):
        self._split = split

    def process(self, item, repeated):
        name, copies = item
        copies = list(copies)
        yield copies[0]
        for _ in copies[1:]:
            yield beam.pvalue.TaggedOutput("outcomes", repeated_outcome(name, self._split,
                                                                        repeated[name]))


def quarantined_outcome(record: layout.Quarantined) -> dict:
    return {"name": record.name, "split": record.split, "outcome": "quarantined",
            "detail": record.reason}


class _IngestTfds(_IngestListed):
    """Serialized TFDS `oxford_iiit_pet` example -> our tf.Example, same checks and repairs."""

    def _read(self, element):
        return tfds_record_name(element)

    def _sample(self, name: str, feature) -> records.Sample:
        if feature is None:
            raise records.BadSampleError(f"TFDS record {name} is not a tf.Example "
                                         "(damaged shard?)")

        def value(key):
            found = feature.get(key)
            if found is None or not (found.bytes_list.value or found.int64_list.value):
                raise records.BadSampleError(f"TFDS record {name} has no '{key}'")
            return (found.bytes_list.value or found.int64_list.value)[0]

        label, species = int(value(features.LABEL_KEY)), int(value(features.SPECIES_KEY))
        breed_id = 0  # not in TFDS records; check_entry does not use it
        records.check_entry(layout.ListEntry(name, label + 1, species + 1, breed_id))
        return records.build_sample(name, value(features.IMAGE_KEY), value(features.MASK_KEY),
                                    label, species, *[f"of TFDS record {name}"] * 2)


def _input_config(exec_properties: Dict[str, Any]) -> example_gen_pb2.Input:
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    return input_config


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads a directory in the Oxford-IIIT Pet layout (input_base) split by list files."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("GenerateExamplesByBeam is overridden: it writes the "
                                  "quarantine report beside the examples")

    def _inputs(self, pipeline, input_base: str, split: str, pattern: str):
        """(PCollection of elements to ingest, list of refused Quarantined, DoFn)."""
        data_dir = dataset_dir(input_base, split, pattern)
        plan = layout.plan_split(data_dir, split)
        print(f"[OxfordPetExampleGen] {split}: {plan.listed} samples listed in "
              f"{plan.list_file}", flush=True)
        elements = (pipeline | f"Entries[{split}]" >> beam.Create(plan.entries)
                    | f"Spread[{split}]" >> beam.Reshuffle())
        return elements, plan.refused, _IngestListed(data_dir, split)

    def _repeated_names(self, pipeline, input_base: str, splits):
        """A side input {name: the record kept} for names that occur more than once, or None
        (list files are checked for that before Beam starts: layout.plan_split)."""
        return None

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, beam.PCollection]:
        input_config = _input_config(exec_properties)
        result, outcomes = {}, []
        repeated = self._repeated_names(pipeline, exec_properties["input_base"],
                                        input_config.splits)
        for split in input_config.splits:
            name = split.name
            elements, refused, dofn = self._inputs(pipeline, exec_properties["input_base"],
                                                   name, split.pattern)
            ingest = beam.ParDo(dofn, repeated=repeated) if repeated else beam.ParDo(dofn)
            outputs = elements | f"Ingest[{name}]" >> ingest.with_outputs(
                "outcomes", "kept", main="examples")
            outcomes.append(outputs.outcomes)
            examples = outputs.examples
            if repeated:  # a repeated name's kept record may come in identical copies
                first = (outputs.kept | f"Copies[{name}]" >> beam.GroupByKey()
                         | f"OneOf[{name}]" >> beam.ParDo(
                             _OneOfIdentical(name), repeated=repeated).with_outputs(
                                 "outcomes", main="first"))
                again = first.first | f"IngestKept[{name}]" >> beam.ParDo(dofn).with_outputs(
                    "outcomes", main="examples")
                outcomes += [first.outcomes, again.outcomes]
                examples = (examples, again.examples) | f"Examples[{name}]" >> beam.Flatten()
            if refused:
                outcomes.append(pipeline | f"Refused[{name}]" >> beam.Create(
                    [quarantined_outcome(record) for record in refused]))
            result[name] = examples
        # One small sink for every sample's outcome: each Beam stage has a fixed cost on the
        # DirectRunner (bench/INGEST.md "What this says").
        (outcomes | "AllOutcomes" >> beam.Flatten()
         | "ToJson" >> beam.Map(json.dumps, sort_keys=True)
         | "WriteOutcomes" >> beam.io.WriteToText(
             os.path.join(exec_properties["_report_dir"], OUTCOMES_FILE),
             shard_name_template="", num_shards=1))
        return result

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        report_dir = os.path.join(examples.uri, REPORT_DIR)
        tf.io.gfile.makedirs(report_dir)
        exec_properties = dict(exec_properties, _report_dir=report_dir)
        super().Do(input_dict, output_dict, exec_properties)
        input_config = _input_config(exec_properties)
        limit = read_custom_config(exec_properties).get("max_quarantined_fraction",
                                                        DEFAULT_MAX_QUARANTINED_FRACTION)
        report = write_report(report_dir, limit, [split.name for split in input_config.splits],
                              stopped_report_dir(examples.uri))
        check_written(examples.uri, report["splits"])
        for split, counts in report["splits"].items():
            for key, value in counts.items():
                examples.set_int_custom_property(f"{split}_{key}", value)
        self._compare_with_source(exec_properties["input_base"], report["splits"], examples)

    def _compare_with_source(self, input_base, splits, examples) -> None:
        """What the source says it holds, beside what was read (TFDS records its counts)."""


def stopped_report_dir(examples_uri: str) -> str:
    """Where a stopped ingest keeps its report: beside the examples' output directory, which
    TFX deletes when the execution fails (<root>/OxfordPetExampleGen/examples/<id> ->
    <root>/OxfordPetExampleGen/stopped_ingest/<id>)."""
    uri = examples_uri.rstrip("/")
    return os.path.join(os.path.dirname(os.path.dirname(uri)), STOPPED_DIR,
                        os.path.basename(uri))


def make_custom_config(values: Dict[str, Any]) -> example_gen_pb2.CustomConfig:
    """ExampleGen's custom_config is a proto Any: carry a plain dict as a Struct. It also
    carries records.EXAMPLE_FORMAT: TFX's cache key covers the component's properties, not
    its code, so examples cached before the examples gained features are not reused."""
    config = example_gen_pb2.CustomConfig()
    values = {**values, "example_format": records.EXAMPLE_FORMAT}
    config.custom_config.Pack(json_format.ParseDict(values, struct_pb2.Struct()))
    return config


def read_custom_config(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    text = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not text:
        return {}
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(text, config)
    values = struct_pb2.Struct()
    if not config.custom_config.Unpack(values):
        return {}
    return json_format.MessageToDict(values)


def split_counts(outcomes: Sequence[Dict[str, Any]],
                 expected_splits: Sequence[str] = ()) -> Dict[str, Dict[str, int]]:
    """Per split, the counts of layout.INGEST_COUNTS over the per-sample outcomes."""
    zero = {key: 0 for key in layout.INGEST_COUNTS}
    splits: Dict[str, Dict[str, int]] = {split: dict(zero) for split in expected_splits}
    for record in outcomes:
        counts = splits.setdefault(record["split"], dict(zero))
        counts["listed"] += 1
        counts["quarantined" if record["outcome"] == "quarantined" else "ingested"] += 1
        counts["repaired"] += record["outcome"] == "repaired"
        counts["constant"] += any(note.startswith(records.NEARLY_CONSTANT)
                                  for note in record.get("notes", ()))
    return splits


def write_report(report_dir: str, max_quarantined_fraction: float,
                 expected_splits: Sequence[str] = (),
                 stopped_dir: Optional[str] = None) -> Dict[str, Any]:
    """Sums the per-sample outcomes into ingest_report.json and quarantine.jsonl, prints the
    counts, and stops when a split lost too much (or everything) to quarantine, or, being
    expected, listed nothing at all. Before it stops, all three files are also written to
    `stopped_dir` (where a failed execution's cleanup does not reach), and the error names
    that copy. Paths may be any tf.io.gfile URI (gs://...)."""
    with tf.io.gfile.GFile(os.path.join(report_dir, OUTCOMES_FILE)) as handle:
        outcomes_text = handle.read()
    outcomes = [json.loads(line) for line in outcomes_text.splitlines() if line.strip()]
    splits = split_counts(outcomes, expected_splits)
    report = {"splits": splits, "max_quarantined_fraction": max_quarantined_fraction,
              "measured": measured_summary(outcomes)}
    files = {
        QUARANTINE_FILE: "".join(
            json.dumps({"name": record["name"], "split": record["split"],
                        "reason": record["detail"]}, sort_keys=True) + "\n"
            for record in outcomes if record["outcome"] == "quarantined"),
        REPORT_FILE: json.dumps(report, indent=2, sort_keys=True),
    }
    _write_files(report_dir, files)
    problems = []
    for split, counts in sorted(splits.items(), reverse=True):
        print(f"[OxfordPetExampleGen] {split}: {counts['listed']} listed = "
              f"{counts['ingested']} ingested ({counts['repaired']} repaired) + "
              f"{counts['quarantined']} quarantined"
              + (f"; {counts['constant']} nearly constant images (see the outcomes' notes)"
                 if counts["constant"] else ""), flush=True)
        if counts["ingested"] == 0:
            problems.append(f"{split}: no examples left to "
                            f"{'train' if split == 'train' else 'evaluate'} on")
        elif counts["quarantined"] / counts["listed"] > max_quarantined_fraction:
            problems.append(f"{split}: {counts['quarantined']} of {counts['listed']} samples "
                            f"quarantined, more than the limit of "
                            f"{max_quarantined_fraction:.1%}")
    if problems:
        if stopped_dir:
            _write_files(stopped_dir, {OUTCOMES_FILE: outcomes_text, **files})
        raise IngestError("ingest stopped: " + "; ".join(problems) + f". The reasons are in "
                          f"{os.path.join(stopped_dir or report_dir, QUARANTINE_FILE)}; fix "
                          "or remove those samples, or raise --max-quarantined-fraction.")
    return report


def measured_summary(outcomes: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Dict]]:
    """Per split and measure (oxford_pet/measures.py): min, median and max over the ingested
    samples."""
    by_split: Dict[str, Dict[str, list]] = {}
    for record in outcomes:
        for key, value in record.get("measured", {}).items():
            by_split.setdefault(record["split"], {}).setdefault(key, []).append(value)
    return {split: {key: {"min": min(values), "median": float(np.median(values)),
                          "max": max(values)} for key, values in sorted(found.items())}
            for split, found in sorted(by_split.items())}


def check_written(examples_uri: str, splits: Dict[str, Dict[str, int]]) -> None:
    """Every example the report counts as ingested is in its split's files, or IngestError:
    the Beam job's writer is not taken on trust (a DirectRunner with two workers dropped 1 or 2
    of 1,000 after the checks: pipeline/beam_args.py)."""
    lost = []
    for split, counts in sorted(splits.items()):
        split_files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
        written = samples.count_records(split_files)
        if written != counts["ingested"]:
            lost.append(f"{split}: {written} examples written, {counts['ingested']} checked "
                        "and ingested")
    if lost:
        raise IngestError("ingest lost examples between checking and writing them: "
                          + "; ".join(lost) + ". The Beam job dropped them; run it again, with "
                          "one DirectRunner worker (pipeline/beam_args.py) or on Dataflow.")


def _write_files(directory: str, files: Dict[str, str]) -> None:
    tf.io.gfile.makedirs(directory)
    for name, text in files.items():
        with tf.io.gfile.GFile(os.path.join(directory, name), "w") as handle:
            handle.write(text)


class ListedFilesDriver(example_gen_driver.FileBasedDriver):
    """TFX's FileBasedDriver (span, version, fingerprint of the list files), plus every listed
    image and trimap in the fingerprint, which is the ExampleGen's cache key: an image or
    trimap edited in place (same list files) is ingested again on the next run.

    Local runs only: on Kubeflow/Vertex the ExampleGen's driver is TFX's own container
    entrypoint, which fingerprints the list files alone.
    """

    def resolve_exec_properties(self, exec_properties, pipeline_info, component_info):
        exec_properties = super().resolve_exec_properties(exec_properties, pipeline_info,
                                                          component_info)
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        lines = [exec_properties[example_gen_utils.FINGERPRINT_PROPERTY_NAME]]
        for split in _input_config(exec_properties).splits:
            lines.append(layout.listed_files_fingerprint(
                dataset_dir(input_base, split.name, split.pattern), split.name))
        exec_properties[example_gen_utils.FINGERPRINT_PROPERTY_NAME] = "\n".join(lines)
        return exec_properties


class TfdsExecutor(Executor):
    """Reads a prepared TFDS `oxford_iiit_pet` version directory (input_base): 3.x or 4.x,
    whose shards hold the same features (oxford_pet/tfds_dataset.py)."""

    def _inputs(self, pipeline, input_base: str, split: str, pattern: str):
        records_pattern = os.path.join(input_base, pattern)
        if not files.glob(records_pattern):
            raise FileNotFoundError(f"no TFDS records match {records_pattern}: prepare the "
                                    "dataset (local_runner.py --tfds does, with TFDS's own "
                                    "builder) or choose another source")
        print(f"[OxfordPetExampleGen] {split}: reading TFDS {tfds_dataset.NAME} "
              f"{os.path.basename(input_base.rstrip('/'))} records {records_pattern}",
              flush=True)
        elements = pipeline | f"Read[{split}]" >> beam.io.ReadFromTFRecord(
            records_pattern, coder=beam.coders.BytesCoder())
        return elements, [], _IngestTfds(input_base, split)

    def _compare_with_source(self, input_base, splits, examples) -> None:
        """Records read per split against the examples TFDS recorded when it prepared them
        (dataset_info.json, through TFDS's reader): a difference means the shards changed
        since, and is said (every record read is accounted for either way)."""
        version_dir = input_base.rstrip("/")
        try:
            prepared = tfds_dataset.read(os.path.dirname(os.path.dirname(version_dir)),
                                         os.path.basename(version_dir))
        except (ValueError, OSError) as error:
            print(f"[OxfordPetExampleGen] TFDS's record of {version_dir} cannot be read "
                  f"({error}): the records read are not compared with it", flush=True)
            return
        for split, counts in sorted(splits.items()):
            recorded = prepared.examples.get(split)
            examples.set_int_custom_property(f"{split}_tfds_examples", recorded or 0)
            if recorded is not None and recorded != counts["listed"]:
                print(f"[OxfordPetExampleGen] {split}: TFDS recorded {recorded} examples when "
                      f"it prepared {version_dir}, its shards hold {counts['listed']}: they "
                      "changed since (each record read is in the outcomes)", flush=True)

    def _repeated_names(self, pipeline, input_base: str, splits):
        """TFDS records carry their name (file_name): a name twice in a split, or in both,
        is found in a first pass over names and digests only (the records are read again
        for ingest rather than held in memory)."""
        names = []
        for order, split in enumerate(splits):
            names.append(
                pipeline
                | f"ReadNames[{split.name}]" >> beam.io.ReadFromTFRecord(
                    os.path.join(input_base, split.pattern), coder=beam.coders.BytesCoder())
                | f"Name[{split.name}]" >> beam.Map(
                    lambda record, order=order, split=split.name: (
                        tfds_record_name(record)[0], (order, split, _digest(record)))))
        return beam.pvalue.AsDict(names | "AllNames" >> beam.Flatten()
                                  | "ByName" >> beam.GroupByKey()
                                  | "Repeated" >> beam.FlatMap(_kept_record))


class OxfordPetExampleGen(FileBasedExampleGen):
    """ExampleGen for a directory in the Oxford-IIIT Pet layout."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
    DRIVER_CLASS = ListedFilesDriver

    def __init__(self, data_dir: str,
                 max_quarantined_fraction: float = DEFAULT_MAX_QUARANTINED_FRACTION,
                 input_config: Optional[example_gen_pb2.Input] = None):
        super().__init__(input_base=data_dir,
                         input_config=input_config or split_input_config(),
                         custom_config=make_custom_config(
                             {"max_quarantined_fraction": max_quarantined_fraction}))


class TfdsOxfordPetExampleGen(FileBasedExampleGen):
    """ExampleGen for a prepared TFDS `oxford_iiit_pet` (3.x or 4.x) version directory."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TfdsExecutor)

    def __init__(self, tfds_dir: str,
                 max_quarantined_fraction: float = DEFAULT_MAX_QUARANTINED_FRACTION,
                 input_config: Optional[example_gen_pb2.Input] = None):
        super().__init__(input_base=tfds_dir,
                         input_config=input_config or split_input_config(TFDS_SPLIT_PATTERNS),
                         custom_config=make_custom_config(
                             {"max_quarantined_fraction": max_quarantined_fraction}))
