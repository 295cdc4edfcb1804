"""Title search without scanning products: a token index kept fresh from the products stream.

Chinese titles have no spaces, so a title is indexed by its CJK characters and
character bigrams, plus its lowercase ASCII words (NFKC first, so full-width
"ＡＢＣ" reads as "abc"). A query uses bigrams for CJK runs (unigrams only for a
lone character), looks each token up, intersects the product ids and then checks
each hit against its current title and status, so a lagging index can make a
result late, never wrong.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib.catalog.models import ON_SALE, ProductModel, SearchTokenModel
from chalicelib.core.db import batch_get

MAX_QUERY_TOKENS = 8  # index lookups per search; longer queries are narrowed by the title check instead
_RUNS = re.compile(r"[a-z0-9]+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_SEARCH_FIELDS = ("title", "status", "category_id")


def _runs(text: str) -> Iterator[str]:
    return iter(_RUNS.findall(unicodedata.normalize("NFKC", text).lower()))


def _bigrams(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


def index_tokens(title: str) -> set[str]:
    tokens: set[str] = set()
    for run in _runs(title):
        if run.isascii():
            tokens.add(run)
        else:
            tokens.update(run)
            tokens.update(_bigrams(run))
    return tokens


def query_tokens(q: str) -> list[str]:
    """Distinct tokens of a query, in order; bigrams are far more selective than single characters."""
    tokens: list[str] = []
    for run in _runs(q):
        tokens.extend([run] if run.isascii() or len(run) == 1 else _bigrams(run))
    return list(dict.fromkeys(tokens))


def matches(product: ProductModel, tokens: Iterable[str]) -> bool:
    return product.status == ON_SALE and set(tokens) <= index_tokens(product.title)


# --- the query ---------------------------------------------------------------

def search(q: str, *, category_id: str | None, after: str | None, limit: int) -> tuple[list[ProductModel], bool]:
    """Up to `limit` on-sale products matching `q`, newest first, older than `after`; and whether more exist."""
    tokens = query_tokens(q)
    if not tokens:
        return [], False
    candidates = _candidates(tokens[:MAX_QUERY_TOKENS], category_id, after)
    found: list[ProductModel] = []
    for start in range(0, len(candidates), limit + 1):
        chunk = batch_get(ProductModel, [(pid,) for pid in candidates[start:start + limit + 1]])
        by_id = {product.product_id: product for product in chunk}
        found.extend(by_id[pid] for pid in candidates[start:start + limit + 1]
                     if pid in by_id and matches(by_id[pid], tokens)
                     and (category_id is None or by_id[pid].category_id == category_id))
        if len(found) > limit:
            break
    return found[:limit], len(found) > limit


def _candidates(tokens: list[str], category_id: str | None, after: str | None) -> list[str]:
    """Product ids under every token, newest first."""
    common: set[str] | None = None
    for token in tokens:
        condition = SearchTokenModel.product_id < after if after else None
        ids = {row.product_id for row in SearchTokenModel.query(token, range_key_condition=condition)
               if category_id is None or row.category_id == category_id}
        common = ids if common is None else common & ids
        if not common:
            return []
    return sorted(common or (), reverse=True)


# --- keeping the index fresh ---------------------------------------------------

def refresh(records: Iterable[Any]) -> None:
    """Bring the index in line with the products the stream records name.

    Each product is rebuilt from a strongly consistent read of its current item,
    not from the record's image, so a redelivered or out-of-order record cannot
    resurrect an old title. Records that changed nothing searchable (a sales
    counter, a price) are skipped.
    """
    from chalicelib.core.events import image

    stale: dict[str, set[str]] = {}
    for record in records:
        old, new = image(record, "old") or {}, image(record, "new") or {}
        if old and new and all(old.get(f) == new.get(f) for f in _SEARCH_FIELDS):
            continue
        product_id = (new or old)["product_id"]
        stale.setdefault(product_id, set()).update(_image_tokens(old), _image_tokens(new))
    if not stale:
        return
    current = {p.product_id: p for p in batch_get(ProductModel, [(pid,) for pid in stale], consistent=True)}
    for product_id, tokens in stale.items():
        _rebuild(product_id, current.get(product_id), tokens)


def _image_tokens(item: dict) -> set[str]:
    return index_tokens(item["title"]) if item.get("title") else set()


def _rebuild(product_id: str, product: ProductModel | None, seen_tokens: set[str]) -> None:
    wanted = index_tokens(product.title) if product is not None and product.status == ON_SALE else set()
    # The by_product index also finds tokens of a version whose record never arrived.
    indexed = {row.token for row in SearchTokenModel.by_product.query(product_id)}
    with SearchTokenModel.batch_write() as batch:
        for token in (seen_tokens | indexed) - wanted:
            batch.delete(SearchTokenModel(token, product_id))
        for token in wanted:
            batch.save(SearchTokenModel(token, product_id, category_id=product.category_id))
