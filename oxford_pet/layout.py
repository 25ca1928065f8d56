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

DIR may be a gs:// URI (on Vertex AI it is): every read goes through storage/files.py.
"""

import codecs
import hashlib
import os
import re
import unicodedata
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from storage import files

IMAGES_DIR = "images"
ANNOTATIONS_DIR = "annotations"
TRIMAPS_DIR = os.path.join(ANNOTATIONS_DIR, "trimaps")
XMLS_DIR = os.path.join(ANNOTATIONS_DIR, "xmls")  # head boxes, trainval images only
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
    name = fields[0]
    control = [ch for ch in name if unicodedata.category(ch) == "Cc"]
    if control:
        raise ValueError(f"{where}: the name {name!r} holds the control character "
                         f"U+{ord(control[0]):04X}" + (" (NUL)" if control[0] == "\0" else "")
                         + ", which no file name on disk has: fix the list line")
    if any(ch in name for ch in "/\\") or name.startswith("."):
        raise ValueError(f"{where}: the name {name!r} is not a file name (no '/', '\\', or "
                         "leading '.'): images are images/<name>.jpg")
    return ListEntry(name, class_id, species, breed_id)


# Byte order marks, longest first (UTF-32 LE's starts with UTF-16 LE's): the encoding they say.
BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                    (codecs.BOM_UTF16_BE, "utf-16-be"))


def as_utf8(data: bytes, path: str) -> bytes:
    """A list file's bytes as UTF-8 without a byte order mark. A UTF-16 or UTF-32 file with
    its byte order mark (what some Windows editors save) is decoded as the mark says; one
    without a mark (every other byte NUL) is refused as a whole, in one ValueError that says
    how to save it. A stray NUL stays, for the line's own reason."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                text = data[len(mark):].decode(encoding)
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}: starts with a {encoding.upper()} byte order mark but "
                                 f"is not {encoding.upper()} text ({error.reason} at byte "
                                 f"{error.start + len(mark)}): save it as UTF-8") from None
            return text.encode("utf-8")
    if data[1::2].count(0) > len(data) // 4 or data[0::2].count(0) > len(data) // 4:
        raise ValueError(f"{path}: every other byte is NUL, as in UTF-16 text without a byte "
                         "order mark: save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8)")
    return data


def list_lines(path: str) -> Iterator[Tuple[int, Optional[str]]]:
    """(line number, text) for every line of a list file that is not blank or a '#' comment.

    Tolerates what editors and other systems write: a UTF-8 byte order mark, CRLF or CR line
    ends, spaces or tabs around fields and before '#'. A line that is not UTF-8 comes as
    (number, None), so the caller can say which line it was.
    """
    data = as_utf8(files.read_bytes(path), path)
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None
            continue
        if line.strip() and not line.strip().startswith("#"):
            yield number, line


def _require_list_file(path: str) -> None:
    if not files.isfile(path):
        raise FileNotFoundError(
            f"list file {path} not found: the data directory must hold the dataset's "
            f"'{ANNOTATIONS_DIR}/' folder (trainval.txt, test.txt) as the archives unpack it")


def read_list(path: str) -> List[ListEntry]:
    """All entries of a list file, skipping '#' header lines and blank lines (strict: the
    first bad line is a ValueError naming it)."""
    _require_list_file(path)
    entries = []
    for number, line in list_lines(path):
        if line is None:
            raise ValueError(f"{path}:{number}: not UTF-8 text")
        entries.append(parse_list_line(line, f"{path}:{number}"))
    return entries


def write_list(path: str, entries: List[ListEntry], header: str = "") -> None:
    files.makedirs(os.path.dirname(path))
    files.write_text(path, header + "".join(entry.to_line() + "\n" for entry in entries))


# What ingest counts per split (ingest_report.json, the examples' custom properties
# "<split>_<count>"): listed = ingested + quarantined; of the ingested, how many were repaired
# and how many are nearly constant (records.NEARLY_CONSTANT_STD).
INGEST_COUNTS = ("listed", "ingested", "repaired", "quarantined", "constant")


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
    if not files.isfile(path):
        return set()
    return {line.split()[0] for _, line in list_lines(path) if line is not None}


def _count_blank_lines(path: str) -> int:
    return sum(1 for raw in as_utf8(files.read_bytes(path), path).splitlines()
               if not raw.strip())


def plan_split(data_dir: str, split: str) -> SplitPlan:
    """Reads a split's list file leniently: every non-blank, non-comment line is accounted for.

    Malformed lines (and lines that are not UTF-8), a name listed twice in the file, and (for
    `eval`) a name also listed for `train` are refused with a reason; the rest are returned in
    file order.
    """
    list_file = os.path.join(data_dir, SPLIT_LISTS[split])
    _require_list_file(list_file)
    other_splits = list(SPLIT_LISTS)[:list(SPLIT_LISTS).index(split)]  # the splits before it
    earlier_names = set().union(*(_names_in(os.path.join(data_dir, SPLIT_LISTS[s]))
                                  for s in other_splits))
    entries, refused, first_line = [], [], {}
    for number, line in list_lines(list_file):
        where = f"{SPLIT_LISTS[split]}:{number}"
        if line is None:
            refused.append(Quarantined(f"line {number}", split,
                                       f"malformed list line: {where} is not UTF-8 text"))
            continue
        try:
            entry = parse_list_line(line, where)
        except ValueError as error:
            refused.append(Quarantined(f"line {number}", split, f"malformed list line: {error}"))
            continue
        if entry.name in first_line:
            refused.append(Quarantined(entry.name, split, f"listed twice: {where} repeats line "
                                                          f"{first_line[entry.name]}, which is "
                                                          "used"))
            continue
        first_line[entry.name] = number
        if entry.name in earlier_names:
            refused.append(Quarantined(entry.name, split, f"also listed for "
                                                          f"{', '.join(other_splits)} ({where}); "
                                                          "used there only"))
            continue
        entries.append(entry)
    return SplitPlan(split, list_file, entries, refused, _count_blank_lines(list_file))


