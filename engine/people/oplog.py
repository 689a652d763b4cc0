"""The operation log: every user decision, with what it changed, for undo and redo.

A user operation is declared as the state a few rows should have after it
(``Change``); ``commit`` reads the rows' state before, writes the new state and
logs one operation with both, all in the caller's transaction. ``undo`` writes
the "before" side back, ``redo`` the "after" side, so the GUI and the CLI share
one mechanism and an undo restores exactly the facts the operation touched,
whatever automatic clustering did in between. ``next_undo`` and ``next_redo``
say what ``undo`` and ``redo`` would do, for the Edit menu and the CLI alike.

This module never decides anything about people itself, never writes a row
that an operation did not name, and never speaks SQL (``engine.catalog.
operations`` stores the log and writes the rows).
"""

from engine.catalog import Catalog
from engine.catalog.operations import (
    Change,
    FaceFacts,
    append_operation,
    changes_of,
    current_state,
    forget_undone_operations,
    latest_in_effect,
    oldest_undone,
    operations,
    set_undone,
    write_change,
)
from engine.catalog.records import Operation

__all__ = ["Change", "FaceFacts", "commit", "history", "next_redo", "next_undo", "redo", "undo"]


def commit(cat: Catalog, kind: str, summary: str, change: Change) -> Operation:
    """Apply ``change`` and log it as one undoable operation.

    Must run inside ``cat.transaction()``. Any operations that were undone
    and not redone are dropped: a new decision ends the redo branch.
    """
    before = current_state(cat, change)
    write_change(cat, change)
    forget_undone_operations(cat)
    return append_operation(cat, kind, summary, before, change)


def next_undo(cat: Catalog) -> Operation | None:
    """The operation ``undo`` would take back: the latest still in effect."""
    return latest_in_effect(cat)


def next_redo(cat: Catalog) -> Operation | None:
    """The operation ``redo`` would do again: the oldest undone one."""
    return oldest_undone(cat)


def undo(cat: Catalog) -> Operation | None:
    """Take back the latest operation still in effect; None when there is none."""
    with cat.transaction():
        op = next_undo(cat)
        if op is None:
            return None
        before, _ = changes_of(op)
        write_change(cat, before)
        return set_undone(cat, op.id, True)


def redo(cat: Catalog) -> Operation | None:
    """Do again the oldest undone operation; None when nothing was undone."""
    with cat.transaction():
        op = next_redo(cat)
        if op is None:
            return None
        _, after = changes_of(op)
        write_change(cat, after)
        return set_undone(cat, op.id, False)


def history(cat: Catalog, limit: int | None = None) -> list[Operation]:
    """Operations, newest first; undone ones (the redo branch) included."""
    return operations(cat, limit)
