"""The ``processor`` console script: one subcommand per process of the pipeline.

Every setting of :class:`~processor.settings.Settings` is also a flag
(``--kafka-bootstrap-servers`` for ``PROCESSOR_KAFKA_BOOTSTRAP_SERVERS``);
a flag wins over the environment. ``--help`` shows a command the settings it
reads (processor/flags.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from processor.entry import run_main
from processor.errors import ConfigError, ProcessorError
from processor.flags import add_settings_flags, settings_from
from processor.logs import configure_logging
from processor.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]


def _topics(settings: Settings, args: argparse.Namespace) -> int:
    from processor.topics import command

    return command(settings, args.action)


def _ingress(settings: Settings, args: argparse.Namespace) -> int:
    from processor.ingress.server import serve

    return serve(settings)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from processor.worker.command import command

    return command(settings)


def _parse_time_ms(text: str) -> int:
    """Epoch milliseconds from an ISO 8601 time or an integer of epoch ms."""
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from processor.replay import ReplayFilter, replay_dlq

    if not args.from_dlq:
        print("processor replay: say what to replay: --from-dlq", file=sys.stderr)
        return 2
    selection = ReplayFilter(
        call_id=args.call_id,
        since_ms=_parse_time_ms(args.since) if args.since else None,
        until_ms=_parse_time_ms(args.until) if args.until else None,
        reason=args.reason,
    )
    report = run_main(replay_dlq(settings, selection, dry_run=args.dry_run))
    verb = "would replay" if args.dry_run else "replayed"
    print(f"scanned {report.scanned} dead letters, {verb} {report.replayed}")
    if report.skipped_unreadable:
        print(f"skipped {report.skipped_unreadable} unreadable dead letters", file=sys.stderr)
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from processor.simulate.command import command

    return command(settings, args)


def _notifier(settings: Settings, args: argparse.Namespace) -> int:
    from processor.notifier.command import command

    return command(settings)


def _explorer(settings: Settings, args: argparse.Namespace) -> int:
    from processor.explorer.command import command

    return command(settings)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from processor.local.command import command

    return command(settings, start_kafka=args.start_kafka)


def build_parser(commands: dict[str, tuple[str, Command]]) -> argparse.ArgumentParser:
    """The argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="processor", description="Recho call-webhook pipeline: ingress, worker, notifier."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, _) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == "topics":
            p.add_argument("action", choices=["create", "describe"])
        if name == "simulate":
            from processor.simulate.command import add_arguments

            add_arguments(p)
        if name == "replay":
            p.add_argument("--from-dlq", action="store_true", help="replay dead letters")
            p.add_argument("--call-id", help="only this callId")
            p.add_argument("--since", help="failed at or after (ISO 8601 or epoch ms)")
            p.add_argument("--until", help="failed at or before (ISO 8601 or epoch ms)")
            p.add_argument("--reason", help="only this DLQ reason (e.g. invalid_contract)")
            p.add_argument("--dry-run", action="store_true", help="count, do not write")
        if name == "run":
            p.add_argument(
                "--start-kafka",
                action="store_true",
                help="start the local broker of deploy/kafka first (make run does)",
            )
        # the usage line names the command's own arguments; settings are listed below it
        p.usage = p.format_usage().removeprefix("usage: ").rstrip() + " [--SETTING VALUE ...]"
        add_settings_flags(p, name)
    return parser


def commands() -> dict[str, tuple[str, Command]]:
    """Every subcommand: its help line and its function."""
    return {
        "ingress": (
            "Serve the webhook endpoint and write each webhook to Kafka.",
            _ingress,
        ),
        "worker": (
            "Run the per-call state machines with exactly-once outputs.",
            _worker,
        ),
        "notifier": ("Deliver alerts to Alertmanager and webhooks.", _notifier),
        "explorer": ("Serve the call explorer: API and web pages over the outputs.", _explorer),
        "run": ("Run ingress, worker, notifier and simulated traffic locally.", _run),
        "simulate": ("Send realistic Recho webhook traffic to an ingress.", _simulate),
        "topics": ("Create or describe the project's Kafka topics.", _topics),
        "replay": ("Re-drive dead-lettered webhooks after a fix.", _replay),
    }


# Commands whose clients talk to Kafka: their connection settings are checked first.
KAFKA_COMMANDS = frozenset({"ingress", "worker", "notifier", "run", "topics", "replay"})


def _one_line(exc: ValidationError) -> str:
    """Each problem as SETTING: message, without the values (they may be secrets)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        parts.append(f"PROCESSOR_{field.upper()}: {message}" if field else message)
    return "; ".join(parts)


def _check_kafka_connection(settings: Settings) -> None:
    """Fail fast, with one line, on security settings the brokers will not accept."""
    from processor.kafka.preflight import check_connection

    try:
        asyncio.run(check_connection(settings))
    except ConfigError as exc:
        raise ConfigError(f"Kafka connection misconfigured: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``processor`` console script."""
    table = commands()
    args = build_parser(table).parse_args(argv)
    try:
        settings = settings_from(args, args.command)
    except ValidationError as exc:
        print(f"processor: invalid settings: {_one_line(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"processor: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_json)
    try:
        if args.command in KAFKA_COMMANDS:
            _check_kafka_connection(settings)
        return table[args.command][1](settings, args)
    except ProcessorError as exc:
        print(f"processor: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
