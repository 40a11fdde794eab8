"""Settings as command-line flags: which command reads which setting, grouped for ``--help``.

Every setting of :class:`~processor.settings.Settings` is a flag
(``--kafka-bootstrap-servers`` for ``PROCESSOR_KAFKA_BOOTSTRAP_SERVERS``) on every
command, and a flag wins over the environment. ``processor <command> --help``
lists only the settings that command reads, in groups, each with its variable
and default; a flag the command does not read still parses, with a warning.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from processor.settings import Settings
from processor.settings_table import default_text

GROUPS: tuple[tuple[str, str], ...] = (
    ("Kafka", "kafka_"),
    ("Topics", "topic_"),
    ("Kafka producer", "producer_"),
    ("Ingress HTTP", "ingress_"),
    ("Authentication", "auth_"),
    ("Ops endpoints", "ops_"),
    ("Worker", "worker_"),
    ("Notifier", "notifier_"),
    ("Explorer", "explorer_"),
    ("Simulator", "simulate_"),
    ("Local run", "run_"),
    ("Logging", "log_"),
)
"""Help sections by name prefix, in the order they are shown. A setting matching no
prefix goes to "Other" and is listed on every command."""

OTHER = "Other"
_TOPIC_NAMES = (
    "topic_webhooks",
    "topic_call_events",
    "topic_call_state",
    "topic_call_alerts",
    "topic_dlq",
    "topic_changelog",
)
READS: dict[str, tuple[str, ...]] = {
    "ingress": ("kafka_", "topic_webhooks", "producer_", "ingress_", "auth_", "log_"),
    "worker": (
        "kafka_",
        *_TOPIC_NAMES,
        "worker_",
        "ops_",
        "ingress_host",  # ops_host's value when ops_host is not set (its former meaning)
        "log_",
    ),
    "notifier": ("kafka_", "topic_call_alerts", "notifier_", "ops_", "ingress_host", "log_"),
    "explorer": (
        "kafka_",
        "topic_call_events",
        "topic_call_state",
        "topic_call_alerts",
        "explorer_",
        "run_dir",  # the default folder of its SQLite file
        "log_",
    ),
    "simulate": ("simulate_", "auth_mode", "auth_allowed_project_ids", "log_"),
    "topics": ("kafka_", "topic_", "log_"),
    "replay": (
        "kafka_",
        "topic_dlq",
        "topic_webhooks",
        "producer_",
        "ingress_max_body_bytes",  # bounds the producer's request size
        "log_",
    ),
    "run": ("",),  # starts every other process: everything
}
"""Per command, the settings it reads: field names, or name prefixes ending in ``_``."""

_DEST = "setting__"


def _is_prefix(pattern: str) -> bool:
    return pattern == "" or pattern.endswith("_")


def group_of(name: str) -> str:
    """The help section of a setting."""
    return next((title for title, prefix in GROUPS if name.startswith(prefix)), OTHER)


def settings_read_by(command: str) -> list[str]:
    """The settings ``command`` reads, in declaration order."""
    patterns = READS.get(command, ("",))
    return [
        name
        for name in Settings.model_fields
        if group_of(name) == OTHER
        or any(name == p or (_is_prefix(p) and name.startswith(p)) for p in patterns)
    ]


def _help(name: str) -> str:
    description = Settings.model_fields[name].description or ""
    default = default_text(name)
    if Settings.model_fields[name].default == "":
        default = '""'
    shown = f"default {default}" if default else "no default"
    return f"{description} [PROCESSOR_{name.upper()}; {shown}]".replace("%", "%%")


def add_settings_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """A flag per setting: the ones ``command`` reads in titled groups, the others hidden."""
    read = set(settings_read_by(command))
    sections: dict[str, argparse._ArgumentGroup] = {}
    for title, _ in (*GROUPS, (OTHER, "")):
        if any(group_of(name) == title for name in read):
            sections[title] = parser.add_argument_group(f"{title} settings")
    for name in Settings.model_fields:
        target = sections[group_of(name)] if name in read else parser
        target.add_argument(
            "--" + name.replace("_", "-"),
            dest=_DEST + name,
            default=argparse.SUPPRESS,
            metavar="VALUE",
            help=_help(name) if name in read else argparse.SUPPRESS,
        )


def settings_from(args: argparse.Namespace, command: str) -> Settings:
    """Settings from the environment, overridden by the flags given; warns about flags
    ``command`` does not read."""
    overrides: dict[str, Any] = {
        key.removeprefix(_DEST): value for key, value in vars(args).items() if key.startswith(_DEST)
    }
    read = set(settings_read_by(command))
    for name in overrides.keys() - read:
        flag = "--" + name.replace("_", "-")
        print(f"processor {command}: {flag} is not used by this command", file=sys.stderr)
    return Settings(**overrides)
