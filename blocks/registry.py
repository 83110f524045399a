"""A name -> object registry that refuses duplicates and names the known entries when asked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from blocks.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Lower-case names registered once; an unknown name raises and lists the known ones."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name != name.lower() or not name:
            raise ValueError(f"{self.what} names are lower-case and non-empty, got {name!r}")
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.what} {name!r}; known: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)
