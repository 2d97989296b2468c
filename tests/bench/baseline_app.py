"""The ingestion baseline: a bare Flask route that reads the body and answers 200, served by
gunicorn with the same deploy/gunicorn.conf.py as the hub."""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/webhooks/calcom")
def receive() -> tuple[object, int]:
    """Read the body, answer like the hub does (a small JSON body), store nothing."""
    request.get_data(cache=True)
    return jsonify({"status": "accepted", "delivery_id": 0}), 200
