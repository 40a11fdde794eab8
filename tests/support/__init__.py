"""What unit and integration tests share beyond payloads (those are in tests/factories.py).

- :mod:`tests.support.asgi`: reading a request body and calling an ASGI app in-process;
- :mod:`tests.support.servers`: real HTTP servers in this event loop (uvicorn on a free
  loopback port), :class:`~tests.support.servers.RecordingServer` among them, and
  :func:`~tests.support.servers.free_port`;
- :mod:`tests.support.fake_ingress`: a recording ingress the simulator posts to.
"""
