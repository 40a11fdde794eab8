"""Per-webhook metrics counted in the process: a scrape after a flush shows what direct
updates would have shown."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from processor.tally import CounterTally, HistogramTally


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


class TestHistogramTally:
    def test_flush_equals_direct_observations(self) -> None:
        """Bucket counts, sum and count after a flush match observing each value directly,
        including values on a bucket bound and past the last one."""
        amounts = [0.0, 0.0005, 0.0007, 0.01, 0.011, 2.5, 99.0, 0.3]
        direct_registry, tallied_registry = CollectorRegistry(), CollectorRegistry()
        buckets = (0.0005, 0.001, 0.01, 0.25, 2.5)
        direct = Histogram("d", "d", buckets=buckets, registry=direct_registry)
        tallied = Histogram("d", "d", buckets=buckets, registry=tallied_registry)
        tally = HistogramTally(tallied)
        for amount in amounts:
            direct.observe(amount)
            tally.observe(amount)
        assert _samples(tallied_registry)[("d_count", ())] == 0  # nothing before the flush
        tally.flush()
        tally.flush()  # a second flush adds nothing
        assert _samples(tallied_registry) == _samples(direct_registry)


class TestCounterTally:
    def test_flush_adds_the_count_once(self) -> None:
        """Three increments appear as 3 after a flush, and a second flush adds nothing."""
        registry = CollectorRegistry()
        counter = Counter("c", "c", ["route"], registry=registry)
        tally = CounterTally(counter.labels("webhook"))
        for _ in range(3):
            tally.inc()
        tally.flush()
        tally.flush()
        assert registry.get_sample_value("c_total", {"route": "webhook"}) == 3
