"""Topic administration and broker readiness, through aiokafka's admin client."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError as AIOKafkaError
from aiokafka.errors import TopicAlreadyExistsError

from processor.errors import KafkaError, KafkaUnavailableError
from processor.kafka.config import common_options
from processor.kafka.lifecycle import close_within, start_client
from processor.settings import Settings


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """Where one partition lives: its leader (-1: none), replicas and in-sync replicas."""

    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        """Fewer replicas in sync than assigned: one more loss may stop acks=all writes."""
        return len(self.isr) < len(self.replicas)


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """What ``processor topics describe`` prints for one topic."""

    name: str
    partitions: int
    replication_factor: int
    cleanup_policy: str
    min_insync_replicas: str = "?"
    placement: tuple[PartitionInfo, ...] = ()

    @property
    def under_replicated(self) -> list[PartitionInfo]:
        """The partitions with fewer in-sync replicas than replicas."""
        return [p for p in self.placement if p.under_replicated]


def topic_configs(settings: Settings, name: str) -> dict[str, str]:
    """Per-topic configs: compaction for latest-value topics, min.insync.replicas."""
    replicas = {"min.insync.replicas": str(settings.min_insync_replicas())}
    if name in settings.compacted_topics():
        return {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", **replicas}
    return {"cleanup.policy": "delete", **replicas}


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**common_options(settings, "admin"), request_timeout_ms=10000)
    await start_client(admin.start(), lambda: close_within(admin.close()), "admin client")
    return admin


async def create_topics(settings: Settings) -> list[str]:
    """Create every project topic that is missing; return the names created."""
    admin = await _admin(settings)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in settings.all_topics() if t not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                name=t,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs=topic_configs(settings, t),
            )
            for t in missing
        ]
        try:
            await admin.create_topics(new, validate_only=False)
        except TopicAlreadyExistsError:
            pass  # a concurrent creator won; the topics exist, which is the goal
        except AIOKafkaError as exc:
            raise KafkaError(f"cannot create topics {missing}: {exc}") from exc
        await _wait_for_topics(admin, missing)
        return missing
    finally:
        await close_within(admin.close())


async def _wait_for_topics(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Wait until every partition of every new topic has a leader (writable)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if set(names) <= set(await admin.list_topics()):
            described = await admin.describe_topics(names)
            if all(
                t["error_code"] == 0
                and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
                for t in described
            ):
                return
        await asyncio.sleep(0.1)
    raise KafkaError(f"topics {names} did not get leaders within 30 s")


async def partition_count(settings: Settings, topic: str) -> int:
    """How many partitions a topic has (0 if it does not exist)."""
    admin = await _admin(settings)
    try:
        described = await admin.describe_topics([topic])
    finally:
        await close_within(admin.close())
    return len(described[0]["partitions"]) if described and described[0]["error_code"] == 0 else 0


async def describe_topics(settings: Settings) -> list[TopicInfo]:
    """Partitions, replication, placement and configs of every project topic that exists."""
    admin = await _admin(settings)
    try:
        existing = set(await admin.list_topics())
        names = [t for t in settings.all_topics() if t in existing]
        if not names:
            return []
        described = await admin.describe_topics(names)
        configs = await _configs(admin, names)
        infos: list[TopicInfo] = []
        for topic in described:
            placement = tuple(
                PartitionInfo(p["partition"], p["leader"], tuple(p["replicas"]), tuple(p["isr"]))
                for p in sorted(topic["partitions"], key=lambda p: p["partition"])
            )
            rf = len(placement[0].replicas) if placement else 0
            own = configs.get(topic["topic"], {})
            infos.append(
                TopicInfo(
                    topic["topic"],
                    len(placement),
                    rf,
                    own.get("cleanup.policy", "?"),
                    own.get("min.insync.replicas", "?"),
                    placement,
                )
            )
        return sorted(infos, key=lambda i: names.index(i.name))
    except AIOKafkaError as exc:
        raise KafkaError(f"cannot describe topics: {exc}") from exc
    finally:
        await close_within(admin.close())


async def _configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    """``cleanup.policy`` and ``min.insync.replicas`` of each topic as the broker reports."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, None) for name in names]
    wanted = {"cleanup.policy", "min.insync.replicas"}
    configs: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for _code, _msg, _type, name, entries in response.resources:
            configs[name] = {e[0]: e[1] for e in entries if e[0] in wanted}
    return configs


async def probe(bootstrap_servers: str, timeout_s: float, settings: Settings | None = None) -> int:
    """Broker count from one metadata request; raise if none answers in time.

    An open port is not a ready broker: this asks for cluster metadata and
    only succeeds once the broker lists itself. ``settings`` carry the
    security options (default: PLAINTEXT).
    """
    base = settings if settings is not None else Settings.model_construct()
    options = common_options(
        base.model_copy(update={"kafka_bootstrap_servers": bootstrap_servers}), "probe"
    )
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=int(timeout_s * 1000))
    # A refused connection is an answer here, not an error worth aiokafka's ERROR line.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
    except (AIOKafkaError, TimeoutError, OSError) as exc:
        raise KafkaUnavailableError(f"no Kafka broker ready at {bootstrap_servers}") from exc
    finally:
        await close_within(admin.close())
        quiet.setLevel(level)
    brokers = cluster.get("brokers", [])
    if not brokers:
        raise KafkaUnavailableError(f"Kafka at {bootstrap_servers} lists no brokers yet")
    return len(brokers)


# Kafka's own default for ``message.max.bytes`` / ``max.message.bytes`` (1 MiB + 12).
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1048588


async def max_message_bytes(settings: Settings, topic: str) -> int:
    """The largest record batch ``topic`` accepts: its effective ``max.message.bytes``.

    A topic that does not exist yet would be created with the broker's
    ``message.max.bytes``, so that is read instead. Kafka's default is assumed
    when neither can be read (an ACL that forbids DescribeConfigs, say).
    """
    admin = await _admin(settings)
    try:
        existing = set(await admin.list_topics())
        if topic in existing:
            resource = ConfigResource(ConfigResourceType.TOPIC, topic, None)
            wanted = "max.message.bytes"
        else:
            cluster = await admin.describe_cluster()
            broker = str(cluster["brokers"][0]["node_id"])
            resource = ConfigResource(ConfigResourceType.BROKER, broker, None)
            wanted = "message.max.bytes"
        responses = await admin.describe_configs([resource])
    except (AIOKafkaError, KeyError, IndexError):
        return KAFKA_DEFAULT_MAX_MESSAGE_BYTES
    finally:
        await admin.close()
    for response in responses:
        for _code, _msg, _type, _name, entries in response.resources:
            for entry in entries:
                if entry[0] == wanted and entry[1] is not None:
                    return int(entry[1])
    return KAFKA_DEFAULT_MAX_MESSAGE_BYTES
