"""The reference a team writes by hand: verify, parse, ``send_and_wait``, answer.

One process, one awaited aiokafka ``send_and_wait`` per request (acks=all so
its 2xx means the same as ours), the same RSA verification. Run as
``python -m tests.bench.naive_receiver PORT BOOTSTRAP TOPIC PUBLIC_KEY_PEM``.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import uvicorn
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.asgi import read_body


def build(bootstrap: str, topic: str, key_path: str) -> Any:
    public_key = serialization.load_pem_public_key(Path(key_path).read_bytes())
    assert isinstance(public_key, rsa.RSAPublicKey)
    state: dict[str, AIOKafkaProducer] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["p"] = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
                    await state["p"].start()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await state["p"].stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = await read_body(receive)
        headers = dict(scope["headers"])
        timestamp = headers.get(b"x-recho-timestamp", b"")
        signature = base64.b64decode(headers.get(b"x-recho-signature", b""))
        public_key.verify(signature, timestamp + b"." + body, padding.PKCS1v15(), hashes.SHA256())
        call_id = json.loads(body)["body"]["data"]["callId"]
        meta = await state["p"].send_and_wait(topic, body, key=call_id.encode())
        answer = json.dumps({"offset": meta.offset}).encode()
        await send({"type": "http.response.start", "status": 202,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": answer})

    return app


if __name__ == "__main__":
    port, bootstrap, topic, key = sys.argv[1:5]
    uvicorn.run(build(bootstrap, topic, key), host="127.0.0.1", port=int(port),
                log_level="warning", access_log=False)  # fmt: skip
