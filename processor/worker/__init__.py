"""The worker: per-call state machines over the webhooks topic, exactly-once outputs."""
