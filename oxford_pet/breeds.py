"""The 37 breeds of the Oxford-IIIT Pet dataset, in the order of their class ids.

Cat breed names start with a capital letter, dog breeds with a lowercase one (as in the
dataset's list files). Class id = position + 1; breed id = position within its species + 1.
"""

from typing import NamedTuple, Tuple

BREED_NAMES: Tuple[str, ...] = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle",
    "Bengal", "Birman", "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau",
    "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees",
    "havanese", "japanese_chin", "keeshond", "leonberger", "Maine_Coon", "miniature_pinscher",
    "newfoundland", "Persian", "pomeranian", "pug", "Ragdoll", "Russian_Blue", "saint_bernard",
    "samoyed", "scottish_terrier", "shiba_inu", "Siamese", "Sphynx",
    "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier",
)
CAT, DOG = 1, 2  # species ids as the list files write them


class Breed(NamedTuple):
    name: str
    class_id: int  # 1..37
    species: int  # 1 cat, 2 dog
    breed_id: int  # 1..12 among cats, 1..25 among dogs


def species_of(name: str) -> int:
    return CAT if name[0].isupper() else DOG


def _breeds() -> Tuple[Breed, ...]:
    counts = {CAT: 0, DOG: 0}
    result = []
    for index, name in enumerate(BREED_NAMES):
        species = species_of(name)
        counts[species] += 1
        result.append(Breed(name, index + 1, species, counts[species]))
    return tuple(result)


BREEDS: Tuple[Breed, ...] = _breeds()
BY_NAME = {breed.name: breed for breed in BREEDS}


def breed_of_image(image_name: str) -> Breed:
    """'Abyssinian_12' -> the Abyssinian breed (the name minus its trailing number)."""
    return BY_NAME[image_name.rsplit("_", 1)[0]]
