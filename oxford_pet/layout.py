"""Paths and list files of the dataset as the official archives unpack them.

    DIR/images/<Name>_<n>.jpg
    DIR/annotations/trimaps/<Name>_<n>.png      (1 pet, 2 background, 3 border)
    DIR/annotations/list.txt                    (header lines start with '#')
    DIR/annotations/trainval.txt, test.txt      (the official split)

A list line is `<Name>_<n> <class 1..37> <species 1 cat, 2 dog> <breed id>`.

New data arrives as numbered spans, each one the same layout in its own directory:

    ROOT/span-1/images/..., ROOT/span-1/annotations/...
    ROOT/span-2/images/..., ROOT/span-2/annotations/...

and ExampleGen reads the latest (PipelineConfig.span_pattern = SPAN_PATTERN, data_dir = ROOT).
"""

import os
from typing import Dict, List, NamedTuple

IMAGES_DIR = "images"
ANNOTATIONS_DIR = "annotations"
TRIMAPS_DIR = os.path.join(ANNOTATIONS_DIR, "trimaps")
LIST_FILE = os.path.join(ANNOTATIONS_DIR, "list.txt")
# The pipeline's splits and the official list file each one comes from.
SPLIT_LISTS: Dict[str, str] = {
    "train": os.path.join(ANNOTATIONS_DIR, "trainval.txt"),
    "eval": os.path.join(ANNOTATIONS_DIR, "test.txt"),
}
LIST_HEADER = (
    "#Image CLASS-ID SPECIES BREED ID\n"
    "#ID: 1:37 Class ids\n"
    "#SPECIES: 1:Cat 2:Dog\n"
    "#BREED ID: 1-25:Dog 1:12:Cat\n"
    "#All images with 1st letter as captial are cat images\n"
    "#images with small first letter are dog images\n"
)
SPAN_PATTERN = "span-{SPAN}"  # TFX's span placeholder; a span directory is ROOT/span-<n>


def span_dir(root: str, span: int, pattern: str = SPAN_PATTERN) -> str:
    """The directory of span `span` under `root` (ROOT/span-<n> by default)."""
    if span < 0:
        raise ValueError(f"span must be a non-negative integer, got {span}")
    return os.path.join(root, pattern.replace("{SPAN}", str(span)))


class ListEntry(NamedTuple):
    name: str  # e.g. "Abyssinian_12", no extension
    class_id: int  # 1..37
    species: int  # 1 cat, 2 dog
    breed_id: int

    def to_line(self) -> str:
        return f"{self.name} {self.class_id} {self.species} {self.breed_id}"


def image_path(data_dir: str, name: str) -> str:
    return os.path.join(data_dir, IMAGES_DIR, name + ".jpg")


def trimap_path(data_dir: str, name: str) -> str:
    return os.path.join(data_dir, TRIMAPS_DIR, name + ".png")


def parse_list_line(line: str, where: str) -> ListEntry:
    """One list line -> ListEntry; `where` ("file:line") names the line in the error."""
    fields = line.split()
    if len(fields) != 4:
        raise ValueError(
            f"{where}: expected '<name> <class id> <species> <breed id>', got {line.strip()!r}")
    try:
        class_id, species, breed_id = (int(field) for field in fields[1:])
    except ValueError:
        raise ValueError(f"{where}: class id, species and breed id must be integers, "
                         f"got {line.strip()!r}") from None
    return ListEntry(fields[0], class_id, species, breed_id)


def read_list(path: str) -> List[ListEntry]:
    """All entries of a list file, skipping '#' header lines and blank lines."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"list file {path} not found: the data directory must hold the dataset's "
            f"'{ANNOTATIONS_DIR}/' folder (trainval.txt, test.txt) as the archives unpack it")
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip() and not line.startswith("#"):
                entries.append(parse_list_line(line, f"{path}:{number}"))
    return entries


def write_list(path: str, entries: List[ListEntry], header: str = "") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(header)
        for entry in entries:
            handle.write(entry.to_line() + "\n")


class Quarantined(NamedTuple):
    """A listed sample (or list line) that did not become an example, and why."""
    name: str
    split: str
    reason: str

    def to_json(self) -> dict:
        return self._asdict()


class SplitPlan(NamedTuple):
    """What one split's list file asks for: samples to ingest, and lines refused up front."""
    split: str
    list_file: str
    entries: List[ListEntry]
    refused: List[Quarantined]  # malformed lines, names listed twice
    blank_lines: int

    @property
    def listed(self) -> int:
        return len(self.entries) + len(self.refused)


def _names_in(path: str) -> set:
    if not os.path.isfile(path):
        return set()
    with open(path, encoding="utf-8", errors="replace") as handle:
        return {line.split()[0] for line in handle if line.strip() and not line.startswith("#")}


def plan_split(data_dir: str, split: str) -> SplitPlan:
    """Reads a split's list file leniently: every non-blank, non-comment line is accounted for.

    Malformed lines, a name listed twice in the file, and (for `eval`) a name also listed for
    `train` are refused with a reason; the rest are returned in file order.
    """
    list_file = os.path.join(data_dir, SPLIT_LISTS[split])
    if not os.path.isfile(list_file):
        raise FileNotFoundError(
            f"list file {list_file} not found: the data directory must hold the dataset's "
            f"'{ANNOTATIONS_DIR}/' folder (trainval.txt, test.txt) as the archives unpack it")
    other_splits = list(SPLIT_LISTS)[:list(SPLIT_LISTS).index(split)]  # the splits before it
    earlier_names = set().union(*(_names_in(os.path.join(data_dir, SPLIT_LISTS[s]))
                                  for s in other_splits))
    entries, refused, first_line, blank = [], [], {}, 0
    with open(list_file, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                blank += 1
                continue
            if line.startswith("#"):
                continue
            where = f"{SPLIT_LISTS[split]}:{number}"
            try:
                entry = parse_list_line(line, where)
            except ValueError as error:
                refused.append(Quarantined(f"line {number}", split, f"malformed list line: {error}"))
                continue
            if entry.name in first_line:
                refused.append(Quarantined(entry.name, split, f"listed twice ({where}, first at "
                                                              f"line {first_line[entry.name]})"))
                continue
            first_line[entry.name] = number
            if entry.name in earlier_names:
                refused.append(Quarantined(entry.name, split, f"also listed for "
                                                              f"{', '.join(other_splits)}"))
                continue
            entries.append(entry)
    return SplitPlan(split, list_file, entries, refused, blank)


def check_dataset(data_dir: str) -> None:
    """ValueError, naming what is missing and what to do, unless `data_dir` holds the layout
    with at least one sample listed per split. Cheap (reads the list files only): runs before
    any component, so an empty or wrong directory fails in a second, not after TFX starts."""
    if not os.path.isdir(data_dir):
        raise ValueError(f"data directory {data_dir} does not exist: pass --data-dir with a "
                         "directory in the Oxford-IIIT Pet layout, or --demo")
    if not os.path.isdir(os.path.join(data_dir, IMAGES_DIR)):
        raise ValueError(f"data directory {data_dir} has no '{IMAGES_DIR}/' folder: it is not "
                         "the Oxford-IIIT Pet layout (images/, annotations/trimaps/, "
                         "annotations/trainval.txt, test.txt)")
    for split in SPLIT_LISTS:
        try:
            plan = plan_split(data_dir, split)
        except FileNotFoundError as error:
            raise ValueError(str(error)) from None
        if plan.listed == 0:
            raise ValueError(f"{plan.list_file} lists no samples: the {split} split would be "
                             "empty; add samples to it or choose another --data-dir")
