"""The HTTP plumbing every component shares: ASGI types, JSON answers, the ops endpoints.

The ingress serves webhooks with it; the worker, the notifier and the explorer
serve ``/metrics``, ``/healthz`` and ``/readyz`` with :mod:`processor.http.ops`.
"""
