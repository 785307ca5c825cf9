"""Standard Webhooks: the reference library verifies what we send; our verifier refuses forgeries."""

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from tickets_support import make_secret

from cti.tickets import payload, signing
from cti.tickets.settings import TicketsSettings

BODY = json.dumps({"type": "ticket.created", "version": "1", "timestamp": "2027-01-04T02:00:00Z",
                   "data": {"id": "t1", "summary": "楼道噪音扰民"}}, ensure_ascii=False).encode()


def test_reference_library_verifies_our_signature():
    secret = make_secret(7)
    headers = signing.sign_headers([secret], "msg_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers)["data"]["summary"] == "楼道噪音扰民"


def test_during_rotation_a_receiver_with_either_secret_verifies():
    old, new = make_secret(1), make_secret(2)
    headers = signing.sign_headers([new, old], "msg_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(make_secret(3)).verify(BODY, headers)


def test_reference_library_rejects_a_changed_body():
    secret = make_secret(7)
    headers = signing.sign_headers([secret], "msg_3", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"t1", b"t2"), headers)


def test_we_verify_what_the_reference_library_signs():
    secret = make_secret(9)
    now = int(time.time())
    sig = Webhook(secret).sign("msg_4", _dt(now), BODY.decode())
    headers = {"webhook-id": "msg_4", "webhook-timestamp": str(now), "webhook-signature": sig}
    assert signing.verify([make_secret(1), secret], headers, BODY, now, 300) == "msg_4"


def _dt(epoch):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda h: h | {"webhook-signature": "v1,AAAA"}, "no valid v1 signature"),
    (lambda h: h | {"webhook-timestamp": str(int(h["webhook-timestamp"]) - 301)}, "outside"),
    (lambda h: h | {"webhook-timestamp": "soon"}, "not an integer"),
    (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, "missing"),
    (lambda h: h | {"webhook-id": "msg_other"}, "no valid v1 signature"),
])
def test_our_verifier_refuses(change, reason):
    secret = make_secret(5)
    now = int(time.time())
    headers = change(signing.sign_headers([secret], "msg_5", now, BODY))
    with pytest.raises(signing.SignatureError, match=reason):
        signing.verify([secret], headers, BODY, now, 300)


def test_new_secret_is_accepted_by_the_settings_and_the_library():
    secret = signing.new_secret()
    TicketsSettings(secrets=[secret])
    Webhook(secret)


@pytest.mark.parametrize("bad", ["abc", "whsec_!!!", "whsec_AAAA"])
def test_settings_refuse_a_bad_secret(bad):
    with pytest.raises(ValueError):
        TicketsSettings(secrets=[bad])


def test_payload_envelope_is_versioned_and_compact():
    body = json.loads(payload.envelope("ticket.created", {"id": "t1"}, _dt(1800000000)))
    assert body == {"type": "ticket.created", "version": "1", "timestamp": "2027-01-15T08:00:00Z",
                    "data": {"id": "t1"}}
    assert set(payload.SCHEMA["required"]) == set(body)
    assert payload.recording("2027/01/rec-1.wav", "https://rec.example/r") == {
        "ref": "2027/01/rec-1.wav", "url": "https://rec.example/r/2027/01/rec-1.wav"}
