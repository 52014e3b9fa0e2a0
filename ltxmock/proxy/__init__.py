"""``ltxmock proxy``: a validating, drift-reporting, recording proxy in front of the real API.

Layered like ``ltxmock.server``: ``contract`` (openapi-core's checks against the
loaded documents), ``drift`` (the protocol rules and the drift log),
``cassette`` (the recording format, read back by ``server.core.replay``),
``checks`` (all of them and the recorder, for one exchange), ``checker`` (the
process that runs them, off the forwarding path), ``app`` (the ASGI app) and
``cli`` (the subcommand). Importing this package imports none of them.
"""
