"""Secrets and tokens never reach the dashboard's raw-body and header views."""

from __future__ import annotations

import json

from app.masking import MASK, mask_body, mask_headers, mask_text


def test_json_fields_named_like_credentials_are_masked_at_any_depth() -> None:
    raw = json.dumps(
        {
            "id": "evt_1",
            "data": {
                "object": {"client_secret": "pi_123_secret_456", "amount": 500},
                "tokens": [{"access_token": "ya29.a", "refresh_token": "1//r"}],
            },
            "password": "hunter2",
            "api_key": "k",
            "clientState": "graph-secret",
            "signature": "v1=feedface",
            "empty_token": "",
        }
    ).encode()
    shown = mask_body(raw, "application/json")
    for secret in (
        "pi_123_secret_456",
        "ya29.a",
        "1//r",
        "hunter2",
        '"k"',
        "graph-secret",
        "feedface",
    ):
        assert secret not in shown
    data = json.loads(shown)
    assert data["id"] == "evt_1"
    assert data["data"]["object"]["amount"] == 500
    assert data["data"]["tokens"] == MASK  # the whole credential-named subtree
    assert data["empty_token"] == ""  # nothing to hide


def test_credentials_inside_free_text_values_are_masked() -> None:
    shown = mask_body(
        b'{"note": "call with Bearer abcdefghijklmnop please", "k": "sk_live_abcdefgh12"}'
    )
    assert "abcdefghijklmnop" not in shown
    assert "sk_live_abcdefgh12" not in shown
    assert "call with" in shown


def test_headers_with_credentials_are_masked() -> None:
    shown = mask_headers(
        {
            "Authorization": "Bearer x",
            "Cookie": "session=abc",
            "Stripe-Signature": "t=1,v1=abc",
            "x-cal-signature-256": "deadbeef",
            "webhook-signature": "v1,xyz",
            "x-goog-channel-token": "chan-secret",
            "content-type": "application/json",
        }
    )
    assert shown["content-type"] == "application/json"
    assert all(v == MASK for k, v in shown.items() if k != "content-type")


def test_forms_text_and_binary_bodies() -> None:
    form = mask_body(b"token=abc&name=Ann&client_secret=z", "application/x-www-form-urlencoded")
    assert form.splitlines() == [f"token={MASK}", "name=Ann", f"client_secret={MASK}"]
    text = mask_text("retry failed: password=hunter2; api_key: 'k123' ok")
    assert "hunter2" not in text
    assert "k123" not in text
    assert "retry failed" in text
    assert "not shown" in mask_body(b"\xff\xfe\x00binary")
    assert mask_body(b"{not json") == "{not json"
