"""Partition choice by callId must match Kafka's Java default partitioner."""

from __future__ import annotations

import pytest

from processor.kafka.partitioner import murmur2_signed, partition_for

# Expected values from Apache Kafka's own UtilsTest.testMurmur2 (Java).
JAVA_MURMUR2 = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


class TestMurmur2:
    @pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2)
    def test_matches_java_utils_murmur2(self, key: bytes, expected: int) -> None:
        """The hash equals Java's Utils.murmur2 for Kafka's reference vectors."""
        assert murmur2_signed(key) == expected


class TestPartitionFor:
    @pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2)
    @pytest.mark.parametrize("partitions", [1, 3, 6, 12, 100])
    def test_matches_java_to_positive_modulo(
        self, key: bytes, expected: int, partitions: int
    ) -> None:
        """The partition is Java's toPositive(murmur2(key)) % numPartitions."""
        assert partition_for(key, partitions) == (expected & 0x7FFFFFFF) % partitions

    def test_same_call_id_same_partition(self) -> None:
        """A callId always maps to the same partition, whatever else is sent."""
        picks = {partition_for(b"c-1001", 6) for _ in range(100)}
        assert len(picks) == 1

    def test_spreads_call_ids(self) -> None:
        """Many callIds spread over every partition (no hot partition by construction)."""
        counts = [0] * 6
        for i in range(6000):
            counts[partition_for(f"call-{i}".encode(), 6)] += 1
        assert min(counts) > 800
