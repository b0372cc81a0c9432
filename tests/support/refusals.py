"""A refused request changes nothing: the check the use-case tests make around each
refusal."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

import pytest

from infocity.core.errors import AppError


class Unchanged(Protocol):
    """``with unchanged(code, "русский текст"):`` the block fails with ``code`` (and a
    message containing the text, when given) and ``snapshot`` is as it was."""

    def __call__(
        self, code: str, russian: str | None = None
    ) -> contextlib.AbstractContextManager[None]: ...


def refusals_change_nothing(snapshot: Callable[[], object]) -> Unchanged:
    """The ``unchanged`` check for what ``snapshot`` reads (all a use case may write)."""

    @contextlib.contextmanager
    def check(code: str, russian: str | None = None) -> Iterator[None]:
        before = snapshot()
        with pytest.raises(AppError) as caught:
            yield
        assert caught.value.code == code
        if russian is not None:
            assert russian in caught.value.translated()
        assert snapshot() == before

    return check
