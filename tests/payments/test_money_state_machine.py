"""The whole money path as a hypothesis state machine: orders are submitted, prepaid, paid with either provider
(genuinely, twice, late, for the wrong amount, with the notification lost), cancelled by the buyer or the
sweeper, refunded (approved with every outcome a provider can give, rejected, retried) and reconciled, in any
order. After every step:

- no one holds or got back more than was paid: per order, refunded + held <= received; per provider trade,
  refunded <= its amount, and no refund record exceeds the payment it returns;
- stock is conserved: available + reserved + sold is what the SKU started with, and reserved is exactly
  what unpaid orders hold;
- every order that is not final has a way out (a deadline, a decision, a refund under reconciliation, a retry).

At the end the run is allowed to settle (time passes, the reconciler runs, failed refunds are retried) and then
money received = money refunded + money held by paid orders, exactly.
"""
from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from tests.checkout.conftest import Buyer, new_key, stock_of

EXAMPLES = int(os.environ.get("MALL_STATE_MACHINE_EXAMPLES", "25"))
# make test replays the same examples every run (CI must not turn on a new draw); MALL_STATE_MACHINE_EXPLORE=1
# draws new ones, as a dedicated run does (a found sequence is kept in .hypothesis/ and replayed).
EXPLORE = os.environ.get("MALL_STATE_MACHINE_EXPLORE") == "1"
STEPS = 30
STOCK = 8
FINAL = {"COMPLETED", "CANCELLED", "REFUNDED"}
WECHAT_OUTCOMES = ("SUCCESS", "CLOSED", "ABNORMAL", "LOST", "PENDING", "DOWN")
ALIPAY_OUTCOMES = ("SUCCESS", "LOST", "DOWN", "REFUSED")
RUNS: list[int] = []
BUYERS = itertools.count(1)


def twin(name: str):
    from chalicelib.payments.providers import sandbox

    return sandbox.twin(name)


def load(order_id: str):
    from chalicelib.checkout.orders import load_order

    return load_order(order_id)


