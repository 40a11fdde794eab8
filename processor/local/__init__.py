"""``processor run``: the whole pipeline on one machine, with traffic and a live view."""
