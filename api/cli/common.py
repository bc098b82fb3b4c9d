"""Shared CLI plumbing: the --db option, clear failures with exit code 2, opening the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar
from uuid import UUID

import click

F = TypeVar("F", bound=Callable[..., Any])


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db",
        envvar="CALEOL_DATABASE_URL",
        default=None,
        help="Database URL (sqlite:///path or postgresql://user@host:port/db). "
        "Default: $CALEOL_DATABASE_URL, else sqlite:///./var/caleol.db.",
    )(func)


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"caleol: {message}", err=True)
    raise SystemExit(code)


def open_app(db: str | None, **kwargs: Any) -> Any:
    from ledger.config import LedgerConfigError
    from ledger.runtime import open_application

    try:
        return open_application(db, **kwargs)
    except LedgerConfigError as e:
        fail(str(e))


def parse_commission_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        fail(f"not a commission id (UUID): {value!r}")


@contextmanager
def app_session(db: str | None, **kwargs: Any) -> Iterator[Any]:
    """The application on ``db`` for one command: a broken rule becomes a clear exit 2."""
    from domain.errors import DomainError

    app = open_app(db, **kwargs)
    try:
        yield app
    except DomainError as e:
        fail(str(e))
    finally:
        app.close()
