"""E-mail over SMTP (SESSIONHUB_SMTP_URL: smtp://[user:pass@]host:port, smtps:// for TLS)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlparse


class MailNotConfigured(Exception):  # noqa: N818 - reads as the state
    """No SMTP URL is configured."""


def send(smtp_url: str | None, message: EmailMessage, timeout: float = 10.0) -> None:
    """Send one message; smtplib errors propagate (the job retries)."""
    if not smtp_url:
        raise MailNotConfigured("SESSIONHUB_SMTP_URL is not set")
    url = urlparse(smtp_url)
    secure = url.scheme == "smtps"
    host, port = url.hostname or "127.0.0.1", url.port or (465 if secure else 25)
    client_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
    with client_class(host, port, timeout=timeout) as client:
        if url.scheme == "smtp+starttls":
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)
