"""The case registry: every check has a stable id and is the unit that is counted and excluded."""

import importlib
from collections.abc import Callable
from dataclasses import dataclass

CaseFn = Callable[[str], None]


@dataclass(frozen=True)
class Case:
    """One check: `fn(scratch_dir)` returns on success and raises on failure.

    Attributes: id is stable across runs (`syscall/subject/EXPECT`), so expectation files can name it.
    """

    id: str
    fn: CaseFn


CASES: dict[str, Case] = {}


def add(case_id: str, fn: CaseFn) -> None:
    """Register a case; a duplicate id is a programming error, because ids must stay unique."""
    if case_id in CASES:
        raise ValueError(f"duplicate case id {case_id}")
    CASES[case_id] = Case(case_id, fn)


def case(case_id: str) -> Callable[[CaseFn], CaseFn]:
    """Decorator form of `add` for hand-written cases."""

    def register(fn: CaseFn) -> CaseFn:
        """Register `fn` under the id and hand it back unchanged."""
        add(case_id, fn)
        return fn

    return register


def all_cases() -> list[Case]:
    """Every registered case in id order, after importing the case modules that register them."""
    from posix_tests.cases import MODULES

    for name in MODULES:
        importlib.import_module(f"posix_tests.cases.{name}")
    return [CASES[k] for k in sorted(CASES)]
