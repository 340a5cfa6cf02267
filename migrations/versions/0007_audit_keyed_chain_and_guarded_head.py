"""Keyed audit chain, a guarded head, TRUNCATE refused, one link formula in SQL.

* ``audit_head`` gains ``key_id`` (a fingerprint of GOVERNANCE_AUDIT_KEY, never the key) and
  ``keyed_from`` (the first row linked with HMAC-SHA256). Rows before it keep their plain
  SHA-256 links, so chains written before this migration still verify.
* The head is protected like the rows: it cannot be deleted, duplicated, rewound, re-keyed or
  made to name anything but the last row's hash. ``TRUNCATE`` of either table is refused
  (PostgreSQL; SQLite has no TRUNCATE and its DELETE triggers already fire).
* PostgreSQL: ``governance_audit_link`` is the one SQL form of the link formula (the same as
  ``governance.audit.link``); ``governance_audit_append`` uses it for every append path. The
  key reaches it as HMAC's inner and outer padded keys in settings of the connection
  (``governance.audit_ipad``/``_opad``/``_key_id``, set when it connects), never a table.
* Actor, subject and participant columns hold ids of up to 200 characters (contract 7).

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LINK_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_audit_link(prev text, seq bigint, digest text,
                                                 keyed boolean) RETURNS text AS $$
  SELECT CASE WHEN keyed THEN
    encode(sha256(decode(current_setting('governance.audit_opad'), 'hex')
                  || sha256(decode(current_setting('governance.audit_ipad'), 'hex')
                            || convert_to(prev || ':' || seq || ':' || digest, 'UTF8'))), 'hex')
  ELSE encode(sha256(convert_to(prev || ':' || seq || ':' || digest, 'UTF8')), 'hex') END
$$ LANGUAGE sql STABLE
"""

APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_audit_append(rows jsonb) RETURNS bigint AS $$
DECLARE
  head_seq bigint;
  head_hash text;
  head_key text;
  session_key text := coalesce(current_setting('governance.audit_key_id', true), '');
  r jsonb;
  link text;
BEGIN
  SELECT seq, hash, key_id INTO head_seq, head_hash, head_key FROM audit_head WHERE id = 1
     FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit_head is missing: the audit trail cannot be appended';
  END IF;
  IF head_key IS NULL AND session_key <> '' THEN  -- the first keyed append keys the chain
    UPDATE audit_head SET key_id = session_key, keyed_from = head_seq + 1 WHERE id = 1;
    head_key := session_key;
  ELSIF coalesce(head_key, '') <> session_key THEN
    RAISE EXCEPTION 'the audit chain is keyed with key % but this service holds %', head_key,
      CASE WHEN session_key = '' THEN 'no GOVERNANCE_AUDIT_KEY' ELSE 'key ' || session_key END;
  END IF;
  FOR r IN SELECT value FROM jsonb_array_elements(rows) LOOP
    head_seq := head_seq + 1;
    link := governance_audit_link(head_hash, head_seq, r->>'digest', head_key IS NOT NULL);
    INSERT INTO audit_event (seq, at, kind, actor, subject, participant, ref, payload,
                             prev_hash, hash)
    VALUES (head_seq, (r->>'at')::timestamp, r->>'kind', r->>'actor', r->>'subject',
            r->>'participant', r->>'ref', r->>'payload', head_hash, link);
    head_hash := link;
  END LOOP;
  UPDATE audit_head SET seq = head_seq, hash = head_hash WHERE id = 1;
  RETURN head_seq;
END
$$ LANGUAGE plpgsql
"""

PG_HEAD_GUARD = """
CREATE OR REPLACE FUNCTION governance_audit_head_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'audit_head cannot be deleted';
  ELSIF TG_OP = 'INSERT' THEN
    IF EXISTS (SELECT 1 FROM audit_head) THEN
      RAISE EXCEPTION 'audit_head has its one row already';
    END IF;
  ELSIF NEW.id <> OLD.id OR NEW.seq < OLD.seq THEN
    RAISE EXCEPTION 'audit_head cannot be rewound';
  ELSIF OLD.key_id IS NOT NULL AND (NEW.key_id IS DISTINCT FROM OLD.key_id
                                    OR NEW.keyed_from IS DISTINCT FROM OLD.keyed_from) THEN
    RAISE EXCEPTION 'the audit chain key cannot be changed';
  ELSIF NEW.hash IS DISTINCT FROM OLD.hash
        AND NEW.hash IS DISTINCT FROM (SELECT hash FROM audit_event WHERE seq = NEW.seq) THEN
    RAISE EXCEPTION 'audit_head must name the last audit row';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$ LANGUAGE plpgsql
"""

PG_TRIGGERS = [
    "CREATE TRIGGER audit_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION governance_audit_head_guard()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION governance_audit_head_guard()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION governance_audit_append_only()",
]

SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
       BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END""",
    """CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
       WHEN EXISTS (SELECT 1 FROM audit_head)
       BEGIN SELECT RAISE(ABORT, 'audit_head has its one row already'); END""",
    """CREATE TRIGGER audit_head_no_rewind BEFORE UPDATE ON audit_head
       WHEN NEW.id <> OLD.id OR NEW.seq < OLD.seq
         OR (OLD.key_id IS NOT NULL AND (NEW.key_id IS NOT OLD.key_id
                                         OR NEW.keyed_from IS NOT OLD.keyed_from))
         OR (NEW.hash IS NOT OLD.hash
             AND NEW.hash IS NOT (SELECT hash FROM audit_event WHERE seq = NEW.seq))
       BEGIN SELECT RAISE(ABORT, 'audit_head cannot be rewound or changed'); END""",
]

WIDENED = ("actor", "subject", "participant")


def upgrade():
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.add_column("audit_head", sa.Column("key_id", sa.String(32), nullable=True))
        op.add_column("audit_head", sa.Column("keyed_from", sa.BigInteger(), nullable=True))
        for column in WIDENED:
            op.alter_column("audit_event", column, type_=sa.String(200),
                            existing_type=sa.String(128))
        op.execute(LINK_FUNCTION)
        op.execute(APPEND_FUNCTION)
        op.execute(PG_HEAD_GUARD)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        # Plain ADD COLUMN: a batch rebuild of audit_event would copy rows, which its own
        # triggers forbid. SQLite does not enforce VARCHAR lengths, so nothing to widen.
        op.execute("ALTER TABLE audit_head ADD COLUMN key_id VARCHAR(32)")
        op.execute("ALTER TABLE audit_head ADD COLUMN keyed_from INTEGER")
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_guard ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS governance_audit_head_guard()")
        # governance_audit_append keeps the new body (it still reads key_id): a downgrade
        # below 0007 is not supported for a keyed chain.
    else:
        for name in ("audit_head_no_delete", "audit_head_no_insert", "audit_head_no_rewind"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
