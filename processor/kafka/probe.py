"""``python -m processor.kafka.probe``: exit 0 once the brokers answer a metadata request.

deploy/kafka/kafka.sh polls this to decide a local broker (or cluster) is
ready. Connection and security settings come from the ``PROCESSOR_KAFKA_*``
environment, like every other client; ``--bootstrap-servers`` overrides.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from processor.errors import ConfigError, KafkaUnavailableError
from processor.kafka.admin import probe
from processor.kafka.preflight import check_connection
from processor.settings import Settings


async def _probe(settings: Settings, timeout_s: float) -> int:
    await check_connection(settings, timeout_s)
    return await probe(settings.kafka_bootstrap_servers, timeout_s, settings)


def main() -> int:
    """Parse flags, probe once, print the outcome (exit 1: not ready, 2: misconfigured)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap-servers", default=None)
    parser.add_argument("--timeout-s", type=float, default=5.0)
    parser.add_argument(
        "--min-brokers", type=int, default=1, help="ready only when this many brokers answer"
    )
    args = parser.parse_args()
    try:
        settings = Settings()
        if args.bootstrap_servers:
            settings = settings.model_copy(
                update={"kafka_bootstrap_servers": args.bootstrap_servers}
            )
        count = asyncio.run(_probe(settings, args.timeout_s))
    except KafkaUnavailableError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ConfigError, ValueError) as exc:
        print(f"misconfigured: {exc}", file=sys.stderr)
        return 2
    if count < args.min_brokers:
        print(f"{count} of {args.min_brokers} brokers ready", file=sys.stderr)
        return 1
    print(f"ready: {count} broker(s) at {settings.kafka_bootstrap_servers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
