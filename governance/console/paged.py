"""Numbered pages of a list for the workflow pages: ``?page=N`` and the filters' text read
safely from the query string, and the links."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request, url_for

from governance.reads.consents import Found

MAX_PAGE = 100_000
MAX_QUERY_TEXT = 200  # a filter's text (a search, an id), stripped and cut to this


@dataclass(frozen=True)
class Pager:
    page: int
    per_page: int
    total: int
    endpoint: str
    args: dict
    param: str = "page"  # the query's name for it (two lists on one page need two)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_shown(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_shown(self) -> int:
        return min(self.total, self.offset + self.per_page)

    def url(self, page: int) -> str:
        return url_for(self.endpoint, **{**self.args, self.param: page})

    @property
    def previous_url(self) -> str | None:
        return self.url(self.page - 1) if self.page > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url(self.page + 1) if self.page < self.pages else None


def query_text(name: str) -> str:
    """``?name=`` as text for a filter: stripped, at most MAX_QUERY_TEXT characters."""
    return (request.args.get(name) or "").strip()[:MAX_QUERY_TEXT]


def whole_number(text: str | None, low: int, high: int) -> int | None:
    """``text`` as a whole number from ``low`` to ``high`` written in ASCII digits, else None
    (``str.isdigit`` alone lets "²" through, which ``int`` refuses)."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))):
        return None
    return int(text) if low <= int(text) <= high else None


def page_number(name: str = "page") -> int:
    """``?page=`` as a number from 1 (anything else reads as the first page)."""
    return whole_number(request.args.get(name), 1, MAX_PAGE) or 1


def paged(read: Callable[[int, int], Found], endpoint: str, per_page: int, args: dict,
          param: str = "page") -> tuple[Pager, list]:
    """The page ``?page=`` (or ``param``) asks for of what ``read(offset, limit)`` finds; a
    page past the end shows the last one."""
    page = page_number(param)
    found = read((page - 1) * per_page, per_page)
    if not found.rows and found.total and page > 1:
        page = -(-found.total // per_page)
        found = read((page - 1) * per_page, per_page)
    return Pager(page, per_page, found.total, endpoint, args, param), found.rows
