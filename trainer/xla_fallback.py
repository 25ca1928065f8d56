"""XLA on a first GPU run: try the compiled steps once, fall back to the plain ones if they fail.

XLA turns on by itself when the Trainer sees a GPU (TrainerSettings.xla "auto"), and no GPU has
run it in this project. A GPU machine can still fail to compile (a CUDA toolkit without ptxas or
libdevice, an op without an XLA kernel), which should cost a warning, not the run. So before
training, `compile_or_fall_back` runs one XLA-compiled training step and one evaluation step on
a batch each; if either fails, XLA is turned off (Keras rebuilds its step functions) and the
Trainer says so in one line. Either way the weights, the optimizer's state and the metrics are
put back as they were, so the probe leaves no trace in the training. On the CPU, where XLA
stays off, nothing runs.
"""

import re
from typing import Any, Dict

import tensorflow as tf
import tf_keras as keras

from trainer import short_errors

# The line of a compile error that names the cause (TensorFlow's first lines are headers).
_CAUSE = re.compile(r"unsupported|xla|ptxas|libdevice|compil|kernel", re.IGNORECASE)
_HEADERS = ("Graph execution error", "Detected at node")


def reason(error: BaseException) -> str:
    """One line saying why: the error's type and the line of its message that names the
    cause (else its first line that is not one of TensorFlow's headers)."""
    lines = short_errors.shorten(str(error), max_lines=40).splitlines() or [""]
    useful = [line for line in lines if not line.startswith(_HEADERS)] or lines
    cause = next((line for line in useful if _CAUSE.search(line)), useful[0])
    return f"{type(error).__name__}: {cause}"[:300]


def _optimizer_state(model: keras.Model):
    """The optimizer's variables (built now if they are not yet) and their values."""
    optimizer = model.optimizer
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # mixed precision's wrapper
    inner.build(model.trainable_variables)
    variables = list(optimizer.variables)
    return variables, [variable.numpy() for variable in variables]


def compile_or_fall_back(model: keras.Model, train_data: tf.data.Dataset,
                         eval_data: tf.data.Dataset) -> Dict[str, Any]:
    """With `model.jit_compile` on: one compiled training step on a batch of `train_data` and
    one evaluation step on a batch of `eval_data`; on failure, XLA off. Returns
    {"on": whether XLA stays on, "fallback": None, or why it was turned off}."""
    if not model.jit_compile:
        return {"on": False, "fallback": None}
    weights = model.get_weights()
    variables, values = _optimizer_state(model)
    result: Dict[str, Any] = {"on": True, "fallback": None}
    try:
        model.fit(train_data.take(1), epochs=1, verbose=0)
        model.evaluate(eval_data.take(1), verbose=0)
    except (tf.errors.OpError, ValueError, RuntimeError) as error:  # what XLA raises
        result = {"on": False, "fallback": reason(error)}
        model.jit_compile = False  # Keras drops the compiled step functions
        print(f"[Trainer] XLA compilation failed ({result['fallback']}); training without XLA",
              flush=True)
    model.set_weights(weights)
    for variable, value in zip(variables, values):
        variable.assign(value)
    model.reset_metrics()
    return result
