"""Core rows into the ORM session, for the few statements that run on every answer.

The ORM's own loading costs several times the query on SQLite (about 0.2–0.3 ms an entity
here). The hot path of a checklist answer (who is this Telegram user, lock the draft, may they
fill it, save it) therefore runs Core statements built once, and hands the rows to the session
with ``adopt``: the object becomes persistent exactly as if a query had loaded it (SQLAlchemy's
``make_transient_to_detached`` contract: no history, missing columns expired), so everything
after it (relationships, later changes, flushes) behaves as usual. ``store`` is the matching
write: a Core UPDATE whose values become the object's committed state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value

T = TypeVar("T")


def table(model: Any) -> Table:
    """Return the table of a sqlmodel model class (typed: mypy does not see ``__table__`` on SQLModel)."""
    return model.__table__


def columns(model: Any, prefix: str = "") -> list:
    """Return the model's table columns, labelled ``<prefix><name>`` when a prefix is given."""
    return [column.label(prefix + column.key) if prefix else column for column in table(model).columns]


def adopt(session: Session, model: type[T], values: Mapping[str, Any]) -> T:
    """Return the session's ``model`` instance for a row's values, as if a query had just loaded it.

    An instance the session already holds is refreshed with the values (like
    ``populate_existing``); otherwise a new one is made and attached without any query.
    """
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key([values[column.key] for column in mapper.primary_key])
    instance = session.identity_map.get(key)
    if instance is not None:
        for name, value in values.items():
            set_committed_value(instance, name, value)
        return instance
    instance = mapper.class_manager.new_instance()
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def first(session: Session, statement, params: Mapping[str, Any]):
    """Run a Core statement on the session's connection and return its first row as a mapping (or None).

    Pending changes are flushed first, as an ORM query would (autoflush).
    """
    session.flush()
    return session.connection().execute(statement, params).mappings().first()


def prefixed(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Return the values of a row's ``<prefix>``-labelled columns, without the prefix."""
    size = len(prefix)
    return {name[size:]: value for name, value in row.items() if name.startswith(prefix)}


def store(session: Session, instance: Any, statement, values: Mapping[str, Any], **where: Any) -> None:
    """Run a Core UPDATE of ``values`` on the session's connection and make them the instance's committed state.

    ``statement`` is an ``update(table).where(...)`` built once; ``where`` are its bound
    parameters. Nothing is flushed: the values are in the database and the instance is not dirty.
    """
    session.connection().execute(statement, {**where, **values})
    for name, value in values.items():
        set_committed_value(instance, name, value)
