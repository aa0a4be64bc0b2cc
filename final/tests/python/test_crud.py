"""PutItem, GetItem, UpdateItem and DeleteItem through the low-level client,
with every ReturnValues choice."""

import pytest

from support import expect_error, n, s

EVERY_TYPE = {
    "pk": s("all-types"),
    "str": s("hello"),
    "empty": s(""),
    "num": n("-12.5"),
    "bin": {"B": b"\x00\x01\xfe\xff"},
    "yes": {"BOOL": True},
    "nothing": {"NULL": True},
    "map": {"M": {"inner": s("x"), "deeper": {"M": {"n": n(1)}}}},
    "list": {"L": [s("a"), n(2), {"BOOL": False}, {"L": []}]},
    "strings": {"SS": ["b", "a"]},
    "numbers": {"NS": ["1", "2.5"]},
    "binaries": {"BS": [b"\x01", b"\x02"]},
}


def _normalise_sets(item):
    """Sets come back in any order: compare them as Python sets."""
    out = {}
    for name, value in item.items():
        ((kind, inner),) = value.items()
        out[name] = {kind: frozenset(inner)} if kind in ("SS", "NS", "BS") else value
    return out


def test_put_then_get_every_type(client, hash_table):
    client.put_item(TableName=hash_table, Item=EVERY_TYPE)
    item = client.get_item(TableName=hash_table, Key={"pk": s("all-types")})["Item"]
    assert _normalise_sets(item) == _normalise_sets(EVERY_TYPE)


def test_get_missing_item_has_no_item_member(client, hash_table):
    response = client.get_item(TableName=hash_table, Key={"pk": s("nobody")})
    assert "Item" not in response


def test_get_consistent_read(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("a"), "v": n(1)})
    response = client.get_item(TableName=hash_table, Key={"pk": s("a")}, ConsistentRead=True)
    assert response["Item"] == {"pk": s("a"), "v": n(1)}


def test_put_replaces_the_whole_item(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("a"), "old": s("x"), "kept": n(1)})
    client.put_item(TableName=hash_table, Item={"pk": s("a"), "kept": n(2)})
    item = client.get_item(TableName=hash_table, Key={"pk": s("a")})["Item"]
    assert item == {"pk": s("a"), "kept": n(2)}


def test_put_return_values_all_old(client, hash_table):
    first = client.put_item(TableName=hash_table, Item={"pk": s("a"), "v": n(1)}, ReturnValues="ALL_OLD")
    assert "Attributes" not in first
    second = client.put_item(TableName=hash_table, Item={"pk": s("a"), "v": n(2)}, ReturnValues="ALL_OLD")
    assert second["Attributes"] == {"pk": s("a"), "v": n(1)}


@pytest.mark.real_dynamodb_semantics("moto words the error 'Return values set to invalid value'")
def test_put_rejects_updated_return_values(client, hash_table):
    with expect_error("ValidationException", contains="ReturnValues can only be ALL_OLD or NONE"):
        client.put_item(TableName=hash_table, Item={"pk": s("a")}, ReturnValues="UPDATED_NEW")


def test_delete_return_values_all_old(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("a"), "v": n(1)})
    response = client.delete_item(TableName=hash_table, Key={"pk": s("a")}, ReturnValues="ALL_OLD")
    assert response["Attributes"] == {"pk": s("a"), "v": n(1)}
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": s("a")})


def test_delete_missing_item_succeeds(client, hash_table):
    response = client.delete_item(TableName=hash_table, Key={"pk": s("ghost")}, ReturnValues="ALL_OLD")
    assert "Attributes" not in response


OLD = {"pk": s("k"), "a": n(1), "b": s("keep"), "c": s("gone")}
UPDATE = "SET a = :two, d = :new REMOVE c"
VALUES = {":two": n(2), ":new": s("added")}


