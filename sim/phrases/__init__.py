"""Phrase banks: the words the simulated operator speaks, one YAML file per bank.

``bank_a.yaml`` is the built-in bank, ``bank_b.yaml`` a second operator who words every
correction differently (another register, other verbs, indirect speech). A bank maps every key
of :data:`PHRASE_KEYS` (one kind of correction each) to a list of templates whose
``{placeholders}`` the operator fills (``grasp it by the {region}``). :func:`load_phrase_bank`
checks a file strictly: unknown keys, missing keys (no fallback to the built-in bank: a benchmark
speaks from one bank only), placeholders a key does not have, templates that leave out the words
carrying the meaning, and malformed braces are errors that name the file and the key.

The agent never reads these banks; only the simulated operator (``sim/operator.py``) and the
tools that choose its bank (``robot-agent bench|run --phrases``) do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

PHRASES_DIR = Path(__file__).resolve().parent
#: the built-in phrase bank
BUILTIN_BANK = PHRASES_DIR / "bank_a.yaml"

#: every key of a phrase bank -> the placeholders its templates may use
PHRASE_KEYS: dict[str, frozenset[str]] = {
    "order_open": frozenset({"first", "first_skill"}),
    "order": frozenset({"first", "first_skill"}),
    "grasp_region": frozenset({"region"}),
    "max_speed": frozenset(),
    "max_place_height": frozenset(),
    "min_pull_distance": frozenset(),
    "target": frozenset({"category", "noun", "target"}),
    "target_on": frozenset({"category", "noun", "target"}),
    "target_color": frozenset({"color", "plural", "target"}),
    "target_color_on": frozenset({"color", "plural", "target"}),
    "stack_largest": frozenset({"noun", "plural"}),
    "stack_smallest": frozenset({"noun", "plural"}),
    "near": frozenset({"dir"}),
    "near_small": frozenset({"dir"}),
    "avoid": frozenset({"obj"}),
    "retry": frozenset(),
}
#: placeholders a template of the key must use, as groups of which at least one is needed: the
#: words that carry the meaning (a grasp correction that never names the part says nothing)
PHRASE_REQUIRED: dict[str, tuple[frozenset[str], ...]] = {
    "order_open": (frozenset({"first"}),),
    "order": (frozenset({"first"}), frozenset({"first_skill"})),
    "grasp_region": (frozenset({"region"}),),
    "target": (frozenset({"target"}), frozenset({"category", "noun"})),
    "target_on": (frozenset({"target"}), frozenset({"category", "noun"})),
    "target_color": (frozenset({"color"}), frozenset({"target"})),
    "target_color_on": (frozenset({"color"}), frozenset({"target"})),
    "near": (frozenset({"dir"}),),
    "near_small": (frozenset({"dir"}),),
    "avoid": (frozenset({"obj"}),),
}


class PhraseBankError(ValueError):
    """A phrase bank file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class PhraseBank:
    """The templates the simulated operator speaks from, per kind of correction.

    Attributes:
        name: the bank's name (its file name without ``.yaml``).
        source: where it was loaded from.
        phrases: key -> templates (every key of :data:`PHRASE_KEYS`).
    """

    name: str
    source: str
    phrases: Mapping[str, tuple[str, ...]]

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self.phrases[key]

    def describe(self) -> dict[str, str]:
        """``{"name": ..., "path": ...}``: what the benchmark reports as the bank used."""
        return {"name": self.name, "path": self.source}


def _placeholders(template: str, where: str) -> set[str]:
    try:
        fields = list(Formatter().parse(template))
    except ValueError as exc:  # a lone brace
        raise PhraseBankError(
            f"{where}: {template!r} is not a valid template ({exc}; write a brace as {{{{ or }}}})"
        ) from None
    out = set()
    for _lit, name, spec, conv in fields:
        if name is None:
            continue
        if not name.isidentifier() or spec or conv:
            raise PhraseBankError(
                f"{where}: {template!r} has the placeholder {{{name}{'!' + conv if conv else ''}"
                f"{':' + spec if spec else ''}}}: only plain {{name}} placeholders are allowed"
            )
        out.add(name)
    return out


