"""Catalog syncs alone: the table's shape, rows to items (ids checked against Braze's rules), the
per-item order (the newest row of an item wins, never two requests for one item under way), the
catalog exchanges driven by scripted answers (PUT and DELETE, the whole-request 400 split, an
unknown catalog), "send only changed" for items, and the engine's catalog run through its seams."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fakes import CATALOG_COLUMNS, EngineWorld, MemorySource, PumpWorld, ScriptedClient, ScriptedDispatcher, integration, item_row

from cdi_tui.braze.client import (
    BrazeCatalogMissing,
    BrazeClient,
    Catalog,
    RateLimiter,
    RetryPolicy,
    SendOutcome,
    _Pause,
    _Request,
    shared_limiter,
)
from cdi_tui.braze.objects import BrazeObject
from cdi_tui.config import ConfigError, load_config
from cdi_tui.engine.changes import ChangeFilter, DeliveredStore
from cdi_tui.engine.sync import SyncOptions
from cdi_tui.engine.transform import RowError, RowTransformer
from cdi_tui.enums import DataType
from cdi_tui.setup_sql import setup_sql
from cdi_tui.tables import parse_table_name
from cdi_tui.warehouse.errors import WarehouseError
from cdi_tui.warehouse.source import check_table_columns

FAST = SyncOptions(checkpoint_seconds=0.0)
PRODUCTS = Catalog("products", {"id": "string", "name": "string", "price": "number"})


def catalogs(name: str = "products", **settings: Any) -> Any:
    return integration(name, DataType.CATALOGS, **settings)


def transformer() -> RowTransformer:
    return RowTransformer(check_table_columns(CATALOG_COLUMNS, DataType.CATALOGS).select_columns, DataType.CATALOGS)


# the table and its rows -----------------------------------------------------------------------------------


def test_a_catalog_table_needs_id_and_payload_and_may_have_deleted() -> None:
    shape = check_table_columns(["UPDATED_AT", "ID", "PAYLOAD"], DataType.CATALOGS)
    assert shape.select_columns == ("updated_at", "id", "payload") and shape.identifier_columns == ("id",)
    with_deleted = check_table_columns(["payload", "Deleted", "id", "updated_at", "external_id"], DataType.CATALOGS)
    assert with_deleted.select_columns == ("updated_at", "id", "deleted", "payload")  # a user identifier is not read
    with pytest.raises(WarehouseError, match="ID is missing; PAYLOAD is missing"):
        check_table_columns(["updated_at", "external_id"], DataType.CATALOGS)
    attributes = check_table_columns(["updated_at", "external_id", "id", "deleted", "payload"], DataType.ATTRIBUTES)
    assert attributes.select_columns == ("updated_at", "external_id", "payload")  # ID means nothing to a users table


def test_a_catalog_row_becomes_an_item_of_its_id_and_payload_fields() -> None:
    made = transformer().transform(item_row(1, "shirt-1", {"name": "Shirt", "price": 19.5, "email": "x@example.com"}))
    assert isinstance(made, BrazeObject)
    assert (made.array, made.body, made.user) == (
        "items",
        {"id": "shirt-1", "name": "Shirt", "price": 19.5, "email": "x@example.com"},  # any field name is the catalog's
        "id=shirt-1",
    )
    numbered = transformer().transform(item_row(1, 42, {"name": "Hat"}, deleted=False))
    assert isinstance(numbered, BrazeObject) and numbered.body["id"] == "42"


@pytest.mark.parametrize("deleted", [True, "true", "T", 1])
def test_a_row_marked_deleted_deletes_its_item_whatever_its_payload(deleted: Any) -> None:
    made = transformer().transform(item_row(1, "shirt-1", None, deleted=deleted))
    assert isinstance(made, BrazeObject) and (made.array, made.body) == ("delete_items", {"id": "shirt-1"})


@pytest.mark.parametrize(
    ("item_id", "code"),
    [
        (None, "item_id_missing"),
        ("", "item_id_missing"),
        ("x" * 251, "item_id_too_long"),
        ("shirt 1", "item_id_invalid"),
        ("shirt/1", "item_id_invalid"),
        ("hémd", "item_id_invalid"),
        (True, "item_id_invalid"),
        (1.5, "item_id_invalid"),
    ],
)
def test_item_ids_are_checked_against_brazes_rules_before_anything_is_sent(item_id: Any, code: str) -> None:
    made = transformer().transform(item_row(1, item_id, {"name": "Shirt"}))
    assert isinstance(made, RowError) and made.code == code
    deleting = transformer().transform(item_row(1, item_id, None, deleted=True))
    assert isinstance(deleting, RowError) and deleting.code == code  # a delete's id too


def test_ids_braze_takes_pass_the_check() -> None:
    for good in ("A-z_09", "x" * 250, "-", "_"):
        assert isinstance(transformer().transform(item_row(1, good, {"name": "n"})), BrazeObject)


@pytest.mark.parametrize(
    ("values", "code"),
    [
        (item_row(1, "a", {"id": "b", "name": "n"}), "payload_has_id"),
        (item_row(1, "a", {"name": "n"}, deleted="maybe"), "deleted_invalid"),
        (item_row(1, "a", None), "payload_null"),
        ([item_row(1, "a", None)[0], "a", None, "[1, 2]"], "payload_not_object"),
    ],
)
def test_rows_that_cannot_be_items_are_row_errors(values: list[Any], code: str) -> None:
    made = transformer().transform(values)
    assert isinstance(made, RowError) and made.code == code


def test_the_setup_sql_of_a_catalog_has_id_deleted_and_payload() -> None:
    text = setup_sql(parse_table_name("ingestion.products"), DataType.CATALOGS, "braze_user")
    assert "id varchar(250)" in text and "deleted boolean" in text and "payload varchar(max)" in text
    assert "external_id" not in text


# the config file ----------------------------------------------------------------------------------------------

CREDENTIAL = """
[credentials.prod]
host = "warehouse.example.com"
database = "dev"
user = "braze_user"
"""


def catalog_config(tmp_path: Path, *entries: tuple[str, str]) -> Path:
    text = CREDENTIAL
    for name, extra in entries:
        text += f'\n[integrations."{name}"]\ncredential = "prod"\ntable = "ingestion.{name.replace(".", "_")}"\n{extra}\n'
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_catalogs_integration_writes_to_the_catalog_of_its_name_unless_it_names_another(tmp_path: Path) -> None:
    config = load_config(
        catalog_config(tmp_path, ("products", 'data_type = "catalogs"'), ("menu", 'data_type = "catalogs"\ncatalog = "dishes"'))
    )
    assert config.integrations["products"].catalog_name == "products"
    assert config.integrations["menu"].catalog_name == "dishes"
    assert config.integrations["menu"].sends_changed_only  # on by default, as for attributes


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ((("users", 'data_type = "attributes"\ncatalog = "x"'),), "integrations.users.catalog: applies to catalogs"),
        ((("menu", 'data_type = "catalogs"\ncatalog = "bad name"'),), "integrations.menu.catalog: a catalog name is"),
        ((("menu.v2", 'data_type = "catalogs"'),), "integrations.menu.v2: the name is the catalog's unless"),
        (
            (("menu", 'data_type = "catalogs"'), ("menu2", 'data_type = "catalogs"\ncatalog = "menu"')),
            "catalog 'menu' of workspace 'default' is already synced by 'menu' (one integration per catalog)",
        ),
    ],
)
def test_catalog_settings_that_braze_cannot_take_stop_the_config_file(
    tmp_path: Path, entries: tuple[tuple[str, str], ...], problem: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_config(catalog_config(tmp_path, *entries))


# per-item order through the pump ------------------------------------------------------------------------------


@pytest.fixture
def worlds() -> Iterator[list[PumpWorld]]:
    made: list[PumpWorld] = []
    yield made
    for world in made:
        world.close()


def catalog_world(worlds: list[PumpWorld], tmp_path: Path, dispatcher: ScriptedDispatcher, **options: Any) -> PumpWorld:
    folder = tmp_path / f"run{len(worlds)}"
    folder.mkdir()
    made = PumpWorld(folder, dispatcher, the_integration=catalogs(), **options)
    worlds.append(made)
    return made


def test_per_item_the_newest_row_wins_whatever_order_the_answers_come_in(worlds: list[PumpWorld], tmp_path: Path) -> None:
    dispatcher = ScriptedDispatcher(in_flight=4)  # the newest request answered first: answers overtake each other
    world = catalog_world(worlds, tmp_path, dispatcher, batch_limit=3)
    rows = []
    for version in range(1, 6):
        for item in range(1, 8):
            deleted = (item == 3 and version == 5) or (item == 5 and version == 2)  # 5 is deleted, then written again
            rows.append(item_row(version * 10 + item, f"i{item}", None if deleted else {"v": version}, deleted=deleted))
    world.run(rows, block=4)
    assert dispatcher.overlaps == []  # never two requests for one item under way
    expected = {f"i{item}": {"id": f"i{item}", "v": 5} for item in range(1, 8) if item != 3}
    assert dispatcher.items == expected
    state = world.state
    assert state.read == 35 and state.failed == 0
    assert state.sent + state.superseded == 35 and state.superseded > 0
    assert state.items_deleted + state.items_written == state.sent and state.data_points == 0


def test_a_rejected_item_is_a_row_error_with_brazes_error_id(worlds: list[PumpWorld], tmp_path: Path) -> None:
    from cdi_tui.braze.client import Rejection

    def refuse_i2(items: Sequence[BrazeObject]) -> SendOutcome:
        outcome = SendOutcome(requests=1)
        for item in items:
            if item.body["id"] == "i2":
                reason = Rejection(
                    "invalid-fields: Some of the fields given do not exist (unknown field: color)", "invalid-fields"
                )
                outcome.rejected.append((item, reason))
            else:
                outcome.delivered.append(item)
        return outcome

    world = catalog_world(worlds, tmp_path, ScriptedDispatcher(refuse_i2), batch_limit=50)
    world.run([item_row(1, "i1", {"v": 1}), item_row(2, "i2", {"color": "red"}), item_row(3, "i3", {"v": 3})])
    [error] = world.runlog.row_errors(world.state.run_id)
    assert (error.identifier, error.code) == ("id=i2", "invalid-fields")
    assert "unknown field: color" in error.reason and '"color": "red"' in (error.payload_preview or "")
    assert (world.state.sent, world.state.failed, world.state.items_written) == (2, 1, 2)


def test_an_unchanged_item_is_not_sent_again_and_a_changed_one_is_sent_whole(worlds: list[PumpWorld], tmp_path: Path) -> None:
    store = DeliveredStore(tmp_path / "delivered.sqlite3")
    first = catalog_world(worlds, tmp_path, ScriptedDispatcher(), changes=ChangeFilter(store, "products", whole_items=True))
    first.run([item_row(1, "a", {"name": "A", "price": 1}), item_row(2, "b", {"name": "B", "price": 2})])
    assert first.state.sent == 2
    dispatcher = ScriptedDispatcher()
    second = catalog_world(worlds, tmp_path, dispatcher, changes=ChangeFilter(store, "products", whole_items=True))
    second.run(
        [
            item_row(3, "a", {"price": 1, "name": "A"}),  # the same item, its keys in another order
            item_row(4, "b", {"name": "B", "price": 3}),
            item_row(5, "c", None, deleted=True),
        ]
    )
    assert second.state.unchanged == 1 and second.state.sent == 2
    assert [item.body for request in dispatcher.sent for item in request] == [
        {"id": "b", "name": "B", "price": 3},  # whole: PUT replaces an item, a part would drop the rest
        {"id": "c"},
    ]
    store.close()


# the exchanges ------------------------------------------------------------------------------------------------


class Script:
    """Answers each request of an exchange from ``answer`` (method, path, body); records them."""

    def __init__(self, answer: Callable[[str, str, Any], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str, Any]] = []

    def drive(self, exchange: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        try:
            while True:
                step = exchange.send(reply)
                if isinstance(step, _Pause):
                    reply = None
                    continue
                assert isinstance(step, _Request)
                body = None if step.content is None else orjson.loads(step.content)
                self.requests.append((step.method, step.path, body))
                reply = self.answer(step.method, step.path, body)
        except StopIteration as done:
            return done.value


def client() -> BrazeClient:
    return BrazeClient("https://rest.iad-03.braze.com", "key", limiter=RateLimiter(16_000, 60.0), retry=RetryPolicy())


def items(*ids: str, array: str = "items") -> list[BrazeObject]:
    return [BrazeObject(array, {"id": item_id, "name": item_id}, index, f"id={item_id}") for index, item_id in enumerate(ids)]


def accepted(_method: str, _path: str, _body: Any) -> httpx.Response:
    return httpx.Response(202, json={"message": "success"})


def test_items_go_to_put_and_deletes_to_delete_at_their_catalog_one_request_each() -> None:
    script = Script(accepted)
    batch = [*items("a", "b"), BrazeObject("delete_items", {"id": "c"}, 2, "id=c")]
    outcome = script.drive(client()._catalog("menu items", batch))
    assert [item.body["id"] for item in outcome.delivered] == ["a", "b", "c"]
    assert script.requests == [
        ("PUT", "/catalogs/menu%20items/items", {"items": [{"id": "a", "name": "a"}, {"id": "b", "name": "b"}]}),
        ("DELETE", "/catalogs/menu%20items/items", {"items": [{"id": "c"}]}),
    ]


def invalid_fields_for(bad: set[str]) -> Callable[[str, str, Any], httpx.Response]:
    """Braze's whole-request 400: one bad item fails every item of the request."""

    def answer(_method: str, _path: str, body: Any) -> httpx.Response:
        named = [item["id"] for item in body["items"] if item["id"] in bad]
        if not named:
            return httpx.Response(202, json={"message": "success"})
        error = {"id": "invalid-fields", "message": "Some of the fields given do not exist in the catalog",
                 "parameters": ["id"], "parameter_values": named}  # fmt: skip
        return httpx.Response(400, json={"errors": [error], "message": "Invalid Request"})

    return answer