class MoneyPath(RuleBasedStateMachine):
    def __init__(self, client, shop, frozen_clock):
        super().__init__()
        from chalicelib.members import service as members

        self.clock = frozen_clock
        self.buyer = Buyer(client, members.login(f"dev:machine-{next(BUYERS)}").user.user_id)  # one per example
        self.skus = [shop.sku(price=price, stock=STOCK) for price in (1230, 4560)]
        self.orders: list[str] = []
        self.notes: dict[str, tuple[str, dict, bytes]] = {}  # the last notification built per order
        self.prepaid: list[tuple[str, str]] = []  # (order, provider): a buyer can pay only a trade prepay opened
        self.found: list[str] = []

    @initialize()
    def start(self):
        RUNS.append(1)

    # --- buyers -------------------------------------------------------------------------

    @rule(sku=st.integers(0, 1), quantity=st.integers(1, 3))
    def submit(self, sku, quantity):
        response = self.buyer.order({self.skus[sku]: quantity}, key=new_key())
        assert response.status_code in (201, 409), response.data
        if response.status_code == 201:
            self.orders.append(response.data["order_id"])

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), provider=st.sampled_from(["wechat", "alipay"]))
    def prepay(self, data, provider):
        order_id = data.draw(st.sampled_from(self.orders))
        response = self.buyer.api.post("/payments/prepay", {"order_id": order_id, "provider": provider})
        assert response.status_code in (200, 409), response.data
        if response.status_code == 200 and (order_id, provider) not in self.prepaid:
            self.prepaid.append((order_id, provider))

    @precondition(lambda self: self.prepaid)
    @rule(data=st.data(), delivery=st.sampled_from(["genuine", "duplicated", "lost", "wrong_amount"]))
    def pay(self, data, delivery):
        """The buyer pays a trade prepay opened, whatever the order's state by now: late payments happen."""
        order_id, provider = data.draw(st.sampled_from(self.prepaid))
        order = load(order_id)
        if self.clock.now() >= order.expires_at:
            return  # prepay sent the order's deadline as the trade's time_expire: the provider refuses to take it
        amount = int(order.payable) - (1 if delivery == "wrong_amount" else 0)
        try:
            if provider == "wechat":
                headers, body = twin("wechat").build_payment_notification(order_id, amount, "openid-machine")
            else:
                headers, body = twin("alipay").build_payment_notification(order_id, amount)
        except ValueError:
            return  # the provider closed the trade: the buyer cannot pay it
        self.notes[order_id] = (provider, headers, body)
        for _ in range({"lost": 0, "duplicated": 2}.get(delivery, 1)):
            self._deliver(provider, headers, body)

    @precondition(lambda self: self.notes)
    @rule(data=st.data())
    def redeliver(self, data):
        """A provider's retry of a notification, however late."""
        order_id = data.draw(st.sampled_from(sorted(self.notes)))
        provider, headers, body = self.notes[order_id]
        self.clock.advance(0)
        self._deliver(provider, {**headers, **self._fresh_headers(provider, body)}, body)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def buyer_cancels(self, data):
        order_id = data.draw(st.sampled_from(self.orders))
        response = self.buyer.api.post(f"/orders/{order_id}/cancel")
        assert response.status_code in (200, 409), response.data

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def buyer_asks_refund(self, data):
        order_id = data.draw(st.sampled_from(self.orders))
        response = self.buyer.api.post(f"/orders/{order_id}/refund", {"reason": "不想要了"})
        assert response.status_code in (200, 409), response.data

    # --- the merchant ---------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), outcome=st.integers(0, 5))
    def approve(self, data, outcome):
        from chalicelib.payments import service

        order_id = data.draw(st.sampled_from(self.orders))
        self._script(order_id, outcome)
        self._merchant(service.approve_refund, order_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def reject(self, data):
        from chalicelib.payments import service

        self._merchant(lambda order_id, actor: service.reject_refund(order_id, reason="no", actor=actor),
                       data.draw(st.sampled_from(self.orders)))

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), outcome=st.integers(0, 5))
    def retry(self, data, outcome):
        from chalicelib.payments import service

        order_id = data.draw(st.sampled_from(self.orders))
        self._script(order_id, outcome)
        self._merchant(service.retry_refund, order_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def ship(self, data):
        from chalicelib.checkout import lifecycle
        from chalicelib.core.errors import Conflict

        try:
            lifecycle.ship(data.draw(st.sampled_from(self.orders)), "顺丰", "SF1", actor="machine")
        except Conflict:
            pass

    # --- time and the scheduled jobs --------------------------------------------------------

    @rule(minutes=st.sampled_from([1, 4, 16, 60]))
    def time_passes_and_the_sweeper_runs(self, minutes):
        from chalicelib.checkout import lifecycle, sweeper

        self.clock.advance(minutes=minutes)
        sweeper.sweep_due_orders(close_trade=lifecycle.close_provider_trade)

    @rule(minutes=st.sampled_from([3, 30, 360]))
    def time_passes_and_the_reconciler_runs(self, minutes):
        from chalicelib.payments import service

        self.clock.advance(minutes=minutes)
        service.reconcile()

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def nobody_holds_or_gets_back_more_than_was_paid(self):
        for order_id in self.orders:
            received, refunded, held = self._money(order_id)
            # A refund the provider settled whose news has not reached the mall yet (its notification lost,
            # the reconciler not yet round) is money on its way back: the order still shows it held until then.
            in_flight = self._settled_unheard(order_id)
            assert refunded - in_flight + held <= received, (order_id, received, refunded, in_flight, held,
                                                             self._story(order_id))

    @invariant()
    def stock_is_conserved(self):
        unpaid: dict[str, int] = {sku: 0 for sku in self.skus}
        for order_id in self.orders:
            order = load(order_id)
            if order.status == "PENDING_PAYMENT":
                for line in order.lines:
                    unpaid[line.sku_id] += int(line.quantity)
        for sku in self.skus:
            levels = stock_of(sku)
            assert sum(levels.values()) == STOCK and levels["reserved"] == unpaid[sku], (sku, levels, unpaid)

    @invariant()
    def every_open_order_has_a_way_out(self):
        for order_id in self.orders:
            order = load(order_id)
            assert order.status in FINAL or self._way_out(order), (order_id, order.status, self._story(order_id))
            for refund in order.refunds or []:
                if refund.status == "PROCESSING":
                    assert self._reconciled(refund.out_refund_no), (order_id, refund.out_refund_no,
                                                                    "a pending refund is out of reconciliation")

    def teardown(self):
        """Let everything settle, then the books must balance to the fen."""
        from chalicelib.payments import service

        if not self.orders:
            return
        for round_number in range(16):
            self.clock.advance(hours=7)
            if round_number == 8:  # two days on: WeChat has finished every refund it was still processing
                self._provider_finishes_its_refunds()
            service.reconcile()
            for order_id in self.orders:
                if self._retryable(load(order_id)):
                    self._merchant(service.retry_refund, order_id)
            if not any(self._unsettled(load(order_id)) for order_id in self.orders):
                break
        for order_id in self.orders:
            received, refunded, held = self._money(order_id)
            assert received == refunded + held, (order_id, received, refunded, held, self._story(order_id))

    # --- helpers ------------------------------------------------------------------------------

    def _provider_finishes_its_refunds(self):
        """A refund WeChat accepted does not stay PROCESSING forever (`PENDING` in the twin): it ends, and
        WeChat notifies it, even after the mall gave up asking and flagged it; its success must still count."""
        from chalicelib.payments.providers.sandbox import TradeBook, load_sandbox_keys

        book = TradeBook(load_sandbox_keys().trades_path)
        for order_id in self.orders:
            trade = book.read("wechatpay", order_id) or {}
            for out_refund_no, refund in (trade.get("refunds") or {}).items():
                if refund["status"] == "PROCESSING":
                    headers, body = twin("wechat").build_refund_notification(order_id, out_refund_no)
                    self._deliver("wechat", headers, body)

    def _deliver(self, provider, headers, body):
        from chalicelib.payments import service

        status, reply, _ = service.handle_webhook(provider, headers, body)
        assert status < 300 and reply in ("", "success"), (status, reply)

    def _fresh_headers(self, provider, body):
        if provider != "wechat":
            return {}
        from chalicelib.payments.providers import sandbox

        return sandbox.twin("wechat")._signed_headers(body)  # WeChat signs each delivery anew

    def _script(self, order_id, outcome):
        twin("wechat").script_refunds(order_id, WECHAT_OUTCOMES[outcome])
        twin("alipay").script_refunds(order_id, ALIPAY_OUTCOMES[outcome % len(ALIPAY_OUTCOMES)])

    def _merchant(self, action, order_id):
        from chalicelib.core.errors import Conflict

        try:
            action(order_id, actor="machine")
        except Conflict:
            pass

    def _money(self, order_id):
        """(received by the providers, refunded by them, held by the order as paid) in fen."""
        from chalicelib.payments.providers.sandbox import TradeBook, load_sandbox_keys

        book = TradeBook(load_sandbox_keys().trades_path)
        received = refunded = 0
        wechat = book.read("wechatpay", order_id)
        if wechat and wechat["trade_state"] in ("SUCCESS", "REFUND"):
            received += wechat["amount"]
            done = sum(r["amount"] for r in wechat["refunds"].values() if r["status"] == "SUCCESS")
            assert done <= wechat["amount"], ("a WeChat trade refunded beyond its amount", order_id)
            refunded += done
        alipay = book.read("alipay", order_id)
        if alipay and alipay["trade_status"] != "WAIT_BUYER_PAY":
            received += alipay["amount"]
            done = sum(r["amount"] for r in alipay["refunds"].values())
            assert done <= alipay["amount"], ("an Alipay trade refunded beyond its amount", order_id)
            refunded += done
        order = load(order_id)
        held = int(order.payment.amount) if order.payment is not None and order.status != "REFUNDED" else 0
        for refund in order.refunds or []:
            assert int(refund.amount) <= received, ("a refund larger than what was paid", order_id)
        return received, refunded, held

    def _settled_unheard(self, order_id) -> int:
        """Fen of the order's refunds still PROCESSING at the mall that its provider has already paid back."""
        from chalicelib.payments.providers.sandbox import TradeBook, load_sandbox_keys

        book = TradeBook(load_sandbox_keys().trades_path)
        settled = {}
        for provider in ("wechatpay", "alipay"):
            for number, refund in ((book.read(provider, order_id) or {}).get("refunds") or {}).items():
                if provider == "alipay" or refund["status"] == "SUCCESS":  # Alipay records only refunds it made
                    settled[number] = int(refund["amount"])
        order = load(order_id)
        return sum(settled.get(refund.out_refund_no, 0) for refund in order.refunds or []
                   if refund.status == "PROCESSING" and order.status != "REFUNDED")

    def _way_out(self, order) -> bool:
        from chalicelib.checkout import order_refunds

        if order.status in ("PENDING_PAYMENT", "SHIPPED"):
            return order.due_at is not None  # the sweeper cancels or completes it
        if order.status in ("PAID", "REFUND_REQUESTED"):
            return True  # the merchant ships, or decides the request
        if order.status == "REFUNDING":
            return any(refund.status == "PROCESSING" and order_refunds.is_buyer_refund(order, refund)
                       and self._reconciled(refund.out_refund_no) for refund in order.refunds or [])
        if order.status == "REFUND_FAILED":
            return self._retryable(order)
        return False

    def _retryable(self, order) -> bool:
        from chalicelib.payments.refunds import _retries

        return bool(_retries(order))

    def _unsettled(self, order) -> bool:
        return order.status in ("REFUNDING", "REFUND_FAILED") or self._retryable(order) or any(
            refund.status == "PROCESSING" for refund in order.refunds or [])

    def _reconciled(self, out_refund_no) -> bool:
        from chalicelib.payments.ledger import refund_entry

        entry = refund_entry(out_refund_no)
        return entry is not None and entry.reconcile_shard is not None and entry.check_after is not None

    def _story(self, order_id):
        order = load(order_id)
        return (order.status, order.payment and (order.payment.provider, int(order.payment.amount)),
                [(r.out_refund_no[-6:], r.kind, int(r.amount), r.status) for r in order.refunds or []])


def test_the_money_path_keeps_its_books(app, client, shop, frozen_clock, capsys):
    RUNS.clear()
    run_state_machine_as_test(
        lambda: MoneyPath(client, shop, frozen_clock),
        settings=settings(derandomize=not EXPLORE, database=None if not EXPLORE else settings.default.database,
                          max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                          suppress_health_check=list(HealthCheck)))
    with capsys.disabled():
        print(f"\nmoney state machine: {len(RUNS)} examples of up to {STEPS} steps")
    assert len(RUNS) >= min(EXAMPLES, 10)
