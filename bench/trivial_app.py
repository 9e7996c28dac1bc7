"""The requests-per-second floor: a Flask endpoint that does nothing, served like our server."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping():  # type: ignore[no-untyped-def]
    return jsonify({"ok": True})