def test_a_400_for_the_whole_request_is_split_until_each_bad_item_stands_alone() -> None:
    script = Script(invalid_fields_for({"i7", "i30"}))
    batch = items(*(f"i{n}" for n in range(50)))
    batch[7].body["color"] = "red"
    batch[30].body["size"] = "L"
    braze = client()
    braze.catalogs = {"products": PRODUCTS}  # what GET /catalogs said at the start of the run
    outcome = script.drive(braze._catalog("products", batch))
    assert len(outcome.delivered) == 48 and outcome.transient == []
    reasons = {item.body["id"]: (reason.code, str(reason)) for item, reason in outcome.rejected}
    assert reasons == {
        "i7": ("invalid-fields", "invalid-fields: Some of the fields given do not exist in the catalog (unknown field: color)"),
        "i30": ("invalid-fields", "invalid-fields: Some of the fields given do not exist in the catalog (unknown field: size)"),
    }
    assert len(script.requests) < 30  # halves, not one request an item


def test_a_refused_item_without_a_known_catalog_says_what_braze_named() -> None:
    def too_large(_method: str, _path: str, body: Any) -> httpx.Response:
        error = {"id": "items-too-large", "message": "Item values can't exceed 5,000 characters",
                 "parameters": ["id"], "parameter_values": [body["items"][0]["id"]]}  # fmt: skip
        return httpx.Response(400, json={"errors": [error], "message": "Invalid Request"})

    outcome = Script(too_large).drive(client()._catalog("products", items("big")))
    [(_item, reason)] = outcome.rejected
    assert (
        reason.code == "items-too-large" and str(reason) == "items-too-large: Item values can't exceed 5,000 characters (id=big)"
    )


