"""Stored values as people read them: choice labels from the forms, in the reader's language.

A select question stores `rented`; the register, the submission pages and the exports for people
show "租住" (or "Rented"). Labels come from the forms themselves (forms.choices), so a designer's
new choice needs no code; the few values the server itself writes (a person's status, the sex
the household form calculates from the ID number) have their words in the catalogue here.
Data exports keep the raw values.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from forms.choices import ChoiceLabels, choice_labels, pick_label
from server.extensions import db
from server.i18n import N_, current_locale, translate
from server.models import FormVersion

#: Values written by the server or by a calculation, not chosen from a list: property -> value
#: -> English text (translated through the catalogue).
SERVER_VALUES: dict[str, dict[str, str]] = {
    "status": {"resident": N_("Resident"), "departed": N_("Departed")},
    "sex": {"male": N_("Male"), "female": N_("Female")},
}
_PARSED: dict[tuple[int, str], ChoiceLabels] = {}  # (version id, md5): an XForm never changes


def for_version(version: FormVersion) -> ChoiceLabels:
    """Question path -> value -> language -> label, parsed once per form version."""
    key = (version.id, version.md5)
    if key not in _PARSED:
        try:
            _PARSED[key] = choice_labels(version.xform)
        except ValueError:  # an XForm we could store but not read back: values stay raw
            _PARSED[key] = {}
    return _PARSED[key]


def for_dataset(dataset: str) -> dict[str, dict[str, dict[str, str]]]:
    """Entity property -> value -> labels, from every form that saves to `dataset` (the newest
    version's words win)."""
    versions = db.session.scalars(
        sa.select(FormVersion)
        .where(FormVersion.state.in_(("published", "superseded")))
        .order_by(FormVersion.id)
    )
    out: dict[str, dict[str, dict[str, str]]] = {}
    for version in versions:
        declared = [e for e in version.entities or [] if e.get("dataset") == dataset]
        if not declared:
            continue
        labels = for_version(version)
        for entity in declared:
            for prop, path in (entity.get("properties") or {}).items():
                if path in labels:
                    out.setdefault(prop, {}).update(labels[path])
    return out


def shown(value: Any, labels: dict[str, dict[str, str]] | None, *, name: str = "",
          locale: str | None = None) -> Any:
    """`value` in words: each of a select_multiple's space-separated values is looked up;
    a value without a label is shown as it is."""
    if value is None or value == "" or not isinstance(value, str):
        return value
    locale = locale or current_locale()
    server_words = SERVER_VALUES.get(name, {})

    def word(part: str) -> str:
        if labels and part in labels:
            return pick_label(labels[part], locale) or part
        if part in server_words:
            return translate(server_words[part], locale)
        return part

    parts = value.split()
    if len(parts) > 1 and all((labels and p in labels) or p in server_words for p in parts):
        return "、".join(word(p) for p in parts) if locale.startswith("zh") else ", ".join(
            word(p) for p in parts)
    return word(value)


def record_in_words(record: Any, version: FormVersion) -> Any:
    """A flattened submission (server.services.submissions.exports.Record) with every select
    answer in words, for the submission page; exports for data keep the raw values."""
    labels = for_version(version)
    root = next(iter(labels), "/data/").split("/")[1]
    # A calculated answer saved to an entity property (p_status -> persons#status) is in words
    # under the property's name (SERVER_VALUES).
    saved_as = {path: prop for entity in version.entities or []
                for prop, path in (entity.get("properties") or {}).items()}

    def words(row: dict[str, str], prefix: str) -> dict[str, Any]:
        return {k: v if k in ("key", "parent_key") else
                shown(v, labels.get(f"{prefix}/{k}"),
                      name=saved_as.get(f"{prefix}/{k}", k.rsplit("/", 1)[-1]))
                for k, v in row.items()}

    return type(record)(words(record.main, f"/{root}"), {
        name: [words(row, f"/{root}/{name}") for row in rows]
        for name, rows in record.repeats.items()})


class DatasetWords:
    """The labels of one entity list, read once per page (templates call it per cell)."""

    def __init__(self, dataset: str) -> None:
        self.labels = for_dataset(dataset)

    def __call__(self, name: str, value: Any) -> Any:
        return shown(value, self.labels.get(name), name=name)
