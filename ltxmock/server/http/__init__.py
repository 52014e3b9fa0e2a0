"""The HTTP face of the mock: one request parser, and the Flask app (``create_app``) with
``POST /v1``, the WebSocket, the admin API and the result files."""