def test_a_404_for_the_catalog_ends_the_run_as_a_missing_catalog() -> None:
    def missing(_method: str, _path: str, _body: Any) -> httpx.Response:
        return httpx.Response(404, json={"errors": [{"id": "catalog-not-found", "message": "Could not find catalog"}]})

    with pytest.raises(BrazeCatalogMissing, match="Braze has no catalog 'nope'"):
        Script(missing).drive(client()._catalog("nope", items("a")))


def test_the_catalogs_are_listed_with_their_fields_from_every_page() -> None:
    def pages(method: str, path: str, _body: Any) -> httpx.Response:
        request = httpx.Request(method, "https://rest.iad-03.braze.com" + path)
        if path == "/catalogs":
            listed = [{"name": "products", "fields": [{"name": "id", "type": "string"}, {"name": "price", "type": "number"}]}]
            link = '<https://rest.iad-03.braze.com/catalogs?cursor=c2>; rel="next"'
            return httpx.Response(200, json={"catalogs": listed}, headers={"Link": link}, request=request)
        return httpx.Response(200, json={"catalogs": [{"name": "menu", "fields": []}]}, request=request)

    script = Script(pages)
    found = script.drive(client()._list_catalogs())
    assert found == {"products": Catalog("products", {"id": "string", "price": "number"}), "menu": Catalog("menu", {})}
    assert [(method, path) for method, path, _body in script.requests] == [("GET", "/catalogs"), ("GET", "/catalogs?cursor=c2")]


