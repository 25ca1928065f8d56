"""OxfordPetExampleGen: a TFX ExampleGen that reads the Oxford-IIIT Pet directory layout.

Each output split comes from one official list file under the input base (a data directory as
the archives unpack it): `train` from annotations/trainval.txt, `eval` from annotations/test.txt.
Every listed image becomes exactly one tf.Example (see `oxford_pet.records`); a listed sample
that cannot (missing or undecodable file, trimap of another size or with foreign values, a list
line that contradicts the breed table) stops the run with a message naming the file.

Built on FileBasedExampleGen, so splits, span/version patterns and its cache fingerprint (the
list files' names, sizes and modification times) behave as in TFX's own ExampleGens.
"""

import collections
import logging
import os
from typing import Any, Dict, Optional

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from oxford_pet import layout, records


def split_input_config() -> example_gen_pb2.Input:
    """One input split per official list file, named as the pipeline names its splits."""
    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=split, pattern=list_file)
        for split, list_file in layout.SPLIT_LISTS.items()])


class _ToExample(beam.DoFn):
    """List entry -> serialized tf.Example; counts what it wrote per split."""

    def __init__(self, data_dir: str, split: str):
        self._data_dir = data_dir
        self._written = beam.metrics.Metrics.counter("oxford_pet_example_gen", f"written_{split}")

    def process(self, entry: layout.ListEntry):
        try:
            example = records.make_example(self._data_dir, entry)
        except records.BadSampleError as error:
            raise records.BadSampleError(
                f"{error}. Fix or remove this sample (and its list line), then rerun.") from None
        self._written.inc()
        yield example


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ListedImagesToExamples(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                            split_pattern: str) -> beam.pvalue.PCollection:
    data_dir = exec_properties["input_base"]
    list_file = os.path.join(data_dir, split_pattern)
    entries = layout.read_list(list_file)
    duplicates = sorted(name for name, count in
                        collections.Counter(entry.name for entry in entries).items() if count > 1)
    if duplicates:
        raise ValueError(f"{list_file} lists {duplicates[:5]} more than once; "
                         "remove the repeated lines")
    split = next((name for name, pattern in layout.SPLIT_LISTS.items()
                  if pattern == split_pattern), split_pattern)
    logging.info("OxfordPetExampleGen: %d images listed in %s", len(entries), list_file)
    print(f"[OxfordPetExampleGen] {split}: {len(entries)} images listed in {list_file}",
          flush=True)
    if not entries:
        raise ValueError(f"{list_file} lists no images: nothing to train or evaluate on")
    return (pipeline
            | "ListEntries" >> beam.Create(entries)
            | "Spread" >> beam.Reshuffle()  # decode/check files on all workers
            | "ToExample" >> beam.ParDo(_ToExample(data_dir, split)))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ListedImagesToExamples


class OxfordPetExampleGen(FileBasedExampleGen):
    """ExampleGen for a directory in the Oxford-IIIT Pet layout."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, data_dir: str, input_config: Optional[example_gen_pb2.Input] = None):
        super().__init__(input_base=data_dir,
                         input_config=input_config or split_input_config())
