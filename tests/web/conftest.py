"""Web fixtures: the real application on a real test server, with staff and admin accounts.

tests/web is a package (it has __init__.py) so this file is imported as `web.conftest` and
never shadows tests/conftest.py for modules that `from conftest import ...`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.staff_accounts import add_staff
from bot.web.app import build_app
from web.webtools import PASSWORD


@pytest.fixture
async def web(services) -> AsyncIterator[TestClient]:
    """A client on the application built from the test services (cookies kept between requests)."""
    client = TestClient(TestServer(build_app(services)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def accounts(services):
    """One staff member and one administrator, password PASSWORD."""
    staff = await add_staff(services.sessions, "alice", PASSWORD, "staff", display_name="Alice")
    admin = await add_staff(services.sessions, "root", PASSWORD, "admin", display_name="Admin")
    return staff, admin
