"""The people sections of an organisation-file apply: users, role assignments, participants,
enrollments, case involvements and consents.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select

from governance.audit import canonical
from governance.clock import iso
from governance.db import FILE
from governance.models import Consent, Participant, User
from governance.operations.apply_plan import _key
from governance.orgfile.schema import ConsentSpec


class PeopleSections:
    """Mixed into ``ApplyOrganisation``: uses its spec, session, actor, now, progress,
    ``_record``, ``_conflict``, ``_file_reason`` and its bulk helpers."""

    def _users(self) -> None:
        current = {u.id: u for u in self.session.scalars(select(User))}
        for spec in self.spec.users:
            row = current.get(spec.id)
            if row is None:
                row = User(id=spec.id, source=FILE, name=spec.name, email=spec.email)
                self.session.add(row)
                if not spec.active:
                    self._disable(row, "active: false in the organisation file")
                self._record("users", "create", spec.id, subject=spec.id)
                continue
            if row.source != FILE:
                self._conflict(f"user {spec.id} belongs to the {row.source};",
                               f"left as the {row.source} keeps it")
                continue
            diff = {k: v for k, v in (("name", spec.name), ("email", spec.email))
                    if getattr(row, k) != v}
            for k, v in diff.items():
                setattr(row, k, v)
            if spec.active and not row.active and row.disabled_via not in (None, FILE):
                self._conflict(f"user {spec.id} was disabled on {iso(row.disabled_at)} by "
                               f"{row.disabled_by} ({row.disabled_reason});", "left disabled")
            elif spec.active != row.active:
                diff["active"] = spec.active
                if spec.active:
                    row.active = True
                    row.disabled_at = row.disabled_by = row.disabled_via = None
                    row.disabled_reason = None
                else:
                    self._disable(row, "active: false in the organisation file")
            if diff:
                self._record("users", "update", spec.id, diff, subject=spec.id)
        listed = {u.id for u in self.spec.users}
        for key, row in current.items():
            if key not in listed and row.source == FILE and row.active:
                self._disable(row, self._file_reason)
                self._record("users", "disable", key, subject=key)
        self.progress("users", len(self.spec.users))

    def _disable(self, row: User, reason: str) -> None:
        row.active, row.disabled_at, row.disabled_by = False, self.now, self.actor
        row.disabled_via, row.disabled_reason = FILE, reason

    def _participants(self) -> None:
        existing = set(self.session.scalars(select(Participant.id)))
        new = [{"id": p.id, "source": "file", "created_at": self.now}
               for p in self.spec.participants if p.id not in existing]
        self._bulk_insert(Participant, "participants", new)
        for row in new:
            self._record("participants", "create", row["id"])

    def _windowed(self, model, section: str, desired: dict[tuple, dict], key, *,
                  who, identity=None, what: str = "") -> None:
        """Time-stamped rows: create what is missing, end what the file no longer lists.
        ``identity`` (the key without its window) finds what something else ended: such an
        entry is created again only if its ``from`` is later than that end."""
        rows = self.session.execute(select(model).where(
            model.ended_at.is_(None), model.source == FILE)).scalars()
        current = {key(r): r.id for r in rows}
        ended = self._ended_elsewhere(model, lambda r: identity(key(r))) if identity else {}
        new = []
        for k in sorted(desired.keys() - current.keys(), key=_key):
            attrs, end = desired[k], ended.get(identity(k)) if identity else None
            if end is not None and (attrs["valid_from"] is None
                                    or attrs["valid_from"] <= end.ended_at):
                self._conflict(f"{what} {_key(identity(k))} was ended on {iso(end.ended_at)} "
                               f"by {end.ended_by} ({end.end_reason});", "left ended")
                continue
            new.append(dict(attrs, source=FILE, created_at=self.now))
            subject, participant = who(k)
            self._record(section, "create", _key(k), subject=subject, participant=participant)
        stale = [row_id for k, row_id in current.items() if k not in desired]
        for k in sorted(current.keys() - desired.keys(), key=_key):
            subject, participant = who(k)
            self._record(section, "end", _key(k), subject=subject, participant=participant)
        self._bulk_insert(model, section, new)
        self._end(model, stale)

    def _ended_elsewhere(self, model, identity) -> dict[tuple, object]:
        """The latest end by anything but the file, per identity."""
        latest: dict[tuple, object] = {}
        for row in self.session.scalars(select(model).where(
                model.ended_at.is_not(None), model.ended_via != FILE)):
            ident = identity(row)
            if ident not in latest or latest[ident].ended_at < row.ended_at:
                latest[ident] = row
        return latest

    def _consents(self) -> None:
        desired = {consent_key(c): c for c in self.spec.consents}
        rows = {c.id: c for c in self.session.scalars(select(Consent).where(
            Consent.source == FILE))}
        new = []
        for key, spec in desired.items():
            attrs, row = _consent_attrs(spec), rows.get(key)
            if row is None:
                revoked = spec.status == "revoked"
                new.append(dict(attrs, id=key, source=FILE, created_at=self.now,
                                created_by=self.actor, revoked_at=self.now if revoked else None,
                                revoked_by=self.actor if revoked else None,
                                revoked_via=FILE if revoked else None))
                self._record("consents", "create", key, participant=spec.participant)
                continue
            ended = _ended_elsewhere(row)
            if ended is not None:
                moment, how = ended
                if spec.valid_from is None or spec.valid_from <= moment:
                    self._conflict(f"consent {key} of {row.participant_id} {how};",
                                   "left revoked" if row.ended_at is None else "left ended")
                    continue
            diff = {k: v for k, v in attrs.items() if getattr(row, k) != v}
            if ended is not None or row.ended_at is not None:  # granted anew, or listed again
                diff["status"] = spec.status
                row.ended_at = row.ended_by = row.ended_via = row.end_reason = None
                row.revoked_at = row.revoked_by = row.revoked_via = row.revoke_reason = None
            if diff:
                if diff.get("status") == "revoked":
                    row.revoked_at, row.revoked_by, row.revoked_via = self.now, self.actor, FILE
                elif diff.get("status") == "active":
                    row.revoked_at = row.revoked_by = row.revoked_via = None
                for k, v in diff.items():
                    setattr(row, k, v)
                row.version += 1
                self._record("consents", "update", key, _plain(diff),
                             participant=row.participant_id)
        self._bulk_insert(Consent, "consents", new)
        stale = [key for key, row in rows.items() if key not in desired and row.ended_at is None]
        for key in stale:
            self._record("consents", "end", key, participant=rows[key].participant_id)
        self._end(Consent, stale)


def consent_key(spec: ConsentSpec) -> str:
    """A declared id, or one derived from the consent's content (so re-applying matches)."""
    if spec.id:
        return spec.id
    digest = hashlib.sha256(canonical(_plain(_consent_attrs(spec))).encode()).hexdigest()
    return f"cns_{digest[:24]}"


def _ended_elsewhere(row: Consent) -> tuple[datetime, str] | None:
    """When and how something other than the file revoked or ended (amended) the consent."""
    if row.ended_outside(FILE):
        return row.ended_at, (f"was ended on {iso(row.ended_at)} by {row.ended_by} "
                              f"({row.end_reason})")
    if row.revoked_at is not None and row.revoked_via not in (None, FILE):
        reason = f" ({row.revoke_reason})" if row.revoke_reason else ""
        return row.revoked_at, f"was revoked on {iso(row.revoked_at)} by {row.revoked_by}{reason}"
    return None


def _consent_attrs(spec: ConsentSpec) -> dict:
    return {"participant_id": spec.participant, "partners": list(spec.partners),
            "partner_types": list(spec.partner_types), "purposes": list(spec.purposes),
            "fields": list(spec.fields), "exclude_labels": list(spec.exclude_labels),
            "valid_from": spec.valid_from, "valid_until": spec.valid_until,
            "status": spec.status}


def _plain(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
