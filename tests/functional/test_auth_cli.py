"""`evald user create --login-id ID --role ROLE --email E [--name N]`, the password on stdin:
the policy and the roles are enforced, nothing is made on refusal, the password is never
printed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import PASSWORD, assert_error, create_user_cli, unique

pytest_plugins = ["authkit"]  # fixtures: db_url, sqlite_url, stack_factory


def users_named(db_file: Path, login_id: str) -> int:
    if not db_file.exists():
        return 0
    with sqlite3.connect(db_file) as c:
        try:
            return c.execute("SELECT COUNT(*) FROM users WHERE login_id = ?",
                             (login_id,)).fetchone()[0]
        except sqlite3.OperationalError:  # no schema yet: nobody
            return 0


def one_line(stderr: str) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    return lines[0]


@pytest.mark.parametrize("case,password,rule", [
    ("short", "Zq7!x", "8 characters"),
    ("common", "password123", "common"),
    ("common-upper", "PASSWORD123", "common"),
    ("login-id", "{login_id}", "login id"),
    ("email", "{email}", "email"),
    ("empty", "", None),
], ids=["short", "common", "common-upper", "login-id", "email", "empty"])
def test_weak_password_is_refused(tmp_path, case, password, rule):
    db_file = tmp_path / "cli.db"
    login_id = f"weak-{case}-user"
    email = f"{login_id}@example.com"
    password = password.format(login_id=login_id, email=email)
    p = create_user_cli(f"sqlite://{db_file}", login_id, "evaluator", email, password,
                        cwd=tmp_path)
    assert p.returncode != 0, f"accepted a weak password ({case}): {p.stdout} {p.stderr}"
    line = one_line(p.stderr)
    assert "password" in line.lower(), line
    if rule is not None:
        assert rule in line.lower() or rule in line, f"the rule ({rule}) is not named: {line}"
    if password:
        assert password not in p.stdout and password not in p.stderr.replace(
            login_id, "").replace(email, ""), (p.stdout, p.stderr)
    assert users_named(db_file, login_id) == 0, "the user was created anyway"


def test_every_broken_rule_is_named(tmp_path):
    # "Admin" is short AND common: both rules in the one line.
    db_file = tmp_path / "cli.db"
    p = create_user_cli(f"sqlite://{db_file}", "multi-rule", "evaluator", "m@example.com",
                        "admin", cwd=tmp_path)
    assert p.returncode != 0, p.stdout
    line = one_line(p.stderr)
    assert "8 characters" in line and "common" in line, line
    assert users_named(db_file, "multi-rule") == 0


@pytest.mark.parametrize("role", ["root", "superuser", "Admin", ""])
def test_unknown_role_is_refused(tmp_path, role):
    db_file = tmp_path / "cli.db"
    login_id = unique("role-")
    p = create_user_cli(f"sqlite://{db_file}", login_id, role, f"{login_id}@example.com",
                        PASSWORD, cwd=tmp_path)
    assert p.returncode != 0, f"role {role!r} accepted: {p.stdout}"
    line = one_line(p.stderr)
    assert "role" in line.lower(), line
    assert PASSWORD not in p.stdout and PASSWORD not in p.stderr
    assert users_named(db_file, login_id) == 0


def test_created_user_signs_in_with_the_password_from_stdin(stack_factory, db_url, tmp_path):
    login_id = unique("cli-")
    # Created before the server starts...
    p = create_user_cli(db_url, login_id, "secretary", f"{login_id}@example.com", PASSWORD,
                        name="Sec Retary", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert PASSWORD not in p.stdout and PASSWORD not in p.stderr, (p.stdout, p.stderr)
    assert login_id in p.stdout, p.stdout
    st = stack_factory(db_url)
    login = st.login(login_id, PASSWORD)
    assert login.user["role"] == "secretary" and login.user["user_name"] == "Sec Retary"
    # ... and while it runs; a CRLF line end is not part of the password.
    other = unique("cli-")
    p = create_user_cli(db_url, other, "evaluator", f"{other}@example.com", PASSWORD,
                        cwd=tmp_path, stdin=PASSWORD + "\r\n")
    assert p.returncode == 0, p.stderr
    assert PASSWORD not in p.stdout and PASSWORD not in p.stderr
    assert st.login(other, PASSWORD).user["role"] == "evaluator"
    # A second user with the same login id: refused, one line, the first unchanged.
    p = create_user_cli(db_url, other, "admin", f"x-{other}@example.com", "Another-Pass-2026!",
                        cwd=tmp_path)
    assert p.returncode != 0, p.stdout
    one_line(p.stderr)
    assert "Another-Pass-2026!" not in p.stderr
    assert st.login(other, PASSWORD).user["role"] == "evaluator"
    assert_error(st.try_login(other, "Another-Pass-2026!"), 401, "AUTH_FAILED")
