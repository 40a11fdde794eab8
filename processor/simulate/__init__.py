"""Simulate the Recho platform: sign and send webhooks like it does."""
