"""The notifier: recho.call-alerts.v1 -> Alertmanager (API v2), JSON webhook, Slack-style webhook.

- :mod:`~processor.notifier.grouping`: the alert as read, burst grouping,
  memory of delivered ids (pure).
- :mod:`~processor.notifier.sinks`: one class per destination.
- :mod:`~processor.notifier.delivery`: retries, and each alert sent once per sink.
- :mod:`~processor.notifier.offsets`: which offsets may be committed (pure).
- :mod:`~processor.notifier.runner`: consume, deliver, then commit.
- :mod:`~processor.notifier.command`: the ``processor notifier`` process.
"""

from processor.errors import DeliveryError
from processor.notifier.command import command, run_notifier
from processor.notifier.delivery import ReliableSink
from processor.notifier.grouping import Alert, AlertGroup, Grouper, RecentIds, parse_alert
from processor.notifier.runner import Notifier
from processor.notifier.sinks import (
    AlertmanagerSink,
    Sink,
    SlackSink,
    WebhookSink,
    build_sinks,
)

__all__ = [
    "Alert",
    "AlertGroup",
    "AlertmanagerSink",
    "DeliveryError",
    "Grouper",
    "Notifier",
    "RecentIds",
    "ReliableSink",
    "Sink",
    "SlackSink",
    "WebhookSink",
    "build_sinks",
    "command",
    "parse_alert",
    "run_notifier",
]
