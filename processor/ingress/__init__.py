"""The ingress: signed Recho webhooks in, a durable Kafka write out."""
