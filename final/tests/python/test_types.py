"""Binary values, sets, strings and nesting: how they are stored, ordered and
validated."""

import pytest

from support import expect_error, n, put_items, s


def test_binary_roundtrip_every_byte(client, hash_table):
    every_byte = bytes(range(256))
    client.put_item(TableName=hash_table, Item={"pk": s("b"), "bin": {"B": every_byte}, "empty": {"B": b""}})
    item = client.get_item(TableName=hash_table, Key={"pk": s("b")})["Item"]
    assert item["bin"]["B"] == every_byte
    assert item["empty"]["B"] == b""


def test_binary_partition_key(client, make_table):
    table = make_table(hash_key=("id", "B"))
    client.put_item(TableName=table, Item={"id": {"B": b"\x00\xff"}, "v": s("x")})
    assert client.get_item(TableName=table, Key={"id": {"B": b"\x00\xff"}})["Item"]["v"] == s("x")
    assert "Item" not in client.get_item(TableName=table, Key={"id": {"B": b"\x00\xfe"}})


def test_binary_sort_keys_order_as_unsigned_bytes(client, make_table):
    table = make_table(range_key=("sk", "B"))
    keys = [b"\x80", b"\x7f", b"\x00", b"\xff", b"\x7f\x00", b"\x01"]
    put_items(client, table, [{"pk": s("p"), "sk": {"B": k}} for k in keys])
    response = client.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("p")}
    )
    assert [item["sk"]["B"] for item in response["Items"]] == sorted(keys)


def test_string_sort_keys_order_as_utf8_bytes(client, composite_table):
    keys = ["z", "a", "A", "¿", "aa", "Z", "é", "0"]
    put_items(client, composite_table, [{"pk": s("p"), "sk": s(k)} for k in keys])
    response = client.query(
        TableName=composite_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("p")}
    )
    assert [item["sk"]["S"] for item in response["Items"]] == sorted(keys, key=lambda k: k.encode())


def test_sets_roundtrip_in_any_order(client, hash_table):
    sets = {
        "ss": {"SS": ["c", "a", "b", ""]},
        "ns": {"NS": ["3", "-1", "2.5"]},
        "bs": {"BS": [b"\x02", b"\x00", b"\x01"]},
    }
    client.put_item(TableName=hash_table, Item={"pk": s("sets"), **sets})
    item = client.get_item(TableName=hash_table, Key={"pk": s("sets")})["Item"]
    assert set(item["ss"]["SS"]) == {"a", "b", "c", ""}
    assert {float(v) for v in item["ns"]["NS"]} == {3.0, -1.0, 2.5}
    assert set(item["bs"]["BS"]) == {b"\x00", b"\x01", b"\x02"}


@pytest.mark.parametrize(
    "value, message",
    [
        ({"SS": []}, "One or more parameter values were invalid: An string set  may not be empty"),
        ({"NS": []}, "One or more parameter values were invalid: An number set  may not be empty"),
        pytest.param(
            {"BS": []},
            "One or more parameter values were invalid: Binary sets should not be empty",
            marks=pytest.mark.real_dynamodb_semantics("moto accepts an empty binary set"),
        ),
    ],
    ids=["SS", "NS", "BS"],
)
def test_empty_sets_are_rejected(client, hash_table, value, message):
    with expect_error("ValidationException", contains=message):
        client.put_item(TableName=hash_table, Item={"pk": s("e"), "set": value})


@pytest.mark.real_dynamodb_semantics("moto accepts a string set with duplicates")
def test_duplicate_strings_in_a_set(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="One or more parameter values were invalid: Input collection [a, a] contains duplicates.",
    ):
        client.put_item(TableName=hash_table, Item={"pk": s("d"), "ss": {"SS": ["a", "a"]}})


def test_empty_string_outside_keys_is_fine(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("e"), "blank": s(""), "m": {"M": {"k": s("")}}})
    item = client.get_item(TableName=hash_table, Key={"pk": s("e")})["Item"]
    assert item["blank"] == s("") and item["m"] == {"M": {"k": s("")}}


@pytest.mark.real_dynamodb_semantics(
    "moto words the empty key error 'An AttributeValue may not contain an empty string'"
)
def test_empty_string_key_is_rejected(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="The AttributeValue for a key attribute cannot contain an empty string value. Key: pk",
    ):
        client.put_item(TableName=hash_table, Item={"pk": s("")})


@pytest.mark.real_dynamodb_semantics("moto leaves the 'One or more parameter values were invalid' prefix out")
def test_null_must_be_true(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="One or more parameter values were invalid: Null attribute value types must have the value of true",
    ):
        client.put_item(TableName=hash_table, Item={"pk": s("n"), "nul": {"NULL": False}})


def _nested(depth):
    value = n(1)
    for _ in range(depth):
        value = {"M": {"m": value}}
    return value


def test_thirty_levels_of_nesting_are_accepted(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("deep"), "m": _nested(30)})
    assert client.get_item(TableName=hash_table, Key={"pk": s("deep")})["Item"]["m"] == _nested(30)


@pytest.mark.real_dynamodb_semantics("moto accepts items nested deeper than 32 levels")
def test_fifty_levels_of_nesting_are_rejected(client, hash_table):
    with expect_error("ValidationException", contains="Nesting Levels have exceeded supported limits"):
        client.put_item(TableName=hash_table, Item={"pk": s("deep"), "m": _nested(50)})
