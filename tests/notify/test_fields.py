"""Values fitted to WeChat's field types: a thing never breaks a character or, near a space, a word."""
from __future__ import annotations

import pytest

from chalicelib.notify.fields import fit, shorten


def test_a_short_thing_is_kept_as_is():
    assert fit("thing1", "无线蓝牙耳机") == "无线蓝牙耳机"
    assert fit("thing1", "一" * 20) == "一" * 20


def test_a_long_chinese_thing_is_cut_to_twenty_characters_with_an_ellipsis():
    fitted = fit("thing2", "北欧风格实木餐桌椅组合一桌四椅家用小户型长方形饭桌")
    assert fitted == "北欧风格实木餐桌椅组合一桌四椅家用小户…"
    assert len(fitted) == 20


def test_a_latin_title_is_cut_at_a_space_not_inside_a_word():
    fitted = fit("thing1", "Apple iPhone 15 Pro Max 256GB")
    assert fitted == "Apple iPhone 15 Pro…"
    assert len(fitted) <= 20


def test_an_emoji_sequence_or_a_combining_mark_is_never_split():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one family emoji of five code points
    fitted = shorten("礼物" * 8 + "好" + family + "套装", 20)
    assert family not in fitted and "\u200d" not in fitted and fitted.endswith("好…")
    accented = "e\u0301" * 30
    assert shorten(accented, 20).removesuffix("…").endswith("e\u0301")


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("amount3", 1250, "¥12.50"),
    ("amount3", 5, "¥0.05"),
    ("amount3", 100000, "¥1000.00"),
    ("time4", "2026-11-25T04:05:00.000Z", "2026-11-25 12:05"),  # Beijing time
    ("date5", "2026-11-25T17:00:00Z", "2026-11-26"),
    ("character_string6", "A" * 40, "A" * 32),
    ("number7", "1" * 40, "1" * 32),
    ("phrase8", "已经发货了呢", "已经发货了"),
])
def test_values_are_fitted_to_their_types(key, value, expected):
    assert fit(key, value) == expected


def test_a_key_that_names_no_wechat_type_is_refused():
    with pytest.raises(ValueError):
        fit("title1", "x")


@pytest.mark.parametrize("key", ["thing1", "amount2", "time3", "date4", "number5"])
def test_a_missing_variable_is_an_empty_field_not_an_error(key):
    assert fit(key, None) == ""
