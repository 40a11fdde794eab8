"""``python -m processor.kafka.probe``: exit 0 once a broker answers a metadata request.

deploy/kafka/kafka.sh polls this to decide the local broker is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from processor.errors import KafkaUnavailableError
from processor.kafka.admin import probe


def main() -> int:
    """Parse flags, probe once, print the outcome."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--timeout-s", type=float, default=5.0)
    args = parser.parse_args()
    try:
        count = asyncio.run(probe(args.bootstrap_servers, args.timeout_s))
    except KafkaUnavailableError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ready: {count} broker(s) at {args.bootstrap_servers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
