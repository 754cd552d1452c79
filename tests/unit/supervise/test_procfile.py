"""Procfile and .env parsing, port assignment and process environments."""

from __future__ import annotations

import pytest

from devd.errors import ConfigError
from devd.supervise.procfile import (
    ProcfileEntry,
    assign_ports,
    parse_dotenv,
    parse_procfile,
    plan_processes,
    port_base,
    process_environment,
)

GOOD_PROCFILE = """\
# Services for local development.
web: python -m http.server $PORT

worker:bundle exec sidekiq -q default   # a comment here belongs to the command
  moto_db-2: moto_server -H 127.0.0.1 -p 4566
"""


def test_procfile_entries_with_lines() -> None:
    entries = parse_procfile(GOOD_PROCFILE)

    assert entries == (
        ProcfileEntry("web", "python -m http.server $PORT", 2),
        ProcfileEntry(
            "worker", "bundle exec sidekiq -q default   # a comment here belongs to the command", 4
        ),
        ProcfileEntry("moto_db-2", "moto_server -H 127.0.0.1 -p 4566", 5),
    )


def test_procfile_with_crlf_lines() -> None:
    entries = parse_procfile("web: serve\r\napi: run\r\n")

    assert [entry.command for entry in entries] == ["serve", "run"]


def test_procfile_only_comments_is_empty() -> None:
    assert parse_procfile("# nothing yet\n\n   \n") == ()


def test_malformed_line_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_procfile("web: serve\n\nthis is not an entry\n", "/app/Procfile")

    message = str(raised.value)
    assert message.startswith("/app/Procfile:3: ")
    assert "'this is not an entry'" in message
    assert "name: command" in message


def test_invalid_name_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"Procfile:1: invalid process name 'web\.1'"):
        parse_procfile("web.1: serve\n")


def test_missing_command_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"Procfile:2: process 'api' has no command"):
        parse_procfile("web: serve\napi:   \n")


def test_duplicate_name_names_both_lines() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_procfile("web: one\n# other\nweb: two\n")

    message = str(raised.value)
    assert message.startswith("Procfile:3: ")
    assert "already used on line 1" in message


def test_dotenv_forms() -> None:
    text = """\
# settings
PLAIN=value
export EXPORTED=yes
SPACED = padded value
COMMENTED=abc # trailing comment
HASH=abc#def
SINGLE='literal \\n $HOME # kept'
DOUBLE="line one\\nline \\"two\\""
EMPTY=
URL=postgres://user:pa=ss@localhost/db
"""

    values = parse_dotenv(text)

    assert values == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "padded value",
        "COMMENTED": "abc",
        "HASH": "abc#def",
        "SINGLE": "literal \\n $HOME # kept",
        "DOUBLE": 'line one\nline "two"',
        "EMPTY": "",
        "URL": "postgres://user:pa=ss@localhost/db",
    }


def test_dotenv_later_key_wins() -> None:
    assert parse_dotenv("A=1\nA=2\n") == {"A": "2"}


def test_dotenv_quoted_value_then_comment() -> None:
    assert parse_dotenv('TOKEN="a b"  # the token\n') == {"TOKEN": "a b"}


def test_dotenv_malformed_line_hides_value() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_dotenv("A=1\nnot-a-key=supersecret\n", "/app/.env")

    message = str(raised.value)
    assert message.startswith("/app/.env:2: invalid line")
    assert "supersecret" not in message


def test_dotenv_unterminated_quote() -> None:
    with pytest.raises(ConfigError, match=r"\.env:1: the value of SECRET has no closing \""):
        parse_dotenv('SECRET="abc\n')


def test_dotenv_text_after_quote() -> None:
    with pytest.raises(ConfigError, match=r"\.env:1: unexpected text after the quoted value of NAME"):
        parse_dotenv("NAME='a' b\n")


def test_port_base_sources() -> None:
    assert port_base(None, {}) == 5000
    assert port_base(None, {"PORT": "8000"}) == 8000
    assert port_base(7000, {"PORT": "8000"}) == 7000


@pytest.mark.parametrize(
    ("explicit", "dotenv", "named"),
    [
        (None, {"PORT": "web"}, "PORT='web' is not a port number"),
        (70000, {}, "the port base 70000 is outside"),
        (None, {"PORT": "0"}, r"PORT in \.env 0 is outside"),
    ],
)
def test_port_base_invalid(explicit: int | None, dotenv: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        port_base(explicit, dotenv)


def test_ports_step_by_hundred() -> None:
    entries = parse_procfile("web: a\nworker: b\nclock: c\n")

    assert assign_ports(entries, 5000) == {"web": 5000, "worker": 5100, "clock": 5200}


def test_ports_beyond_range_raise() -> None:
    entries = parse_procfile("web: a\nworker: b\n")

    with pytest.raises(ConfigError, match="port base 65500"):
        assign_ports(entries, 65500)


def test_environment_precedence_and_path() -> None:
    base_env = {"PATH": "/usr/bin:/venv/bin", "HOME": "/home/dev", "PORT": "1", "SHARED": "from shell"}
    dotenv = {"SHARED": "from .env", "PORT": "2"}

    env = process_environment(base_env, dotenv, 5100, "/venv/bin")

    assert env["SHARED"] == "from .env"
    assert env["PORT"] == "5100"
    assert env["HOME"] == "/home/dev"
    assert env["PATH"] == "/venv/bin:/usr/bin"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_environment_keeps_pythonunbuffered_setting() -> None:
    env = process_environment({"PATH": "/bin", "PYTHONUNBUFFERED": "0"}, {}, 5000, "/venv/bin")

    assert env["PYTHONUNBUFFERED"] == "0"


def test_plan_runs_commands_with_sh() -> None:
    entries = parse_procfile("web: echo $PORT\nmoto: moto_server -p 4566\n")

    specs = plan_processes(entries, {"GREETING": "hi"}, {"PATH": "/bin"}, 6000, "/venv/bin")

    assert [spec.argv for spec in specs] == [
        ("/bin/sh", "-c", "echo $PORT"),
        ("/bin/sh", "-c", "moto_server -p 4566"),
    ]
    assert [spec.port for spec in specs] == [6000, 6100]
    assert specs[1].env["GREETING"] == "hi"
    assert specs[1].env["PORT"] == "6100"
