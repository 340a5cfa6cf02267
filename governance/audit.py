"""Append to and verify the hash-chained audit trail.

Each row is linked to the one before it: ``hash = link(prev_hash, seq, digest)`` where
``digest`` is the sha256 of the row's canonical content and ``link`` is SHA-256 of
``"prev_hash:seq:digest"``, or HMAC-SHA256 under GOVERNANCE_AUDIT_KEY once the chain is keyed
(so only a holder of the key can re-chain it). Writers lock the single ``audit_head`` row while
they append, so concurrent workers and instances extend one chain, never fork it. On PostgreSQL
every append is one call of ``governance_audit_append`` (directly, or under ``fsync``
durability through ``governance_audit_append_durable``, which frees the head before waiting for
the WAL flush); its link is ``governance_audit_link`` (migration 0007), the SQL form of ``link``
below, with the key's padded halves in the connection's settings. On SQLite the same steps run
here in Python inside the write transaction.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from governance import jsontext
from governance.clock import utcnow
from governance.errors import listing
from governance.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def content_digest(at: datetime, kind: str, actor: str | None, subject: str | None,
                   participant: str | None, ref: str | None, payload: str) -> str:
    fields = [at.isoformat(timespec="microseconds"), kind, actor, subject, participant, ref,
              payload]
    try:
        # For a list of strings and None orjson writes exactly what ``canonical`` does (tested
        # character by character) in a quarter of the time: 16 us a decision row with json.
        body = orjson.dumps(fields)
    except orjson.JSONEncodeError:  # lone surrogates: canonical's own encoding error follows
        body = canonical(fields).encode()
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class ChainKey:
    """GOVERNANCE_AUDIT_KEY as the chain uses it. ``key_id`` names it without revealing it;
    ``ipad``/``opad`` are HMAC's padded keys (RFC 2104), which PostgreSQL combines with its
    built-in sha256, so no extension is needed."""

    secret: bytes
    key_id: str
    ipad: str
    opad: str

    @classmethod
    def from_text(cls, text: str | None) -> ChainKey | None:
        if not text:
            return None
        secret = text.encode()
        block = (hashlib.sha256(secret).digest() if len(secret) > 64 else secret).ljust(64, b"\0")
        key_id = hmac.new(secret, b"need-to-know audit key id", hashlib.sha256).hexdigest()[:16]
        return cls(secret, key_id, bytes(b ^ 0x36 for b in block).hex(),
                   bytes(b ^ 0x5C for b in block).hex())

    def __repr__(self) -> str:  # never the secret, in logs or tracebacks
        return f"ChainKey(key_id={self.key_id!r})"


def link(prev_hash: str, seq: int, digest: str, key: ChainKey | None = None) -> str:
    """The chain's link formula (``governance_audit_link`` is its SQL form)."""
    message = f"{prev_hash}:{seq}:{digest}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


class AuditRefused(RuntimeError):
    """The trail cannot be appended as it stands (its head is gone, or the chain is keyed with
    another key than this service holds): the service refuses to write rather than break it."""


KEY_INFO = "governance_audit_key"  # the ChainKey of a pooled connection, in its info dict


def key_connections(engine: Engine, key: ChainKey | None) -> None:
    """Every connection of ``engine`` carries the chain key: in its info for the SQLite path
    here, and (PostgreSQL) as settings of the connection for ``governance_audit_link``."""

    @event.listens_for(engine, "connect")
    def _keyed(dbapi_connection, record) -> None:  # noqa: ANN001
        record.info[KEY_INFO] = key
        if key is None or engine.dialect.name != "postgresql":
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT set_config('governance.audit_ipad', %s, false), "
                       "set_config('governance.audit_opad', %s, false), "
                       "set_config('governance.audit_key_id', %s, false)",
                       (key.ipad, key.opad, key.key_id))
        cursor.close()
        dbapi_connection.commit()


def new_row(kind: str, payload: dict, *, actor: str | None = None, subject: str | None = None,
            participant: str | None = None, ref: str | None = None,
            at: datetime | None = None) -> dict:
    """An audit row ready to be chained (its content digest computed here, off the lock)."""
    at = at or utcnow()
    text_ = jsontext.dumps(payload).decode()
    return {"at": at, "kind": kind, "actor": actor, "subject": subject,
            "participant": participant, "ref": ref, "payload": text_,
            "digest": content_digest(at, kind, actor, subject, participant, ref, text_)}


