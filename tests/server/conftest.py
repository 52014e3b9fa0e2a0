"""The server tests' fixtures: ``clock``, ``mock_config``, ``mock_app``, ``service`` and
``client`` (tests/support/app_fixtures.py, shared with the dashboard's tests)."""

from support.app_fixtures import client, clock, mock_app, mock_config, service

__all__ = ["client", "clock", "mock_app", "mock_config", "service"]
