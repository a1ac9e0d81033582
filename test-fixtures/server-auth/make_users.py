#!/usr/bin/env python3
"""Writes users.json and groups.json here in plantdb 0.15's format (plantdb.commons.auth:
User.to_dict / GroupManager._save_groups, read, not copied), hashing with argon2-cffi's
PasswordHasher() as plantdb's UserManager does: Debian's python3-argon2 21.1 uses
m=102400,t=2,p=8 and a 16-byte hash, newer releases m=65536,t=3,p=4 and 32 bytes.

    /usr/bin/python3 test-fixtures/server-auth/make_users.py

Dates are fixed (naive local times, as plantdb's datetime.now() gives); the salts are random, so
each run writes other hashes. The passwords are in PROVENANCE.md.
"""
import json
from pathlib import Path

import argon2

HERE = Path(__file__).resolve().parent
ph = argon2.PasswordHasher()


def user(username, fullname, password, roles, created, **state):
    """One record, with plantdb's keys in plantdb's order."""
    record = {
        "username": username,
        "fullname": fullname,
        "password_hash": ph.hash(password),
        "roles": roles,
        "created_at": created,
        "_extra_permissions": state.get("extra", []),
        "last_login": state.get("last_login"),
        "is_active": state.get("is_active", True),
        "failed_attempts": state.get("failed_attempts", 0),
        "last_failed_attempt": state.get("last_failed_attempt"),
        "locked_until": state.get("locked_until"),
        "password_last_change": created,
    }
    assert ph.verify(record["password_hash"], password)
    return record


users = [
    user("guest", "PlantDB Guest", "guest", ["reader"], "2026-03-23T10:00:00.123456"),
    user("admin", "PlantDB Admin", "admin", ["admin"], "2026-03-23T10:00:00.234567"),
    user("alice", "Alice Smith", "Alfred123!", ["contributor"], "2026-03-23T10:05:12.500000",
         last_login="2026-03-24T08:30:00.000001"),
    user("bob", "Bob \u00c9tienne", "bobs-password", ["reader"], "2026-03-23T10:06:00",
         extra=["write"], failed_attempts=3, last_failed_attempt="2026-03-24T09:00:00.100000",
         locked_until="2026-03-24T09:15:00.100000"),
    user("carol", "Carol", "carols-password", ["reader"], "2026-03-23T10:07:00", is_active=False),
]
groups = {
    "lab": {"users": ["alice", "bob"], "description": "The lab", "created_at": "2026-03-23T11:00:00.000100", "created_by": "alice"},
    "empty": {"users": ["admin"], "description": None, "created_at": "2026-03-23T11:01:00", "created_by": "admin"},
}

# plantdb: json.dump(data, f, indent=2), no trailing newline.
for name, data in (("users.json", users), ("groups.json", groups)):
    with open(HERE / name, "w") as f:
        json.dump(data, f, indent=2)
print(f"argon2-cffi {argon2.__version__}: wrote users.json ({len(users)} users) and groups.json ({len(groups)} groups)")
