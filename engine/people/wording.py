"""How people and counts are put into words for a user.

One wording for the operation log's summaries (``engine.people.facts``) and
the app's notices (``app.describe``): a person by name, or as "an unnamed
person (N photos)", never by an internal id, which means nothing to a user.
Reads only; never writes the catalog.
"""

from engine.catalog import Catalog, FaceState
from engine.errors import FaceAlbumError


def count_words(n: int, noun: str) -> str:
    """"1 face", "2 faces"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def join_words(items: list[str]) -> str:
    """"A", "A and B", "A, B and C", "A, B and 2 others"."""
    if len(items) <= 1:
        return "".join(items)
    if len(items) > 3:
        return f"{', '.join(items[:2])} and {len(items) - 2} others"
    return f"{', '.join(items[:-1])} and {items[-1]}"


def photo_count(cat: Catalog, person_id: int) -> int:
    """Photos holding the person's faces now."""
    return len({f.photo_id for f in cat.faces(person_id=person_id) if f.state is FaceState.FACE})


def person_words(cat: Catalog, person_id: int, photos: int | None = None) -> str:
    """A person by name, or as "an unnamed person (N photos)" (``photos`` when
    the caller counted them at another moment, e.g. before an operation)."""
    try:
        person = cat.person(person_id)
    except FaceAlbumError:
        return "a person who is no longer there"
    if person.name:
        return person.name
    if photos is None:
        photos = photo_count(cat, person_id)
    return f"an unnamed person ({count_words(photos, 'photo')})" if photos else "an unnamed person"
