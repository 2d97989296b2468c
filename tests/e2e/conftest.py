"""End-to-end fixtures: the whole stack on loopback."""

from tests.e2e.browser import chromium  # noqa: F401,E402  (fixture)
from tests.e2e.stack import stack  # noqa: F401  (fixture)
