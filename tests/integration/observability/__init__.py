"""End-to-end observability: a real Prometheus scraping the pipeline under simulated traffic."""
