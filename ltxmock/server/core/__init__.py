"""The protocol core of the mock: records, storage ports, the service and everything it drives.

Nothing here knows HTTP servers, SQL or uvicorn: transports hand ``ApiRequest``s
to ``MockService`` and storage adapters implement ``ports.Store``.
"""
