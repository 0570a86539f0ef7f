"""Pages of a long list: `?page=N` (and `?pageSize=`) read leniently, links that keep the rest of
the query, and a small labelled navigation: "Page 2 of 7", Previous, Next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from rlarena.web.markup import Html, tag

MAX_PAGE = 1_000_000  # as the API's own limit
MAX_PAGE_SIZE = 100


def number(args: Mapping[str, str], name: str, default: int, largest: int) -> int:
    """A positive whole number from the query, `default` when absent or not one, at most `largest`."""
    raw = args.get(name, "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) == 0:
        return default
    return min(int(raw), largest)


@dataclass(frozen=True)
class Paging:
    """Which page of a list is shown: `page` (from 1) of `size` items, out of `total`."""

    page: int
    size: int
    total: int = 0

    @classmethod
    def of(cls, args: Mapping[str, str], default_size: int, param: str = "page") -> Paging:
        size = number(args, "pageSize", default_size, MAX_PAGE_SIZE) if param == "page" else default_size
        return cls(number(args, param, 1, MAX_PAGE), size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def counted(self, total: int) -> Paging:
        return Paging(self.page, self.size, total)


def link(args: Mapping[str, str], **changes: int | str | None) -> str:
    """This page's query with `changes` (None drops a parameter): `?sort=elo&page=2`."""
    query = {**args, **{key: str(value) for key, value in changes.items() if value is not None}}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
    return "?" + urlencode(query) if query else "?"


def pager(paging: Paging, args: Mapping[str, str], label: str, param: str = "page") -> Html:
    """Previous and next links around "Page N of M" (nothing for a single page)."""
    if paging.pages <= 1 and paging.page == 1:
        return Html("")
    previous = (
        tag("a", "Previous", href=link(args, **{param: paging.page - 1 if paging.page > 2 else None}), rel="prev")
        if paging.page > 1
        else ""
    )
    following = (
        tag("a", "Next", href=link(args, **{param: paging.page + 1}), rel="next") if paging.page < paging.pages else ""
    )
    where = tag("span", f"Page {paging.page} of {paging.pages}", aria_current="page")
    return tag("nav", previous, " ", where, " ", following, class_="pager", aria_label=label)