@pytest.mark.parametrize(
    "return_values, expected",
    [
        ("NONE", None),
        ("ALL_OLD", OLD),
        ("ALL_NEW", {"pk": s("k"), "a": n(2), "b": s("keep"), "d": s("added")}),
        ("UPDATED_OLD", {"a": n(1), "c": s("gone")}),
        ("UPDATED_NEW", {"a": n(2), "d": s("added")}),
    ],
)
def test_update_return_values(client, hash_table, return_values, expected):
    client.put_item(TableName=hash_table, Item=OLD)
    response = client.update_item(
        TableName=hash_table,
        Key={"pk": s("k")},
        UpdateExpression=UPDATE,
        ExpressionAttributeValues=VALUES,
        ReturnValues=return_values,
    )
    assert response.get("Attributes") == expected


def test_update_creates_missing_item(client, hash_table):
    response = client.update_item(
        TableName=hash_table,
        Key={"pk": s("new")},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": s("x")},
        ReturnValues="ALL_NEW",
    )
    assert response["Attributes"] == {"pk": s("new"), "v": s("x")}


@pytest.mark.real_dynamodb_semantics("moto fails with HTTP 500 on an UpdateItem without UpdateExpression")
def test_update_without_expression_creates_key_only_item(client, hash_table):
    client.update_item(TableName=hash_table, Key={"pk": s("bare")})
    assert client.get_item(TableName=hash_table, Key={"pk": s("bare")})["Item"] == {"pk": s("bare")}


@pytest.mark.real_dynamodb_semantics("moto creates a key-only item for a REMOVE on a missing item")
def test_update_removing_from_missing_item_creates_nothing(client, hash_table):
    response = client.update_item(
        TableName=hash_table, Key={"pk": s("none")}, UpdateExpression="REMOVE v", ReturnValues="ALL_NEW"
    )
    assert "Attributes" not in response
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": s("none")})


def test_projection_expression(client, hash_table):
    client.put_item(
        TableName=hash_table,
        Item={
            "pk": s("p"),
            "top": s("t"),
            "other": s("o"),
            "m": {"M": {"x": n(1), "y": n(2)}},
            "l": {"L": [s("zero"), s("one"), s("two")]},
            "dashed-name": s("d"),
        },
    )
    item = client.get_item(
        TableName=hash_table,
        Key={"pk": s("p")},
        ProjectionExpression="top, m.y, l[1], #d, nope",
        ExpressionAttributeNames={"#d": "dashed-name"},
    )["Item"]
    assert item == {
        "top": s("t"),
        "m": {"M": {"y": n(2)}},
        "l": {"L": [s("one")]},
        "dashed-name": s("d"),
    }


def test_composite_key_roundtrip(client, composite_table):
    for sk in ("a", "b"):
        client.put_item(TableName=composite_table, Item={"pk": s("p"), "sk": s(sk), "v": s(sk * 2)})
    item = client.get_item(TableName=composite_table, Key={"pk": s("p"), "sk": s("b")})["Item"]
    assert item["v"] == s("bb")


@pytest.mark.real_dynamodb_semantics(
    "moto answers a key that does not match the schema with the bare message 'Validation Exception'"
)
def test_composite_key_needs_both_parts(client, composite_table):
    with expect_error("ValidationException", contains="The provided key element does not match the schema"):
        client.get_item(TableName=composite_table, Key={"pk": s("p")})


@pytest.mark.real_dynamodb_semantics(
    "moto charges a strongly consistent GetItem 0.5 units, as if eventually consistent"
)
def test_consumed_capacity_total(client, hash_table):
    put = client.put_item(
        TableName=hash_table, Item={"pk": s("a"), "v": s("small")}, ReturnConsumedCapacity="TOTAL"
    )
    assert put["ConsumedCapacity"]["TableName"] == hash_table
    assert put["ConsumedCapacity"]["CapacityUnits"] == 1.0
    strong = client.get_item(
        TableName=hash_table, Key={"pk": s("a")}, ConsistentRead=True, ReturnConsumedCapacity="TOTAL"
    )
    assert strong["ConsumedCapacity"]["CapacityUnits"] == 1.0
    eventual = client.get_item(TableName=hash_table, Key={"pk": s("a")}, ReturnConsumedCapacity="TOTAL")
    assert eventual["ConsumedCapacity"]["CapacityUnits"] == 0.5
