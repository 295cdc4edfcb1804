"""What the notify routes accept and answer (pydantic; imported by the first request that validates)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StringConstraints

from chalicelib.core.schema import Schema

TemplateId = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9A-Za-z_-]{1,64}$")]
UserId = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9A-Za-z_-]{1,64}$")]
MAX_TEMPLATES_PER_ANSWER = 20  # wx.requestSubscribeMessage asks for at most 3 at a time


class SubscriptionResults(Schema):
    """What `wx.requestSubscribeMessage` answered, passed on as is: template id -> accept, reject or ban."""
    model_config = ConfigDict(extra="forbid")
    results: dict[TemplateId, Literal["accept", "reject", "ban"]] = Field(min_length=1,
                                                                          max_length=MAX_TEMPLATES_PER_ANSWER)


class Subscription(Schema):
    template_id: str
    credits: int
    banned: bool


class Subscriptions(Schema):
    subscriptions: list[Subscription]


class FieldMapping(Schema):
    model_config = ConfigDict(extra="forbid")
    key: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z_]{1,20}[0-9]{1,3}$")]
    source: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=40)]


class NotificationTemplateBody(Schema):
    model_config = ConfigDict(extra="forbid")
    template_id: TemplateId
    page: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=256)] | None = None
    fields: list[FieldMapping] = Field(min_length=1, max_length=20)
    recipients: list[UserId] = Field(default_factory=list, max_length=20)


class NotificationTemplateView(Schema):
    kind: str
    audience: str
    variables: list[str]
    enabled: bool
    template_id: str | None = None
    page: str | None = None
    fields: list[FieldMapping] = []
    recipients: list[str] = []


class NotificationTemplateList(Schema):
    items: list[NotificationTemplateView]


class PageQuery(Schema):
    model_config = ConfigDict(extra="forbid")
    cursor: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


class NotificationView(Schema):
    notification_id: str
    kind: str
    order_id: str | None
    sku_id: str | None
    user_id: str
    recipient_kind: str
    template_id: str
    status: str
    created_at: str
    sent_at: str | None
    error_code: str | None
    error_message: str | None
    data: dict[str, str]


class NotificationPage(Schema):
    items: list[NotificationView]
    next_cursor: str | None


class ThresholdBody(Schema):
    model_config = ConfigDict(extra="forbid")
    threshold: StrictInt | None = Field(ge=1, le=1_000_000)


class Threshold(Schema):
    sku_id: str
    low_stock_threshold: int | None


class AlertView(Schema):
    alert_id: str
    sku_id: str
    product_id: str | None
    title: str | None
    available: int
    threshold: int
    raised_at: str


class AlertPage(Schema):
    items: list[AlertView]
    next_cursor: str | None
