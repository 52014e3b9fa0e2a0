"""``ltxmock proxy``: a validating, drift-reporting, recording proxy in front of the real API.

Layered like ``ltxmock.server``, and built on its protocol core (which also
holds the cassette format the recorder writes, ``server.core.cassette``):
``contract`` (openapi-core's checks against the loaded documents), ``drift``
(the protocol rules and the drift log), ``checks`` (all of them and the
recorder, for one exchange), ``checker`` (the process that runs them, off the
forwarding path), ``app`` (the ASGI app) and ``cli`` (the subcommand).
Importing this package imports none of them.
"""