# the engine through its seams ---------------------------------------------------------------------------------


@pytest.fixture
def catalog_engine(tmp_path: Path) -> Iterator[EngineWorld]:
    source = MemorySource([], columns=CATALOG_COLUMNS, data_type=DataType.CATALOGS)
    made = EngineWorld(tmp_path, source, ScriptedClient(catalogs={"products": PRODUCTS}), catalogs())
    yield made
    made.close()


def test_a_catalog_run_counts_items_written_and_deleted_and_spends_no_data_points(catalog_engine: EngineWorld) -> None:
    world = catalog_engine
    world.source.rows.extend(item_row(n, f"i{n}", {"name": f"n{n}"}) for n in range(1, 121))
    world.source.rows.append(item_row(200, "i1", None, deleted=True))
    world.source.rows.append(item_row(201, "bad id", {"name": "x"}))
    record = world.engine().run("products", FAST)
    assert (record.status, record.rows_read, record.rows_sent, record.rows_failed) == ("partial", 122, 121, 1)
    assert (record.items_written, record.items_deleted, record.data_points) == (120, 1, 0)
    assert set(world.client.catalog_requests) == {"products"}
    assert max(len(request) for request in world.client.requests) == 50  # at most 50 items a request
    [error] = world.runlog.row_errors(record.id)
    assert (error.identifier, error.code) == ("id=bad id", "item_id_invalid")
    limiter = world.client.opened_with["limiter"]
    assert limiter is shared_limiter("https://rest.iad-03.braze.com", "braze-key", 16_000, 60.0, budget="catalogs")
    assert limiter is not shared_limiter("https://rest.iad-03.braze.com", "braze-key", 3000, 3.0)


def test_a_catalog_braze_does_not_have_ends_the_run_before_any_item_is_sent(catalog_engine: EngineWorld) -> None:
    world = catalog_engine
    world.client.catalogs = {"menu": Catalog("menu", {})}
    world.source.rows.extend(item_row(n, f"i{n}", {"name": f"n{n}"}) for n in range(1, 4))
    record = world.engine().run("products", FAST)
    assert record.status == "error" and "catalog 'products' cannot be found" in (record.error or "")
    assert world.client.requests == [] and world.runlog.watermark("products") is None
