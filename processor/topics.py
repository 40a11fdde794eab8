"""``processor topics create|describe``: the project's topics, as the cluster has them.

``create`` makes what is missing (partitions, replication factor,
``min.insync.replicas`` = min(2, RF) unless set, compaction where it
belongs) and prints every topic's effective configuration; ``describe``
adds where each partition lives: leader, replicas, in-sync replicas, and
which partitions are under-replicated.
"""

from __future__ import annotations

from processor.entry import run_main
from processor.kafka.admin import TopicInfo, create_topics, describe_topics
from processor.settings import Settings


def command(settings: Settings, action: str) -> int:
    """Run one ``topics`` action; 0 on success, 1 when no project topic exists."""
    if action == "create":
        created = run_main(create_topics(settings))
        print(f"created: {', '.join(created)}" if created else "all topics exist")
    infos = run_main(describe_topics(settings))
    if not infos:
        print("no project topics exist; run 'processor topics create'")
        return 1
    width = max(len(i.name) for i in infos)
    for info in infos:
        print(summary_line(info, width))
        if action == "describe":
            for line in placement_lines(info):
                print(line)
    return 0


def summary_line(info: TopicInfo, width: int) -> str:
    """One topic's effective configuration on one line."""
    line = (
        f"{info.name:<{width}}  partitions={info.partitions}  "
        f"replication={info.replication_factor}  "
        f"min.insync.replicas={info.min_insync_replicas}  cleanup.policy={info.cleanup_policy}"
    )
    if info.under_replicated:
        line += f"  under-replicated={len(info.under_replicated)}"
    return line


def placement_lines(info: TopicInfo) -> list[str]:
    """One line per partition: leader, replicas, ISR, and a flag when under-replicated."""
    lines = []
    for p in info.placement:
        leader = str(p.leader) if p.leader >= 0 else "none"
        line = (
            f"  partition {p.partition}  leader={leader}  "
            f"replicas={','.join(map(str, p.replicas))}  isr={','.join(map(str, p.isr))}"
        )
        if p.under_replicated:
            line += "  UNDER-REPLICATED"
        lines.append(line)
    return lines
