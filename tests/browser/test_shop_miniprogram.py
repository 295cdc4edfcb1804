"""The storefront's other build: the same uni-app sources as a WeChat mini-program (`npm run build:mp`). No
WeChat runtime runs here, so the build is checked for completeness the way WeChat's devtools would refuse it:
every page of pages.json in app.json with its four files, every custom component a page or component uses
present, only tags WeChat knows, the API's domain baked in, and the mini-program's own login, payment and
subscription calls in place of the browser's (no sandbox cashier, no Alipay).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.stack import ROOT

SHOP = ROOT / "web" / "shop"
OUT = ROOT / "build" / "mp-weixin"
API = "https://api.example.test"
# WeChat's built-in components the templates may use (developers.weixin.qq.com, 组件); anything else must be a
# custom component named in the file's usingComponents.
WECHAT_TAGS = {"view", "text", "button", "input", "image", "navigator", "label", "block", "slot", "template",
               "import", "include", "checkbox", "checkbox-group", "radio", "radio-group", "form", "textarea",
               "scroll-view", "swiper", "swiper-item", "icon", "progress", "rich-text", "picker", "switch", "wxs"}


@pytest.fixture(scope="module")
def mini_program() -> Path:
    if not (SHOP / "node_modules" / ".bin" / "uni").exists():
        pytest.fail("web/shop has no node_modules: `make web` installs them (npm ci)")
    env = {**os.environ, "VITE_MALL_API_BASE": API, "VITE_MALL_SUBSCRIBE_TEMPLATES": "tmpl-paid,tmpl-shipped"}
    built = subprocess.run(["npm", "run", "build:mp", "--silent"], cwd=SHOP, env=env, capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, f"expected the mini-program to build, got:\n{built.stdout}\n{built.stderr}"
    assert "Build complete" in built.stdout, built.stdout
    return OUT


def read_json(path: Path) -> dict:
    assert path.is_file(), f"expected {path.relative_to(OUT)} in the mini-program"
    return json.loads(path.read_text())


def test_every_page_of_pages_json_is_in_app_json_with_its_files(mini_program):
    source = json.loads((SHOP / "src" / "pages.json").read_text())
    app = read_json(mini_program / "app.json")
    expected = [page["path"] for page in source["pages"]]
    assert app["pages"] == expected, f"expected app.json pages {expected}, got {app['pages']}"
    assert app["pages"][0] == "pages/index/index"
    for page in app["pages"]:
        for suffix in (".js", ".json", ".wxml"):
            assert (mini_program / f"{page}{suffix}").is_file(), f"expected {page}{suffix} in the mini-program"
        title = next(p["style"]["navigationBarTitleText"] for p in source["pages"] if p["path"] == page)
        assert read_json(mini_program / f"{page}.json")["navigationBarTitleText"] == title
    for shared in ("app.js", "app.wxss", "common/vendor.js"):
        assert (mini_program / shared).is_file(), f"expected {shared} in the mini-program"
    project = read_json(mini_program / "project.config.json")
    assert project["compileType"] == "miniprogram" and project["appid"], project


def test_every_template_uses_wechat_tags_or_components_it_declares(mini_program):
    templates = sorted(mini_program.rglob("*.wxml"))
    assert len(templates) > 20, f"expected pages and components, found {len(templates)} templates"
    for template in templates:
        declared = read_json(template.with_suffix(".json")).get("usingComponents", {})
        for name, target in declared.items():
            component = (template.parent / target).resolve()
            for suffix in (".js", ".json", ".wxml"):
                assert component.with_suffix(suffix).is_file(), \
                    f"{template.relative_to(OUT)} uses <{name}> from {target}, whose {suffix} file is missing"
        tags = set(re.findall(r"<([a-z][a-z0-9-]*)", template.read_text()))
        unknown = tags - WECHAT_TAGS - set(declared)
        assert not unknown, f"{template.relative_to(OUT)} uses tags WeChat does not know: {sorted(unknown)}"


def test_the_mini_program_logs_in_pays_and_subscribes_through_wechat(mini_program):
    code = {path.relative_to(OUT).as_posix(): path.read_text() for path in mini_program.rglob("*.js")}
    everything = "\n".join(code.values())
    assert API in code["lib/config.js"], "expected VITE_MALL_API_BASE to be the API the mini-program calls"
    assert "tmpl-paid" in code["lib/config.js"], "expected the subscription templates from the build's settings"
    platform = code["lib/platform.js"]
    for call in ("index.login", "index.requestPayment", "index.requestSubscribeMessage", "/me/subscriptions"):
        assert call in platform, f"expected the mini-program's platform code to use {call}"
    assert '"wechat"' in platform and '"alipay"' not in platform, "expected WeChat Pay only in the mini-program"
    assert "/payments/sandbox/pay" not in everything, "expected no sandbox cashier in the mini-program"
    assert '"open-type":"share"' in code["pages/group/group.js"] and "open-type=" in \
        (mini_program / "components/UiButton.wxml").read_text(), "expected the group page to share with WeChat's button"
    assert "onShareAppMessage" in code["pages/group/group.js"], "expected the group page to say what it shares"
    assert "dev:" not in platform, "expected no sandbox login code in the mini-program"
