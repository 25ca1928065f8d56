"""The runner's process settings (pipeline/process_tuning.py): what numpy prints when TFMA's
refused positional signature call formats a batch of serialized examples into a TypeError."""

import numpy as np
import tensorflow as tf

from pipeline import process_tuning


def test_long_values_print_as_their_start_and_length():
    assert process_tuning.short_repr(b"abc") == "b'abc'"
    assert process_tuning.short_repr(7) == "7"
    long = b"\xff\xd8" + b"x" * 100_000
    text = process_tuning.short_repr(long)
    assert text.startswith(repr(long[:process_tuning.PRINT_CHARS])) and len(text) < 300
    assert text.endswith("...(100,002 bytes)")
    assert process_tuning.short_repr("y" * 70).endswith("...(70 characters)")


def test_a_batch_of_serialized_examples_prints_short():
    """A loaded signature called with a positional batch (as TFMA calls it) first fails its
    structured signature, and TensorFlow builds that TypeError's message (caught inside
    ConcreteFunction._call_impl, which retries with the flat signature) from the tensor's
    repr: 8 examples of 100 KB are about 800 KB of escaped text without the options."""
    batch = tf.constant([b"\x00\xff" * 50_000] * 8)
    with np.printoptions(threshold=1000, formatter=None):  # numpy's defaults (a test of the
        assert len(repr(batch)) > 800_000                   # runner may have tuned this one)
    with np.printoptions(**process_tuning.print_options()):
        text = repr(batch)
    assert len(text) < 4_000 and text.count("(100,000 bytes)") == 8
