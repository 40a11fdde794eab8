"""Which partition a callId lands on: Kafka's Java default partitioner.

Java producers hash the key bytes with murmur2 and take ``toPositive(h) % n``.
aiokafka ships the same murmur2; using it (rather than our own) keeps Python
and Java producers agreeing on every call's partition.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def murmur2_signed(key: bytes) -> int:
    """Kafka's ``Utils.murmur2`` as Java returns it (a signed 32-bit int)."""
    h: int = murmur2(key)
    return h - (1 << 32) if h >= (1 << 31) else h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Java's default partitioner picks for a non-null key."""
    h: int = murmur2(key)
    return (h & 0x7FFFFFFF) % partitions
