"""Staff login lockout: after 5 failures in a row a username is locked for 1, 2, 4 ... minutes (429 with
Retry-After), saying and costing the same whether or not it exists; an IP is locked after 20."""
from __future__ import annotations

import threading

import pytest

from chalicelib.admin import login as staff_login
from chalicelib.admin import service
from chalicelib.admin.passwords import ScryptCost
from tests.conftest import staff_token

FAST = ScryptCost(n=2**4, r=8, p=1)
PASSWORD = "clerk-pass-123"


@pytest.fixture
def clerk(client):
    service.create_staff("clerk", PASSWORD, "operator", cost=FAST)



def attempt(client, username="clerk", password="a-wrong-guess"):
    return client.post("/admin/login", {"username": username, "password": password})


def code(response) -> str | None:
    return (response.data or {}).get("error", {}).get("code")


def test_five_failures_lock_the_username_for_a_minute_even_for_the_right_password(client, clerk, frozen_clock):
    for _ in range(5):
        assert code(attempt(client)) == "INVALID_CREDENTIALS"
    locked = attempt(client, password=PASSWORD)
    assert (locked.status_code, code(locked)) == (429, "LOGIN_LOCKED"), locked.data
    assert locked.headers["Retry-After"] == "60"
    frozen_clock.advance(seconds=59)
    assert attempt(client, password=PASSWORD).headers["Retry-After"] == "1"
    frozen_clock.advance(seconds=1)
    assert attempt(client, password=PASSWORD).status_code == 200, "the lock lifts, and a success clears the count"
    assert code(attempt(client)) == "INVALID_CREDENTIALS", "counting starts over"
    assert code(attempt(client)) == "INVALID_CREDENTIALS"


def test_each_failure_past_the_limit_doubles_the_lock_up_to_its_cap(client, clerk, frozen_clock, monkeypatch):
    monkeypatch.setenv("MALL_STAFF_LOGIN_MAX_LOCK_SECONDS", "300")
    for _ in range(5):
        attempt(client)
    waits = []
    for _ in range(5):
        locked = attempt(client)
        waits.append(int(locked.headers["Retry-After"]))
        frozen_clock.advance(seconds=waits[-1])
        assert code(attempt(client)) == "INVALID_CREDENTIALS", "one more guess after each lock, which locks again"
    assert waits == [60, 120, 240, 300, 300]


def test_an_unknown_username_is_locked_alike_so_the_lock_reveals_nothing(client, clerk, monkeypatch):
    from chalicelib.admin import passwords

    checked = []
    real_verify = passwords.verify_password
    monkeypatch.setattr(staff_login, "verify_password", lambda pw, stored: checked.append(stored) or real_verify(pw, stored))
    answers = {}
    for username in ("clerk", "nobody"):
        for _ in range(5):
            attempt(client, username)
        answers[username] = attempt(client, username)
    assert len(checked) == 10, "every unlocked attempt checks a hash, a dummy one for an unknown user"
    known, unknown = answers["clerk"], answers["nobody"]
    assert (known.status_code, known.data, known.headers["Retry-After"]) == \
           (unknown.status_code, unknown.data, unknown.headers["Retry-After"])
    assert known.data["error"]["message"] == "too many failed logins; try again in 60 s"


def test_a_source_ip_is_locked_after_twenty_failures_over_any_usernames(client, clerk, from_ip):
    from_ip("203.0.113.7")
    for n in range(20):
        assert code(attempt(client, f"guess{n}")) == "INVALID_CREDENTIALS"
    assert code(attempt(client, password=PASSWORD)) == "LOGIN_LOCKED", "the IP is locked for every username"
    from_ip("198.51.100.9")
    assert attempt(client, password=PASSWORD).status_code == 200, "another IP is not"


def test_an_owner_unlocks_a_username(client, clerk):
    service.create_staff("boss", "boss-pass-123", "owner", cost=FAST)
    for _ in range(5):
        attempt(client)
    assert code(attempt(client, password=PASSWORD)) == "LOGIN_LOCKED"
    unlocked = client.as_token(staff_token("boss", "owner")).post("/admin/staff/clerk/unlock")
    assert unlocked.status_code == 200 and unlocked.data == {"username": "clerk", "was_locked": True}
    assert attempt(client, password=PASSWORD).status_code == 200
    again = client.as_token(staff_token("boss", "owner")).post("/admin/staff/clerk/unlock")
    assert again.data == {"username": "clerk", "was_locked": False}


def test_wrong_current_passwords_count_towards_the_lock(client, clerk):
    token = attempt(client, password=PASSWORD).data["token"]
    for _ in range(5):
        wrong = client.as_token(token).put("/admin/me/password", {"current_password": "guess",
                                                                  "new_password": "new-pass-456"})
        assert code(wrong) == "WRONG_PASSWORD"
    assert code(attempt(client, password=PASSWORD)) == "LOGIN_LOCKED"


@pytest.mark.parametrize("repeat", range(3))
def test_concurrent_failures_are_each_counted_once(client, clerk, atomic_dynamodb, repeat):
    from chalicelib.core.limits import WRITE_ATTEMPTS
    from chalicelib.core.models import LimitState

    # Each lost write is another racer's win and each racer wins once, so a racer loses at most (racers - 1) times:
    # with as many racers as write attempts every failure counts. (Past that a racer may give up uncounted, and the
    # others' failures, counted, still lock the name: the lock is what matters, not the exact count.)
    racers = WRITE_ATTEMPTS
    threads = [threading.Thread(target=staff_login.STAFF_LOGIN_LOCKOUT.record_failure, args=({"user": "clerk"}, {}))
               for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = LimitState.get("staff_login#user#clerk")
    assert (state.failures, state.version) == (racers, racers), f"{racers} failures raced, counted {state.failures}"
    assert state.locked_until is not None
