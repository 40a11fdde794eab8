"""What `processor topics create|describe` prints about replication."""

from __future__ import annotations

from processor.kafka.admin import PartitionInfo, TopicInfo
from processor.topics import placement_lines, summary_line


def topic(*placement: PartitionInfo) -> TopicInfo:
    """A replicated topic with the given partitions."""
    return TopicInfo("recho.webhooks.v1", len(placement), 3, "delete", "2", placement)


class TestDescribe:
    def test_summary_shows_effective_configs(self) -> None:
        """One line per topic: partitions, replication, min.insync.replicas, cleanup."""
        info = topic(PartitionInfo(0, 1, (1, 2, 3), (1, 2, 3)))
        assert summary_line(info, 20) == (
            "recho.webhooks.v1     partitions=1  replication=3  "
            "min.insync.replicas=2  cleanup.policy=delete"
        )

    def test_under_replicated_partitions_are_flagged(self) -> None:
        """A partition with fewer in-sync replicas than replicas is flagged, counted on the
        topic's line, and a partition without leader says so."""
        info = topic(
            PartitionInfo(0, 1, (1, 2, 3), (1, 2, 3)),
            PartitionInfo(1, 3, (2, 3, 1), (3, 1)),
            PartitionInfo(2, -1, (3, 1, 2), ()),
        )
        lines = placement_lines(info)
        assert lines[0] == "  partition 0  leader=1  replicas=1,2,3  isr=1,2,3"
        assert lines[1] == "  partition 1  leader=3  replicas=2,3,1  isr=3,1  UNDER-REPLICATED"
        assert lines[2].startswith("  partition 2  leader=none")
        assert summary_line(info, 17).endswith("under-replicated=2")
