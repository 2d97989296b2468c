"""A loopback emulator of the providers (Daily, Cal.com) for end-to-end tests, demos, benchmarks.

One Flask app: a blueprint per provider at `/<slug>/<version>` (point the hub's
SESSIONHUB_<SLUG>_API_URL there), a control plane at `/_sandbox`, shared thread-safe state, a
fault injector, and a webhook sender that signs and delivers like each provider.
"""

from __future__ import annotations

from connectors.sandbox.server import RunningSandbox, create_sandbox, sandbox_of, serve_in_thread
from connectors.sandbox.state import SandboxConfig, SandboxState

__all__ = [
    "RunningSandbox",
    "SandboxConfig",
    "SandboxState",
    "create_sandbox",
    "sandbox_of",
    "serve_in_thread",
]
