"""The merchant's choice per kind: a WeChat template id, the page it opens, which variable fills each field.

A kind without a template is off: its events are not recorded as notifications.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.core import clock, db
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.notify import fields as wechat_fields
from chalicelib.notify.kinds import KINDS, Kind
from chalicelib.notify.models import STAFF, FieldSpec, NotifySetting

MAX_RECIPIENTS = 20  # staff per staff kind: their items are written in one transaction with the alert


@dataclass(frozen=True)
class Template:
    kind: str
    template_id: str
    page: str | None
    fields: tuple[tuple[str, str], ...]  # (WeChat data key, variable)
    recipients: tuple[str, ...] = field(default=())

    def render(self, values: dict) -> dict[str, dict[str, str]]:
        """WeChat's `data`: each field's variable fitted to the field's type."""
        return {key: {"value": wechat_fields.fit(key, values.get(source))} for key, source in self.fields}


def _name(kind: str) -> str:
    return f"template#{kind}"


def kind_named(kind: str) -> Kind:
    if kind not in KINDS:
        raise NotFound(f"no notification kind {kind!r}", code="KIND_NOT_FOUND")
    return KINDS[kind]


def load(kind: str) -> Template | None:
    item = db.get_or_none(NotifySetting, _name(kind), consistent=False)
    if item is None or not item.template_id:
        return None
    return Template(kind, item.template_id, item.page, tuple((f.key, f.source) for f in item.fields or []),
                    tuple(item.recipients or ()))


class TemplateCache:
    """Templates read once per batch of events (a stream batch names the same few kinds many times)."""

    def __init__(self) -> None:
        self._seen: dict[str, Template | None] = {}

    def get(self, kind: str) -> Template | None:
        if kind not in self._seen:
            self._seen[kind] = load(kind)
        return self._seen[kind]


def save(kind_name: str, template_id: str, page: str | None, field_map: list[tuple[str, str]],
         recipients: list[str], actor: str) -> Template:
    kind = kind_named(kind_name)
    problems = [f"{key}: not a WeChat data key (thing1, amount2, time3, ...)" for key, _ in field_map
                if wechat_fields.field_type(key) is None]
    problems += [f"{key}: {kind.name} has no variable {source!r} (it has {', '.join(kind.variables)})"
                 for key, source in field_map if source not in kind.variables]
    if len({key for key, _ in field_map}) != len(field_map):
        problems.append("a data key is mapped twice")
    if recipients and kind.audience != STAFF:
        problems.append(f"{kind.name} goes to the buyer the event names; recipients are for staff kinds")
    if len(recipients) > MAX_RECIPIENTS:
        problems.append(f"at most {MAX_RECIPIENTS} recipients")
    elif recipients and kind.audience == STAFF:
        from chalicelib.members import service as members  # lazy: only a staff kind's settings read users

        problems += [f"{user_id}: no such user (a recipient logs in to the mini-program once first)"
                     for user_id in dict.fromkeys(recipients) if members.openid_of(user_id) is None]
    if problems:
        raise BadRequest("; ".join(problems), code="INVALID_TEMPLATE",
                         details=[{"message": problem} for problem in problems])
    NotifySetting(_name(kind.name), template_id=template_id, page=page,
                  fields=[FieldSpec(key=key, source=source) for key, source in field_map],
                  recipients=list(dict.fromkeys(recipients)) or None, updated_by=actor,
                  updated_at=clock.now()).save()
    return Template(kind.name, template_id, page, tuple(field_map), tuple(dict.fromkeys(recipients)))


def remove(kind_name: str) -> None:
    NotifySetting(_name(kind_named(kind_name).name)).delete()


def every_kind() -> list[tuple[Kind, Template | None]]:
    return [(kind, load(kind.name)) for kind in KINDS.values()]
