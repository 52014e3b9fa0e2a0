"""The runtimes: ``ltxmock serve`` (gunicorn + uvicorn workers) and the test kit's thread,
both running the ASGI app of ``asgi.py``. ``cli.py`` imports nothing heavy."""
