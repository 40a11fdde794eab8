"""What the worker does with newly assigned partitions, before any record of them is fetched."""

from __future__ import annotations

import pytest

from processor.errors import FencedError, KafkaError
from processor.settings import Settings
from processor.worker.runner import Worker


class PausingConsumer:
    """Records which partitions the worker pauses and resumes (no broker involved)."""

    def __init__(self) -> None:
        self.paused: set[int] = set()
        self.resumed: list[int] = []

    def pause(self, partition: int) -> None:
        self.paused.add(partition)

    def resume(self, partition: int) -> None:
        self.paused.discard(partition)
        self.resumed.append(partition)


def worker_adopting(outcomes: dict[int, BaseException | None]) -> tuple[Worker, PausingConsumer]:
    """A worker whose partition restores end as given (None: restored)."""
    worker = Worker(Settings())
    consumer = PausingConsumer()
    worker._consumer = consumer  # type: ignore[assignment]

    async def adopt(partition: int) -> None:
        assert partition in consumer.paused, "a partition is paused before its restore starts"
        outcome = outcomes[partition]
        if outcome is not None:
            raise outcome

    worker._adopt = adopt  # type: ignore[method-assign]
    return worker, consumer


async def test_partitions_are_fetched_only_once_their_state_is_restored() -> None:
    """A restored partition is resumed; one whose restore failed stays paused for recovery."""
    worker, consumer = worker_adopting({0: None, 1: KafkaError("broker away"), 2: None})
    await worker._on_assigned([0, 1, 2])
    assert consumer.resumed == [0, 2]
    assert consumer.paused == {1}
    assert 1 in worker._recovery


@pytest.mark.parametrize("error", [FencedError("fenced"), RuntimeError("a bug")])
async def test_a_fatal_error_in_the_assignment_callback_ends_the_worker(
    error: BaseException,
) -> None:
    """aiokafka logs and swallows a callback's exception; the worker's next step raises it,
    so a fenced worker stops instead of idling with paused partitions."""
    worker, _ = worker_adopting({0: error})
    with pytest.raises(type(error)):
        await worker._on_assigned([0])
    with pytest.raises(type(error)):
        await worker.step()
