"""A TFX component that fails with TensorFlow's 100 KB error message (tests/test_console.py).

In a module of its own: TFX's @component wants a module-level function, and importing TFX
costs seconds that the other console tests need not pay."""

from tfx.dsl.component.experimental.decorators import component


@component
def HugeError() -> None:  # noqa: N802 - a component's name
    import tensorflow as tf

    from tests.test_console import TF_LABEL_ERROR

    raise tf.errors.InvalidArgumentError(None, None, TF_LABEL_ERROR)
