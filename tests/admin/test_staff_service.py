"""Staff service rules that no single HTTP call shows: bootstrap, races, the owner tally."""
import threading

import pytest

from chalicelib.admin import service
from chalicelib.admin.models import OWNER_TALLY_KEY, ActiveOwnerTally
from chalicelib.admin.passwords import ScryptCost
from chalicelib.core.errors import BadRequest, Unauthorized

FAST = ScryptCost(n=2**4, r=8, p=1)
RACE_ROUNDS = 10


@pytest.fixture
def tables(aws, frozen_clock):
    yield


def active_owner_tally() -> int:
    return ActiveOwnerTally.get(OWNER_TALLY_KEY, consistent_read=True).active_owners


def run_together(*actions):
    """Start every action at once on its own thread; returns each one's result or exception."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        barrier.wait()
        try:
            outcomes[index] = action()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_ensure_admin_creates_the_owner_once(tables):
    assert service.ensure_admin("admin", "admin", cost=FAST) is True
    assert service.ensure_admin("admin", "another", cost=FAST) is False
    assert service.login("admin", "admin", cost=FAST).role == "owner"
    with pytest.raises(Unauthorized):
        service.login("admin", "another", cost=FAST)
    assert active_owner_tally() == 1


def test_ensure_admin_leaves_an_existing_account_as_it_is(tables):
    service.create_staff("admin", "owner-pass-123", "operator", cost=FAST)
    assert service.ensure_admin("admin", "admin", cost=FAST) is False
    assert service.get_staff("admin").role == "operator"


def test_ensure_admin_refuses_an_empty_password(tables):
    with pytest.raises(BadRequest):
        service.ensure_admin("admin", "", cost=FAST)


def test_racing_starts_create_the_admin_exactly_once(tables, atomic_dynamodb):
    for round_number in range(RACE_ROUNDS):
        username = f"admin{round_number}"
        outcomes = run_together(*[lambda: service.ensure_admin(username, "admin", cost=FAST)] * 4)
        assert sorted(outcomes, key=str) == [False, False, False, True], outcomes
    assert active_owner_tally() == RACE_ROUNDS


def test_two_owners_demoting_each_other_at_once_leave_one_owner(tables, atomic_dynamodb):
    service.create_staff("amy", "owner-pass-123", "owner", cost=FAST)
    service.create_staff("bob", "owner-pass-123", "owner", cost=FAST)
    for _ in range(RACE_ROUNDS):
        service.update_staff("amy", role="owner", disabled=False)
        service.update_staff("bob", role="owner", disabled=False)
        assert active_owner_tally() == 2
        outcomes = run_together(lambda: service.update_staff("amy", role="operator"),
                                lambda: service.update_staff("bob", disabled=True))
        refused = [outcome for outcome in outcomes if isinstance(outcome, service.LastActiveOwner)]
        assert len(refused) == 1, f"expected exactly one refusal, got {outcomes}"
        owners = [account.username for account in service.list_staff() if account.is_active_owner]
        assert len(owners) == 1 and active_owner_tally() == 1, f"owners {owners}, tally {active_owner_tally()}"


def test_the_tally_item_is_never_listed_as_staff(tables):
    service.create_staff("boss", "owner-pass-123", "owner", cost=FAST)
    assert [account.username for account in service.list_staff()] == ["boss"]


@pytest.mark.parametrize("username, role, password", [
    ("Boss", "owner", "pw-123456"),
    ("boss\n", "owner", "pw-123456"),
    ("#active-owners", "owner", "pw-123456"),
    ("boss", "root", "pw-123456"),
    ("boss", "owner", ""),
])
def test_create_staff_refuses_bad_values_from_any_caller(tables, username, role, password):
    with pytest.raises(BadRequest):
        service.create_staff(username, password, role, cost=FAST)


def test_a_login_that_needs_no_rehash_keeps_the_stored_hash(tables, frozen_clock):
    service.create_staff("boss", "owner-pass-123", "owner", cost=FAST)
    before = service.get_staff("boss").password_hash
    service.login("boss", "owner-pass-123", cost=FAST)
    after = service.get_staff("boss")
    assert after.password_hash == before
    assert after.last_login_at == frozen_clock.now()
