"""Skew between splits and drift between spans, on what ingest measured of the images.

TFDV's own comparators, added to the schema here with PipelineConfig's thresholds: the
Jensen-Shannon divergence of each measured numeric feature (oxford_pet/measures.py) and the
L-infinity distance of the categorical ones (breed, species). Two comparisons:

- skew: train against eval, every run (a warning by default: the eval split is the test list,
  fixed by whoever made the dataset, and a skew there is for a person to judge, not a reason
  to refuse new training data);
- drift: this run's train split against the train split of the data the serving model was
  trained on (its statistics, recorded in its push manifest by the VersionedPusher), with
  spans (a stop by default: scheduled retraining on a span from another camera or labelling
  tool must not go unnoticed).

A divergence between two small samples is large even when both are drawn alike (TFDV's
histograms have ten buckets): under the noise floor at n examples (DataCheckSettings.floor,
measured by bench/drift_noise.py on generated spans) a difference is noise, so the threshold
applied is the larger of the two.
Each finding is said in a sentence with both distributions' medians, the divergence, the
threshold and what to do.
"""

import dataclasses
import enum
import math
from typing import Any, Dict, List, Optional, Tuple

from oxford_pet import measures

CATEGORICAL = ("label", "species")  # trainer/features.py LABEL_KEY, SPECIES_KEY
STATISTICS_FILE = "FeatureStats.pb"


class Comparison(enum.Enum):
    SKEW = "skew"
    DRIFT = "drift"


STOP, WARN = "stop", "warn"


@dataclasses.dataclass(frozen=True)
class DataCheckSettings:
    """What the data gate compares and what it does about a difference (PipelineConfig.
    data_checks; the runners' --drift-threshold, --on-drift, --on-skew, --accept-drift).

    The thresholds are the smallest divergence called a difference once the noise floor is
    passed: 0.1 Jensen-Shannon divergence (log base 2, 0 to 1) for a measured feature, where
    generated spans drawn alike measured at most 0.04 with 256 examples each and the whole
    dataset's size leaves a floor of 0.005; 0.2 L-infinity distance for the breed and species
    shares (a fifth of the examples moved to another value)."""
    numeric_threshold: float = 0.1
    categorical_threshold: float = 0.2
    # The noise floor between alike spans of n examples: floor_scale / n ** floor_power, the
    # envelope bench/drift_noise.py measured (bench/DRIFT.md: up to 0.63 at 16, 0.04 at 256).
    floor_scale: float = 8.63
    floor_power: float = 0.911
    on_drift: str = STOP  # drift between spans: stop before Transform, or warn
    on_skew: str = WARN  # train/eval skew: warn, or stop
    accept_drift: bool = False  # this run's data is the new normal: recorded, not stopped

    def floor(self, count: int) -> float:
        return self.floor_scale / max(1, count) ** self.floor_power

    def validate(self) -> None:
        for name in ("on_drift", "on_skew"):
            if getattr(self, name) not in (STOP, WARN):
                raise ValueError(f"data_checks.{name} must be {STOP!r} or {WARN!r}, got "
                                 f"{getattr(self, name)!r}")
        for name in ("numeric_threshold", "categorical_threshold"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"data_checks.{name} must be in (0, 1], got "
                                 f"{getattr(self, name)}")


def _comparator(feature, comparison: Comparison):
    return feature.drift_comparator if comparison is Comparison.DRIFT else \
        feature.skew_comparator


