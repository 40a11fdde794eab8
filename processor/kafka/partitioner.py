"""Which partition a callId lands on: Kafka's Java default partitioner.

Java producers hash the key bytes with murmur2 and take ``toPositive(h) % n``.
aiokafka ships the same murmur2; using it (rather than our own) keeps Python
and Java producers agreeing on every call's partition.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


def murmur2_signed(key: bytes) -> int:
    """Kafka's ``Utils.murmur2`` as Java returns it (a signed 32-bit int)."""
    h: int = murmur2(key)
    return h - (1 << 32) if h >= (1 << 31) else h


@lru_cache(maxsize=65536)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Java's default partitioner picks for a non-null key.

    aiokafka's murmur2 is pure Python (a few µs per key); a call's events
    share one key, so a bounded cache saves most of that on hot paths.
    """
    h: int = murmur2(key)
    return (h & 0x7FFFFFFF) % partitions


class JavaCompatiblePartitioner:
    """aiokafka partitioner with Java's choice for keyed records, cached per key."""

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return (available or all_partitions)[0]
        return all_partitions[partition_for(key, len(all_partitions))]
