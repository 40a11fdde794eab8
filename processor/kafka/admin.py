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
from processor.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """What ``processor topics describe`` prints for one topic."""

    name: str
    partitions: int
    replication_factor: int
    cleanup_policy: str


def topic_configs(settings: Settings, name: str) -> dict[str, str]:
    """Per-topic configs: compaction for latest-value topics."""
    if name in settings.compacted_topics():
        return {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}
    return {"cleanup.policy": "delete"}


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**common_options(settings, "admin"), request_timeout_ms=10000)
    try:
        await admin.start()
    except AIOKafkaError as exc:
        await admin.close()
        raise KafkaUnavailableError(f"cannot reach Kafka: {exc}") from exc
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
        await admin.close()


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
        await admin.close()
    return len(described[0]["partitions"]) if described and described[0]["error_code"] == 0 else 0


async def describe_topics(settings: Settings) -> list[TopicInfo]:
    """Partitions, replication and cleanup policy of every project topic that exists."""
    admin = await _admin(settings)
    try:
        existing = set(await admin.list_topics())
        names = [t for t in settings.all_topics() if t in existing]
        if not names:
            return []
        described = await admin.describe_topics(names)
        policies = await _cleanup_policies(admin, names)
        infos: list[TopicInfo] = []
        for topic in described:
            partitions = topic["partitions"]
            rf = len(partitions[0]["replicas"]) if partitions else 0
            infos.append(TopicInfo(topic["topic"], len(partitions), rf, policies[topic["topic"]]))
        return sorted(infos, key=lambda i: names.index(i.name))
    finally:
        await admin.close()


async def _cleanup_policies(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, str]:
    """``cleanup.policy`` of each topic as the broker reports it."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, None) for name in names]
    policies: dict[str, str] = {}
    for response in await admin.describe_configs(resources):
        for _code, _msg, _type, name, entries in response.resources:
            policies[name] = next((e[1] for e in entries if e[0] == "cleanup.policy"), "?")
    return policies


async def probe(bootstrap_servers: str, timeout_s: float) -> int:
    """Broker count from one metadata request; raise if none answers in time.

    An open port is not a ready broker: this asks for cluster metadata and
    only succeeds once the broker lists itself.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="recho-processor-probe",
        request_timeout_ms=int(timeout_s * 1000),
    )
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
        await admin.close()
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