def phrase_bank_from_dict(data: Any, name: str, source: str = "<memory>") -> PhraseBank:
    """Validate a bank given as ``{key: [template, ...]}``.

    Every key of :data:`PHRASE_KEYS` must be there and no other (a missing key is an error, not a
    fallback to the built-in bank: a benchmark must speak from one bank only); each key holds a
    non-empty list of distinct non-empty strings whose ``{placeholders}`` are among the key's
    (:data:`PHRASE_KEYS`) and include the words that carry the meaning (:data:`PHRASE_REQUIRED`).

    Raises:
        PhraseBankError: naming the source and the key (and the template) at fault.
    """
    if not isinstance(data, Mapping):
        raise PhraseBankError(
            f"{source}: a phrase bank is a mapping of keys to lists of templates, got {type(data).__name__}"
        )
    unknown = sorted(str(k) for k in data if k not in PHRASE_KEYS)
    if unknown:
        raise PhraseBankError(f"{source}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(PHRASE_KEYS)}")
    missing = [k for k in PHRASE_KEYS if k not in data]
    if missing:
        raise PhraseBankError(
            f"{source}: missing key(s) {', '.join(missing)}: a bank must phrase every key "
            f"(copy {BUILTIN_BANK.name} and reword it)"
        )
    phrases: dict[str, tuple[str, ...]] = {}
    for key, allowed in PHRASE_KEYS.items():
        where = f"{source}: {key}"
        items = data[key]
        if not isinstance(items, list) or not items:
            raise PhraseBankError(f"{where}: expected a non-empty list of templates, got {items!r}")
        seen: list[str] = []
        for i, t in enumerate(items):
            if not isinstance(t, str) or not t.strip():
                raise PhraseBankError(f"{where}[{i}]: expected a non-empty string, got {t!r}")
            used = _placeholders(t, f"{where}[{i}]")
            bad = sorted(used - allowed)
            if bad:
                raise PhraseBankError(
                    f"{where}[{i}]: {t!r} uses unknown placeholder(s) "
                    f"{', '.join('{' + b + '}' for b in bad)}; {key} may use "
                    f"{', '.join('{' + a + '}' for a in sorted(allowed)) or 'none'}"
                )
            for group in PHRASE_REQUIRED.get(key, ()):
                if not used & group:
                    raise PhraseBankError(
                        f"{where}[{i}]: {t!r} must use {' or '.join('{' + g + '}' for g in sorted(group))}"
                    )
            if t.strip() in seen:
                raise PhraseBankError(f"{where}[{i}]: {t!r} is listed twice")
            seen.append(t.strip())
        phrases[key] = tuple(seen)
    return PhraseBank(name, source, phrases)


def resolve_phrase_bank(spec: str | Path) -> Path:
    """A bank file from a path, or from a bank's name in ``sim/phrases`` (``bank_b``)."""
    p = Path(spec)
    if p.is_file():
        return p
    named = PHRASES_DIR / f"{spec}.yaml"
    if p.name == str(spec) and named.is_file():
        return named
    banks = ", ".join(sorted(q.stem for q in PHRASES_DIR.glob("*.yaml")))
    raise PhraseBankError(f"{spec}: no such phrase bank file (the shipped banks: {banks})")


def load_phrase_bank(path: str | Path) -> PhraseBank:
    """Load and validate a phrase bank YAML file (or a shipped bank by name: ``bank_b``).

    Raises:
        PhraseBankError: the file is missing, is not YAML, or fails :func:`phrase_bank_from_dict`.
    """
    p = resolve_phrase_bank(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PhraseBankError(f"{p}: cannot read the phrase bank: {exc}") from None
    return phrase_bank_from_dict(data, p.stem, str(p))


#: the built-in bank (bank A)
DEFAULT_BANK = load_phrase_bank(BUILTIN_BANK)
