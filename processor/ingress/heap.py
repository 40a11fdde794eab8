"""Keep the ingress's startup heap out of the garbage collector's full collections.

A full (generation 2) collection walks every tracked container in the process
and holds the event loop for as long as it takes: every request in flight, and
every request arriving meanwhile, waits for it. After startup an ingress
process holds ~62,000 such containers (modules, pydantic's schemas, aiokafka,
prometheus_client), and on the 2-core bench machine a full collection of them
took 28-77 ms. CPython runs one every ~10 s at 1,000 webhooks/s per process
(the objects of the requests in flight at a young collection are promoted and
count towards the next full one), so a 15 s paced bench run met 0 to 3 of them:
its p99 swung between ~12 and ~50 ms depending on how many.

Nothing built at startup is ever garbage (it lives as long as the process),
so it is moved to the permanent generation (:func:`gc.freeze`), which
collections never visit. Full collections then only walk what was made since,
and take 1-10 ms. Garbage made before the freeze is collected first, so none
is kept for good.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect startup's garbage, then exempt every surviving object from later
    collections; return how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
