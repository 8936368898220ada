"""What every stage's settings objects share: each is one frozen dataclass per config section,
built from exactly the dict its rule passes in ``params:`` (so the rule's params, and with them
Snakemake's rerun decisions, stay plain config values), instead of a dozen keyword parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import ClassVar


class SectionSettings:
    """Mixin for a frozen dataclass of one config section: :meth:`from_params` checks the keys.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, kw_only=True)
    ... class Example(SectionSettings):
    ...     SECTION = "generation.example"
    ...     steps: int
    ...     eta: float = 0.0
    >>> Example.from_params({"steps": 2})
    Example(steps=2, eta=0.0)
    >>> Example.from_params({"steps": 2, "stepz": 3, "seed": 0})
    Traceback (most recent call last):
    ...
    ValueError: generation.example has no setting(s) seed, stepz (its settings: eta, steps)
    >>> Example.from_params({})
    Traceback (most recent call last):
    ...
    ValueError: generation.example needs the setting(s) steps
    """

    SECTION: ClassVar[str]  # the config section, for the error messages

    @classmethod
    def from_params(cls, params: Mapping[str, object]):
        """The settings from a rule's ``params`` dict; unknown or missing keys are one ValueError."""
        known = {field.name: field for field in fields(cls)}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(f"{cls.SECTION} has no setting(s) {', '.join(unknown)} "
                             f"(its settings: {', '.join(sorted(known))})")
        missing = sorted(name for name, field in known.items() if name not in params
                         and field.default is MISSING and field.default_factory is MISSING)
        if missing:
            raise ValueError(f"{cls.SECTION} needs the setting(s) {', '.join(missing)}")
        return cls(**params)

    @classmethod
    def from_section(cls, section: Mapping[str, object]):
        """The settings from a whole config section, of which they take their own keys (tests;
        a rule passes only its keys, so that editing another key of the section re-runs nothing)."""
        return cls.from_params({field.name: section[field.name] for field in fields(cls) if field.name in section})