def check_dataset(data_dir: str, span_pattern: Optional[str] = None) -> None:
    """ValueError, naming what is missing and what to do, unless `data_dir` holds the layout
    with at least one sample listed per split (with `span_pattern`: unless its latest span
    does). Cheap (reads the list files only): runs before any component, so an empty or wrong
    directory fails in a second, not after TFX starts."""
    if not files.isdir(data_dir):
        raise ValueError(f"data directory {data_dir} does not exist: pass --data-dir with a "
                         "directory in the Oxford-IIIT Pet layout, or --demo")
    if span_pattern:
        _, data_dir = latest_span(data_dir, span_pattern)
    if not files.isdir(os.path.join(data_dir, IMAGES_DIR)):
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


def _span_regex(pattern: str) -> "re.Pattern":
    """TFX's span/version placeholders ({SPAN}, {SPAN:4}, {VERSION}, {VERSION:2}) as groups."""
    def group(match: "re.Match") -> str:
        digits = f"{{{match.group(2)}}}" if match.group(2) else "+"
        return f"(?P<{match.group(1).lower()}>\\d{digits})"

    parts = re.split(r"(\{(?:SPAN|VERSION)(?::\d+)?\})", pattern)
    return re.compile("".join(
        re.sub(r"\{(SPAN|VERSION)(?::(\d+))?\}", group, part) if index % 2 else re.escape(part)
        for index, part in enumerate(parts)) + "$")


def latest_span(root: str, pattern: str = SPAN_PATTERN) -> Tuple[int, str]:
    """(span, directory) that TFX's ExampleGen driver will read under `root`: for each split,
    the highest span (then version) whose list file exists; they must agree.

    ValueError, saying what to do, when no span is complete or the splits disagree (a span
    still being written). Lists directories and checks that the list files exist.
    """
    regex = _span_regex(pattern)
    found: Dict[str, Tuple[int, int, str]] = {}
    for split, list_file in SPLIT_LISTS.items():
        wildcard = re.sub(r"\{(SPAN|VERSION)(:\d+)?\}", "*", pattern)
        best = None
        for directory in files.glob(os.path.join(_glob_escape(root), wildcard)):
            match = regex.match(directory[len(root.rstrip("/")) + 1:])
            if match and files.isfile(os.path.join(directory, list_file)):
                key = (int(match.group("span")),
                       int(match.groupdict().get("version") or 0), directory)
                best = key if best is None or key > best else best
        if best is None:
            example = os.path.join(root, pattern.replace("{SPAN}", "1"))
            raise ValueError(f"data directory {root} has no span matching {pattern!r} with "
                             f"{list_file}: spans are directories like {example} in the "
                             "Oxford-IIIT Pet layout (python -m oxford_pet make-demo-data "
                             f"{root} --span 1 writes one)")
        found[split] = best
    if len({(span, version) for span, version, _ in found.values()}) != 1:
        described = ", ".join(f"{split} {span}" for split, (span, _, _) in found.items())
        raise ValueError(f"the latest spans under {root} differ by split ({described}): a "
                         "span needs every list file (annotations/trainval.txt, test.txt); "
                         "finish writing the newest one or remove it")
    span, _, directory = next(iter(found.values()))
    return span, directory


def _glob_escape(path: str) -> str:
    """glob.escape for any filesystem: the metacharacters in brackets (a URI's scheme kept)."""
    return re.sub(r"([*?[])", r"[\1]", path)


def listed_files_fingerprint(data_dir: str, split: str) -> str:
    """One line that changes when any image or trimap listed for `split` changes: their count,
    total size and a digest of every (name, size, modification time in ns); absent files
    count too. Stats only, no reading: a hash of the contents costs several times as much on
    every run, cached reruns too, and grows with the bytes (bench/FINGERPRINT.md has the
    measurement).
    """
    digest = hashlib.sha256()
    total = missing = 0
    listed = [(entry.name, kind, path) for entry in plan_split(data_dir, split).entries
              for kind, path in (("image", image_path(data_dir, entry.name)),
                                 ("trimap", trimap_path(data_dir, entry.name)))]
    stats = files.stats([path for _, _, path in listed])
    for name, kind, path in listed:
        if stats[path] is None:
            missing += 1
            stamp = "missing"
        else:
            stamp = f"{stats[path][0]}\0{stats[path][1]}"
            total += stats[path][0]
        digest.update(f"{name}\0{kind}\0{stamp}\n".encode("utf-8", "replace"))
    return (f"split:{split},listed_files:{len(listed)},missing:{missing},total_bytes:{total},"
            f"sha256:{digest.hexdigest()[:32]}")