def _schema_for(features: List[str], comparison: Comparison, value: float = 1e-12):
    """A schema holding only the compared features, each with a comparator at `value` (tiny:
    TFDV then measures every feature; the decision is made here, per feature)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    for name in features:
        feature = schema.feature.add(name=name)
        comparator = _comparator(feature, comparison)
        if name in CATEGORICAL:
            feature.type = schema_pb2.INT
            feature.int_domain.is_categorical = True
            comparator.infinity_norm.threshold = value
        else:
            feature.type = schema_pb2.FLOAT if measures.BY_KEY[name].kind == "float" \
                else schema_pb2.INT
            comparator.jensen_shannon_divergence.threshold = value
    return schema


def _present(statistics) -> List[str]:
    names = {feature.path.step[0] for feature in statistics.datasets[0].features}
    return [name for name in list(measures.BY_KEY) + list(CATEGORICAL) if name in names]


def divergences(current, previous, comparison: Comparison) -> Dict[str, float]:
    """{feature: TFDV's divergence between `current` and `previous` (DatasetFeatureStatistics
    lists)} for every measured and categorical feature both hold."""
    import tensorflow_data_validation as tfdv

    names = sorted(set(_present(current)) & set(_present(previous)))
    if not names:
        return {}
    schema = _schema_for(names, comparison)
    if comparison is Comparison.DRIFT:
        anomalies = tfdv.validate_statistics(current, schema, previous_statistics=previous)
    else:
        anomalies = tfdv.validate_statistics(current, schema, serving_statistics=previous)
    found = {}
    for info in anomalies.drift_skew_info:
        measured = (info.drift_measurements if comparison is Comparison.DRIFT
                    else info.skew_measurements)
        if measured:
            found[info.path.step[0]] = max(m.value for m in measured)
    return found


def count_of(statistics) -> int:
    return int(statistics.datasets[0].num_examples)


def _feature(statistics, name: str):
    return next((f for f in statistics.datasets[0].features if f.path.step[0] == name), None)


def median(statistics, name: str) -> Optional[float]:
    """The median TFDV's quantiles histogram holds (the boundary of its 5th of 10 buckets)."""
    feature = _feature(statistics, name)
    if feature is None:
        return None
    for histogram in feature.num_stats.histograms:
        if histogram.type == histogram.QUANTILES and histogram.buckets:
            middle = len(histogram.buckets) // 2
            return float(histogram.buckets[middle - 1].high_value)
    return float(feature.num_stats.median) if feature.num_stats else None


def top_shares(statistics, name: str, count: int = 3) -> str:
    """'breed 5: 12%, breed 2: 9%...' for a categorical feature, from its value counts."""
    feature = _feature(statistics, name)
    if feature is None:
        return "not recorded"
    histogram = next((h for h in feature.num_stats.histograms
                      if h.type == h.STANDARD), None)
    total = count_of(statistics) or 1
    if histogram is None:
        return "not recorded"
    buckets = sorted(histogram.buckets, key=lambda b: -b.sample_count)[:count]
    return ", ".join(f"{b.low_value:g}..{b.high_value:g}: {b.sample_count / total:.0%}"
                     for b in buckets)


@dataclasses.dataclass
class Finding:
    comparison: str  # "skew" or "drift"
    feature: str
    divergence: float
    threshold: float
    sentence: str

    def to_json(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _threshold(name: str, settings: DataCheckSettings, counts: Tuple[int, int]) -> float:
    base = settings.categorical_threshold if name in CATEGORICAL else settings.numeric_threshold
    return max(base, settings.floor(min(counts)))


def compare(current, previous, comparison: Comparison, settings: DataCheckSettings,
            names: Tuple[str, str]) -> List[Finding]:
    """Features whose divergence passes its threshold, each said in a sentence naming both
    distributions (`names`: how to call `current` and `previous`, e.g. ("span 3", "span 2"))."""
    counts = (count_of(current), count_of(previous))
    findings = []
    for name, value in sorted(divergences(current, previous, comparison).items()):
        limit = _threshold(name, settings, counts)
        if not value > limit or math.isnan(value):
            continue
        if name in CATEGORICAL:
            what = "breed" if name == "label" else name
            shown = (f"{what} shares {top_shares(current, name)} in {names[0]}, "
                     f"{top_shares(previous, name)} in {names[1]}")
        else:
            words = measures.BY_KEY[name].words
            shown = (f"median {words} {measures.say(name, median(current, name))} in "
                     f"{names[0]}, {measures.say(name, median(previous, name))} in {names[1]}")
        measure = "L-infinity distance" if name in CATEGORICAL else "Jensen-Shannon divergence"
        findings.append(Finding(comparison.value, name, round(value, 4), round(limit, 4),
                                f"{comparison.value} in {name}: {shown} ({measure} {value:.2f}, "
                                f"above {limit:.2f} for {counts[0]:,} and {counts[1]:,} "
                                "examples)"))
    return findings


def summary(statistics, name: str) -> Dict[str, Any]:
    """What the report draws of one measured feature in one split: count, median and the
    quantile boundaries (TFDV's deciles)."""
    feature = _feature(statistics, name)
    deciles = []
    if feature is not None:
        for histogram in feature.num_stats.histograms:
            if histogram.type == histogram.QUANTILES:
                deciles = [float(b.low_value) for b in histogram.buckets[:1]] + [
                    float(b.high_value) for b in histogram.buckets]
    return {"count": count_of(statistics), "median": median(statistics, name),
            "deciles": deciles}