def write_rows(connection: Connection, rows: list[dict], *, durable_call: bool = False) -> None:
    """Chain and insert ``rows`` in the connection's transaction (the caller commits).

    ``durable_call`` (PostgreSQL, autocommit connections only): commit them in
    ``governance_audit_append_durable``, which returns once they are flushed but frees the
    chain's head before the flush, so concurrent writers' flushes overlap.
    This runs for every decision, so it talks to the driver directly (prepared statements),
    not through SQLAlchemy's statement compilation.
    """
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        if connection.dialect.name == "postgresql":
            call = ("CALL governance_audit_append_durable(%s::jsonb)" if durable_call
                    else "SELECT governance_audit_append(%s::jsonb)")
            cursor.execute(call, (_wire(rows),), prepare=True)
            return
        head = cursor.execute(
            "UPDATE audit_head SET seq = seq + ? WHERE id = 1 RETURNING seq, hash, key_id",
            (len(rows),)).fetchone()
        if head is None:
            raise AuditRefused("audit_head is missing: the audit trail cannot be appended")
        last, prev, head_key = head
        key = chain_key_for_append(cursor, connection.connection.info.get(KEY_INFO), head_key,
                                   last - len(rows))
        seq, values = last - len(rows), []
        for row in rows:
            seq += 1
            digest = link(prev, seq, row["digest"], key)
            values.append((seq, row["at"].isoformat(" ", "microseconds"), row["kind"],
                           row["actor"], row["subject"], row["participant"], row["ref"],
                           row["payload"], prev, digest))
            prev = digest
        cursor.executemany(SQLITE_INSERT, values)
        cursor.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
    finally:
        cursor.close()


def chain_key_for_append(cursor, held: ChainKey | None, head_key: str | None,  # noqa: ANN001
                         head_seq: int) -> ChainKey | None:
    """The key to link new rows with (SQLite; ``governance_audit_append`` does the same):
    the first append with a key keys the chain from the next row on; after that only the same
    key may append."""
    if head_key is None and held is not None:
        cursor.execute("UPDATE audit_head SET key_id = ?, keyed_from = ? WHERE id = 1",
                       (held.key_id, head_seq + 1))
        return held
    if (head_key or None) != (held.key_id if held else None):
        holds = f"key {held.key_id}" if held else "no GOVERNANCE_AUDIT_KEY"
        raise AuditRefused(f"the audit chain is keyed with key {head_key} but this service "
                               f"holds {holds}")
    return held


def _wire(rows: list[dict]) -> str:
    return jsontext.dumps([{**row, "at": row["at"].isoformat(timespec="microseconds")}
                           for row in rows]).decode()


SQLITE_INSERT = ("INSERT INTO audit_event (seq, at, kind, actor, subject, participant, ref, "
                 "payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def append(session: Session, kind: str, payload: dict, **row) -> None:
    """Add one event inside the session's transaction, so it commits with the change it records."""
    write_rows(session.connection(), [new_row(kind, payload, **row)])


APPEND_CHUNK = 2000  # rows per statement when an operation records many items


def append_rows(session: Session, rows: list[dict]) -> None:
    """Add many events (``new_row``) inside the session's transaction, in chunks."""
    for start in range(0, len(rows), APPEND_CHUNK):
        write_rows(session.connection(), rows[start:start + APPEND_CHUNK])


@dataclass
class Problem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.what}"


@dataclass
class Verification:
    rows: int
    problems: list[Problem]
    keyed_from: int | None  # first row linked with the key; None: the chain is not keyed
    head_seq: int
    head_hash: str


VERIFIED_COLUMNS = (AuditEvent.seq, AuditEvent.at, AuditEvent.kind, AuditEvent.actor,
                    AuditEvent.subject, AuditEvent.participant, AuditEvent.ref,
                    AuditEvent.payload, AuditEvent.prev_hash, AuditEvent.hash)


