"""env.example lists exactly the variables the code reads, works as written, and the
README's configuration reference is generated from it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from types import ModuleType

import pytest

from oauthbearer._env import IGNORED_SETTINGS
from oauthbearer.cli import main
from oauthbearer.client.settings import CLIENT_VARIABLES, ClientSettings
from oauthbearer.sidecar.settings import FILE_VARIABLES, VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "config_reference", ROOT / "scripts" / "config_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


ENTRIES = _reference().parse((ROOT / "env.example").read_text())
BY_NAME = {entry.name: entry for entry in ENTRIES}


def test_env_example_lists_every_variable_the_code_reads_and_nothing_else() -> None:
    read_by_code = (
        set(CLIENT_VARIABLES)
        | {v.name for v in VARIABLES}
        | set(FILE_VARIABLES)
        | IGNORED_SETTINGS  # read only to say they are ignored
    )
    listed = [entry.name for entry in ENTRIES]
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert set(listed) - read_by_code == set(), "listed but never read"
    assert read_by_code - set(listed) == set(), "read but not listed"


def test_every_variable_has_a_meaning_and_a_group() -> None:
    for entry in ENTRIES:
        assert entry.meaning, entry.name
        assert entry.group, entry.name


def test_sidecar_defaults_match_the_settings_code() -> None:
    for variable in VARIABLES:
        if variable.default:
            assert BY_NAME[variable.name].default == variable.default, variable.name


def test_client_number_defaults_match_the_settings_code() -> None:
    defaults = {f.name: f.default for f in fields(ClientSettings)}
    numbers = {
        "OAUTHBEARER_LOGIN_REFRESH_FRACTION": "refresh_fraction",
        "OAUTHBEARER_LOGIN_REFRESH_JITTER": "refresh_jitter",
        "OAUTHBEARER_LOGIN_CLOCK_SKEW": "clock_skew",
        "OAUTHBEARER_LOGIN_TIMEOUT": "timeout",
        "OAUTHBEARER_LOGIN_DEADLINE": "deadline",
        "OAUTHBEARER_LOGIN_BACKOFF_BASE": "backoff_base",
        "OAUTHBEARER_LOGIN_BACKOFF_MAX": "backoff_max",
        "OAUTHBEARER_LOGIN_MAX_LIFETIME": "max_lifetime",
    }
    for name, attribute in numbers.items():
        listed = BY_NAME[name].default
        assert listed is not None, name
        assert float(listed) == defaults[attribute], name


def test_check_accepts_env_example_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--env-file", str(ROOT / "env.example")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("client: client_credentials at http://127.0.0.1:3000/token")
    assert "sidecar: listening on 127.0.0.1:8080" in out


def test_readme_configuration_reference_is_generated_from_env_example() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_meaning_over_several_comment_lines_is_kept_whole() -> None:
    text = "## group\n# first half,\n# second half [default: 1]\n#A=1\n\n# stray\n\n#B=2\n"
    a, b = _reference().parse(text)
    assert (a.meaning, a.default) == ("first half, second half", "1")
    assert b.meaning == ""  # a blank line ends a comment: it is not B's
    # The README's refresh-token line was once only the second half of its sentence.
    assert BY_NAME["OAUTHBEARER_LOGIN_REFRESH_TOKEN"].meaning.startswith("refresh token")
