"""``processor <command> --help`` and flags, as a user meets them on the command line."""

from __future__ import annotations

import pytest

from processor.cli import build_parser, commands
from processor.flags import settings_from, settings_read_by
from processor.settings import Settings
from processor.settings_table import default_text

COMMANDS = tuple(commands())
POSITIONAL = {"topics": ["describe"]}


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser(commands()).parse_args([command, "--help"])
    return capsys.readouterr().out


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class TestHelp:
    def test_ingress_help_shows_only_what_the_ingress_reads(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`processor ingress --help` lists the HTTP, auth and Kafka settings, not the
        worker's, notifier's or simulator's."""
        text = help_of("ingress", capsys)
        assert "--ingress-port" in text
        assert "--auth-mode" in text
        assert "--kafka-bootstrap-servers" in text
        for foreign in ("--worker-group-id", "--notifier-slack-url", "--simulate-rate-per-s"):
            assert foreign not in text

    def test_settings_are_grouped_with_variable_and_default(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each setting shows under a titled group with its PROCESSOR_ variable and default."""
        text = help_of("ingress", capsys)
        http = text.split("Ingress HTTP settings:")[1].split("settings:")[0]
        assert "--ingress-port" in http
        assert "[PROCESSOR_INGRESS_PORT; default 8080]" in " ".join(http.split())
        assert "Kafka settings:" in text
        assert "Authentication settings:" in text

    @pytest.mark.parametrize("command", COMMANDS)
    def test_every_setting_read_is_listed(
        self, command: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A command's help lists each setting it reads with its variable, and no other."""
        text = " ".join(help_of(command, capsys).split())
        read = set(settings_read_by(command))
        for name in Settings.model_fields:
            listed = f"[PROCESSOR_{name.upper()};" in text
            assert listed == (name in read), name

    @pytest.mark.parametrize("command", [c for c in COMMANDS if c != "run"])
    def test_no_command_but_run_lists_every_setting(self, command: str) -> None:
        """Only `processor run`, which starts every process, shows all the settings."""
        assert len(settings_read_by(command)) < len(Settings.model_fields) / 2

    def test_run_lists_every_setting(self) -> None:
        """`processor run` passes its settings to every process it starts, so lists them all."""
        assert settings_read_by("run") == list(Settings.model_fields)


class TestFlags:
    @pytest.mark.parametrize("command", COMMANDS)
    def test_every_setting_read_is_settable_by_flag(self, command: str) -> None:
        """Each setting a command reads can be given as a flag, and the flag wins."""
        for name in settings_read_by(command):
            value = default_text(name) or ("true" if name == "log_json" else "7")
            argv = [command, *POSITIONAL.get(command, []), flag(name), value]
            settings = settings_from(build_parser(commands()).parse_args(argv), command)
            assert name in settings.model_fields_set, name

    def test_a_flag_the_command_does_not_read_warns_and_still_parses(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`processor simulate --worker-group-id g` does not fail (scripts keep working), but
        says the flag is not used by simulate."""
        args = build_parser(commands()).parse_args(["simulate", "--worker-group-id", "g"])
        settings = settings_from(args, "simulate")
        assert settings.worker_group_id == "g"
        assert "--worker-group-id is not used by this command" in capsys.readouterr().err