def verify(session: Session, key: ChainKey | None = None, batch: int = 5000) -> Verification:
    """Walk the chain in order; every problem found, located by row."""
    problems: list[Problem] = []
    head = session.get(AuditHead, 1)
    keyed_from = head.keyed_from if head is not None else None
    if head is None:
        problems.append(Problem(0, "audit_head is missing (the chain's head row was deleted)"))
    elif head.key_id is not None and (key is None or key.key_id != head.key_id):
        problems.append(Problem(keyed_from or 0, f"the chain is keyed with key {head.key_id}; "
                                "set GOVERNANCE_AUDIT_KEY to that key to verify it"
                                if key is None else
                                f"GOVERNANCE_AUDIT_KEY is key {key.key_id}, not the chain's "
                                f"key {head.key_id}"))
        return Verification(0, problems, keyed_from, head.seq, head.hash)
    expected_seq, prev, count, last = 1, GENESIS, 0, 0
    while True:
        # Columns, not ORM objects: a long trail is read once and not kept in the session.
        rows = session.execute(select(*VERIFIED_COLUMNS).where(AuditEvent.seq > last)
                               .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            break
        for seq, at, kind, actor, subject, participant, ref, payload, prev_hash, hash_ in rows:
            count += 1
            if seq != expected_seq:
                problems.append(Problem(expected_seq, f"missing (deleted): next row present is "
                                                      f"{seq}"))
            if prev_hash != prev:
                problems.append(Problem(seq, "does not follow the previous row "
                                             "(deleted or reordered rows before it)"))
            digest = content_digest(at, kind, actor, subject, participant, ref, payload)
            row_key = key if keyed_from is not None and seq >= keyed_from else None
            if link(prev_hash, seq, digest, row_key) != hash_:
                problems.append(Problem(seq, "content was edited (hash mismatch)"))
            prev, expected_seq, last = hash_, seq + 1, seq
    if head is not None and (head.seq != last or head.hash != prev):
        problems.append(Problem(last + 1, f"chain ends at row {last} but {head.seq} rows were "
                                          "written (rows deleted from the end)"))
    return Verification(count, problems, keyed_from, last, prev)


CHECKPOINT_CONTEXT = b"need-to-know audit checkpoint"
MAX_SEQ = 2**63 - 1  # a row number both stores can look up (BIGINT)


def checkpoint(verification: Verification, key: ChainKey | None, at: datetime) -> dict:
    """The chain's head as a document to keep outside the database, signed when keyed."""
    document = {"seq": verification.head_seq, "hash": verification.head_hash,
                "at": at.isoformat(timespec="seconds") + "Z",
                "key_id": key.key_id if key else None}
    if key is not None:
        document["signature"] = _checkpoint_signature(document, key)
    return document


def _checkpoint_signature(document: dict, key: ChainKey) -> str:
    body = canonical({k: document.get(k) for k in ("seq", "hash", "at", "key_id")})
    return hmac.new(key.secret, CHECKPOINT_CONTEXT + body.encode(), hashlib.sha256).hexdigest()


HEX_DIGEST = re.compile(r"[0-9a-f]{64}")  # what sha256/HMAC-SHA256 hexdigest writes


class NotACheckpoint(ValueError):
    """A file that is not what ``checkpoint`` writes: a bad input, not a broken chain."""


@dataclass(frozen=True)
class Checkpoint:
    """A chain head kept outside the database, as ``checkpoint`` wrote it."""

    seq: int
    hash: str
    key_id: str | None
    document: dict  # the whole document, which its signature covers

    @classmethod
    def read(cls, document: object) -> Checkpoint:
        """The checkpoint in a parsed JSON document; NotACheckpoint naming each wrong member."""
        if not isinstance(document, dict):
            raise NotACheckpoint("not a JSON object")
        problems = {}
        seq, hash_, key_id = (document.get(k) for k in ("seq", "hash", "key_id"))
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            problems["seq"] = f"must be a row number from 0 to {MAX_SEQ}"
        if not isinstance(hash_, str) or not HEX_DIGEST.fullmatch(hash_):
            problems["hash"] = "must be 64 lower-case hexadecimal digits"
        if key_id is not None and not isinstance(key_id, str):
            problems["key_id"] = "must be a key id or null"
        signature = document.get("signature")
        if isinstance(key_id, str) and not (isinstance(signature, str)
                                            and HEX_DIGEST.fullmatch(signature)):
            problems["signature"] = "must be 64 lower-case hexadecimal digits (key_id is set)"
        if not isinstance(document.get("at", ""), str):
            problems["at"] = "must be the time it was written"
        if problems:
            raise NotACheckpoint(listing(problems))
        return cls(seq, hash_, key_id, document)


def check_checkpoint(session: Session, checkpoint: Checkpoint, key: ChainKey | None
                     ) -> list[Problem]:
    """Problems if the chain no longer reaches the checkpoint's row with its hash."""
    seq = checkpoint.seq
    if checkpoint.key_id is not None:
        if key is None or key.key_id != checkpoint.key_id:
            return [Problem(seq, f"the checkpoint is signed with key {checkpoint.key_id}; "
                                 "set GOVERNANCE_AUDIT_KEY to that key to check it")]
        if not hmac.compare_digest(checkpoint.document["signature"],
                                   _checkpoint_signature(checkpoint.document, key)):
            return [Problem(seq, "the checkpoint's signature does not match (edited file)")]
    if seq == 0:
        return []
    row = session.get(AuditEvent, seq)
    if row is None:
        return [Problem(seq, f"the chain no longer reaches the checkpoint's row {seq} "
                             "(rows deleted from the end)")]
    if not hmac.compare_digest(row.hash, checkpoint.hash):
        return [Problem(seq, "row differs from the checkpoint (the chain was rewritten)")]
    return []


def payload_of(event: AuditEvent) -> dict:
    return json.loads(event.payload)
