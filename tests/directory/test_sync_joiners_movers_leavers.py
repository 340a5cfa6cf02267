"""The directory sync against a real slapd (contract section 8), on both stores; the setup
is tests/directory/sync_support.py's. Here: joiners, movers and leavers, locked entries,
dry runs, and changed-only syncs.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from governance.db import DIRECTORY
from governance.extension import state
from governance.models import Override
from governance.notify import MemoryNotifier
from governance.operations.override_requests import OverrideRequest, RequestOverride
from tests.conftest import NOW


def test_joiner_mover_and_leaver(directory):
    directory.people("ann", "ben", housing_cm=["ann", "ben"], housing_sup=["ben"])
    output = directory.sync()
    assert "join: 2" in output and "grant: 3" in output
    assert directory.roles("ann") == {("case_manager", "housing", DIRECTORY)}
    assert directory.roles("ben") == {("case_manager", "housing", DIRECTORY),
                                      ("supervisor", "housing", DIRECTORY)}
    ann = directory.user("ann")
    assert (ann.source, ann.active, ann.name, ann.email) == (DIRECTORY, True, "Ann Person",
                                                             "ann@example.org")
    assert ann.directory_uuid and ann.directory_dn == directory.server.user_dn("ann")

    directory.server.set_members("housing-sup", [directory.server.user_dn("ann")])
    directory.sync()
    assert ("supervisor", "housing", DIRECTORY) in directory.roles("ann")
    assert directory.roles("ben") == {("case_manager", "housing", DIRECTORY)}

    directory.server.delete(directory.server.user_dn("ben"))
    output = directory.sync()
    assert "leave: 1" in output
    ben = directory.user("ben")
    assert not ben.active and ben.disabled_via == DIRECTORY
    assert ben.disabled_reason == "gone from the directory"
    assert directory.roles("ben") == set()
    kinds = directory.audit_kinds()
    assert kinds.count("directory.join") == 2 and "directory.leave" in kinds
    assert kinds.count("directory.synced") == 3 and "user.disabled" in kinds


def test_a_second_sync_without_changes_changes_nothing(directory):
    directory.people("ann", housing_cm=["ann"])
    directory.sync()
    rows = len(directory.audit_kinds())
    output = directory.sync()
    assert " 0 change(s) applied" in output
    assert directory.audit_kinds()[rows:] == ["directory.synced"]


def test_dry_run_prints_one_line_per_change_and_writes_nothing(directory):
    directory.people("ann", housing_cm=["ann"])
    before = directory.audit_kinds()
    output = directory.sync("--dry-run")
    assert "join ann (Ann Person)" in output
    assert "grant ann case_manager housing (member of cn=housing-cm,ou=groups," in output
    assert "end fiona records - (the directory is authoritative for records -)" in output
    assert "change(s) would be made; nothing was written" in output
    assert directory.user("ann") is None and directory.audit_kinds() == before


def test_a_member_that_points_at_nothing_grants_nothing(directory):
    directory.people("ann")
    directory.server.set_members("housing-sup", [directory.server.user_dn("ann"),
                                                 "uid=ghost,ou=people,dc=example,dc=org"])
    directory.sync()
    assert directory.user("ghost") is None
    assert directory.roles("ann") == {("supervisor", "housing", DIRECTORY)}


def test_a_locked_entry_is_a_leaver_and_returns_when_unlocked(directory):
    directory.people("ann", housing_cm=["ann"])
    directory.sync()
    with directory.app.app_context():
        RequestOverride("ann", OverrideRequest.from_json({
            "program": "housing", "fields": ["identity.*"], "actions": ["view"],
            "reason": "cover", "minutes": 30}), NOW, notifier=MemoryNotifier()
        ).execute(state(directory.app).session)
    directory.server.lock_user("ann")
    directory.sync()
    ann = directory.user("ann")
    assert not ann.active and ann.disabled_reason == "disabled in the directory"
    with directory.app.app_context():
        request = state(directory.app).session.scalar(select(Override))
        assert request.status == "denied"  # the pending request was refused
    directory.server.unlock_user("ann")
    directory.sync()
    assert directory.user("ann").active
    assert directory.roles("ann") == {("case_manager", "housing", DIRECTORY)}


def test_changed_only_reads_what_changed_and_a_full_sync_finds_the_deleted(directory):
    directory.people("ann", "ben", housing_cm=["ann", "ben"])
    first = directory.sync("--changed-only")  # nothing remembered yet: a full sync
    assert "Directory sync (full, " in first
    directory.server.add_user("cat", cn="Cat Person")
    directory.server.replace(directory.server.user_dn("ann"), mail="ann@new.example.org")
    directory.server.set_members("housing-cm", [directory.server.user_dn("ann"),
                                                directory.server.user_dn("cat")])
    directory.server.delete(directory.server.user_dn("ben"))
    output = directory.sync("--changed-only")
    assert "Directory sync (changed-only, " in output
    assert directory.roles("cat") == {("case_manager", "housing", DIRECTORY)}
    assert directory.user("ann").email == "ann@new.example.org"
    # ben left his group, so his role ended at once; that he is gone, the full sync sees.
    assert directory.roles("ben") == set() and directory.user("ben").active
    assert "leave: 1" in directory.sync()
    assert not directory.user("ben").active


def test_changed_only_is_a_full_sync_after_a_day_without_one(directory):
    directory.people("ann", housing_cm=["ann"])
    directory.sync()
    state(directory.app).clock = lambda: NOW + timedelta(days=1, minutes=1)
    assert "Directory sync (full, " in directory.sync("--changed-only")
