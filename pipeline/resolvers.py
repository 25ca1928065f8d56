"""Which earlier model a run compares with (the Evaluator's baseline) and starts from (the
Trainer's warm start): the latest blessed model, but never the run's own.

TFX's LatestBlessedModelStrategy returns the latest blessed model, whoever made it. After a run
blesses its candidate, the same command again (or a rerun after a kill past the Evaluator) gets
that candidate back: the Evaluator's inputs change, so it runs again and compares the model with
itself, and with --warm-start the Trainer would start again from the model it just made. Here:

- the baseline is the latest blessed model other than the candidate (`candidate`: the Trainer's
  output of this run): a rerun whose Trainer is cached gets the baseline the first run had, so
  the Evaluator is cached too; a retrained candidate (--no-cache) is compared with the model
  it would replace;
- the warm start is the latest blessed model not trained on this run's examples (`examples`:
  Transform's output of this run, which the Trainer reads): a rerun starts from where the first
  run started.

These are local strategies (they read the metadata store); Vertex AI compiles only TFX's own
two resolvers into metadata queries, so a cloud pipeline keeps LatestBlessedModelStrategy
(pipeline/pipeline.py) and the pusher and the summary say when a candidate met itself.
"""

from typing import Dict, List, Optional, Set

from tfx import types
from tfx.dsl.components.common import resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)

MODEL_KEY, BLESSING_KEY = "model", "model_blessing"
CANDIDATE_KEY = "candidate"  # the Trainer's model of this run: not its own baseline
EXAMPLES_KEY = "examples"  # the examples this run trains on: no model trained on them


def trained_on(store, model_ids: List[int]) -> Dict[int, Set[int]]:
    """{model id: ids of the artifacts its producing execution read}, from the store's
    events (a model's OUTPUT event names the Trainer execution; that execution's INPUT events
    name what it read)."""
    from ml_metadata.proto import metadata_store_pb2

    producers = {event.artifact_id: event.execution_id
                 for event in store.get_events_by_artifact_ids(model_ids)
                 if event.type == metadata_store_pb2.Event.OUTPUT}
    inputs: Dict[int, Set[int]] = {}
    for event in store.get_events_by_execution_ids(sorted(set(producers.values()))):
        if event.type == metadata_store_pb2.Event.INPUT:
            inputs.setdefault(event.execution_id, set()).add(event.artifact_id)
    return {model: inputs.get(execution, set()) for model, execution in producers.items()}


class LatestBlessedOtherModelStrategy(resolver.ResolverStrategy):
    """The latest blessed model that is neither in `candidate` nor trained on `examples` (the
    keys present among the inputs; either may be absent). Returns `model` and its
    `model_blessing`, or nothing."""

    def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        models = list(input_dict.get(MODEL_KEY) or [])
        blessings = list(input_dict.get(BLESSING_KEY) or [])
        excluded = {artifact.id for artifact in input_dict.get(CANDIDATE_KEY) or []}
        examples = {artifact.id for artifact in input_dict.get(EXAMPLES_KEY) or []}
        if examples and models:
            read = trained_on(store, [model.id for model in models])
            excluded |= {model.id for model in models if read.get(model.id, set()) & examples}
        others = [model for model in models if model.id not in excluded]
        # TFX's own choice among what is left: the newest model with a blessing that says 1.
        chosen = LatestBlessedModelStrategy()._resolve(  # pylint: disable=protected-access
            {MODEL_KEY: others, BLESSING_KEY: blessings}, MODEL_KEY, BLESSING_KEY)
        return {**input_dict, **chosen}  # the other inputs pass through, as TFX advises
