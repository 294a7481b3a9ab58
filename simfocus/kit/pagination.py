"""Pagination of list endpoints: page/per_page in, a ``Pagination`` block out."""

from __future__ import annotations

from math import ceil

from pydantic import Field

from simfocus.kit.models import InputModel, ValueModel

MAX_PER_PAGE = 100


class PageParams(InputModel):
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


class Pagination(ValueModel):
    page: int
    per_page: int
    total: int
    total_pages: int

    @classmethod
    def of(cls, params: PageParams, total: int) -> Pagination:
        return cls(
            page=params.page,
            per_page=params.per_page,
            total=total,
            total_pages=ceil(total / params.per_page) if total else 0,
        )
