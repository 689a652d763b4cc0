"""People: clustering faces into persons, the user's facts about them, undo and redo.

The public API of the people part of the engine. Every user operation takes
a ``Catalog`` first, runs in one catalog transaction and appends one row to
the ``operations`` table, so ``undo`` and ``redo`` replay it. Clustering
(``update_people`` after a scan, ``recluster`` on request) writes automatic
assignments only and never contradicts a fact. Long work is a generator of
``Progress`` that stops between items when its ``CancelToken`` is set.

Nothing here imports Qt or prints.
"""

from engine.catalog.records import Operation
from engine.people.cluster import (
    DEFAULT_STRICTNESS,
    ClusterParams,
    ClusterParamsError,
    params_for_strictness,
    threshold_for_strictness,
)
from engine.people.facts import (
    FACE_STATES,
    MergePlan,
    PeopleError,
    confirm_faces,
    hide_person,
    mark_faces,
    merge_people,
    name_person,
    plan_merge,
    reject_faces,
    set_cover,
    split_faces,
)
from engine.people.oplog import history, next_redo, next_undo, redo, undo
from engine.people.queries import (
    PersonRow,
    PersonSummary,
    people,
    people_rows,
    person_faces,
    rejected_faces,
    unassigned_count,
    unassigned_faces,
)
from engine.people.suggest import Suggestion, first_with_suggestions, suggest
from engine.people.update import (
    AssignIndex,
    load_vectors,
    preview_cluster_count,
    recluster,
    update_people,
)

__all__ = [
    "DEFAULT_STRICTNESS",
    "FACE_STATES",
    "AssignIndex",
    "ClusterParams",
    "ClusterParamsError",
    "MergePlan",
    "Operation",
    "PeopleError",
    "PersonRow",
    "PersonSummary",
    "Suggestion",
    "confirm_faces",
    "first_with_suggestions",
    "hide_person",
    "history",
    "load_vectors",
    "mark_faces",
    "merge_people",
    "name_person",
    "next_redo",
    "next_undo",
    "params_for_strictness",
    "people",
    "people_rows",
    "person_faces",
    "plan_merge",
    "preview_cluster_count",
    "recluster",
    "redo",
    "reject_faces",
    "rejected_faces",
    "set_cover",
    "split_faces",
    "suggest",
    "threshold_for_strictness",
    "unassigned_count",
    "unassigned_faces",
    "undo",
    "update_people",
]
