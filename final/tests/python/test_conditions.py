"""ConditionExpression on writes: the idioms applications rely on, the
functions and operators, and ConditionalCheckFailedException's shape."""

import pytest

from support import case_ids, expect_error, n, s

CCF = "ConditionalCheckFailedException"
CCF_MESSAGE = "The conditional request failed"

# One item that every evaluation case below is checked against.
SUBJECT = {
    "pk": s("subject"),
    "name_s": s("minidynamo"),
    "n": n(42),
    "flag": {"BOOL": True},
    "tags": {"SS": ["red", "blue"]},
    "nums": {"NS": ["1", "2"]},
    "lst": {"L": [s("x"), n(7)]},
    "mp": {"M": {"inner_n": n(5), "deep": {"M": {"leaf": s("y")}}}},
    "bin": {"B": b"\x01\x02\x03"},
    "nul": {"NULL": True},
}


def test_insert_only_with_attribute_not_exists(client, hash_table):
    item = {"pk": s("once"), "v": n(1)}
    client.put_item(TableName=hash_table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    with expect_error(CCF, message=CCF_MESSAGE):
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("once"), "v": n(2)},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert client.get_item(TableName=hash_table, Key={"pk": s("once")})["Item"] == item


def test_optimistic_locking_on_version(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("doc"), "ver": n(1), "body": s("v1")})

    def write(expected, body):
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("doc"), "ver": n(expected + 1), "body": s(body)},
            ConditionExpression="ver = :expected",
            ExpressionAttributeValues={":expected": n(expected)},
        )

    write(1, "v2")
    with expect_error(CCF):
        write(1, "stale writer")
    item = client.get_item(TableName=hash_table, Key={"pk": s("doc")})["Item"]
    assert item["body"] == s("v2") and item["ver"] == n(2)


def test_failed_condition_returns_old_item_when_asked(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("a"), "v": n(1)})
    with expect_error(CCF, message=CCF_MESSAGE) as error:
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("a"), "v": n(2)},
            ConditionExpression="v = :two",
            ExpressionAttributeValues={":two": n(2)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error["Item"] == {"pk": s("a"), "v": n(1)}


def test_failed_condition_on_missing_item_returns_no_item(client, hash_table):
    with expect_error(CCF) as error:
        client.update_item(
            TableName=hash_table,
            Key={"pk": s("absent")},
            UpdateExpression="SET v = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":v": n(1)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert "Item" not in error
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": s("absent")})


def test_failed_condition_leaves_item_on_delete(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("a"), "state": s("open")})
    with expect_error(CCF):
        client.delete_item(
            TableName=hash_table,
            Key={"pk": s("a")},
            ConditionExpression="#st = :closed",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={":closed": s("closed")},
        )
    assert "Item" in client.get_item(TableName=hash_table, Key={"pk": s("a")})


def moto_differs(condition, values, holds, reason):
    return pytest.param(condition, values, holds, marks=pytest.mark.real_dynamodb_semantics(reason))


# (condition, values, holds for SUBJECT?)
CASES = [
    ("n = :v", {":v": n(42)}, True),
    ("n = :v", {":v": s("42")}, False),
    ("n <> :v", {":v": n(41)}, True),
    ("nope <> :v", {":v": n(1)}, True),
    ("nope < :v", {":v": n(1)}, False),
    moto_differs(
        "n < :v",
        {":v": s("zzz")},
        False,
        "moto fails with HTTP 500 comparing a number attribute with a string value",
    ),
    ("n BETWEEN :lo AND :hi", {":lo": n(40), ":hi": n(42)}, True),
    ("n IN (:a, :b, :c)", {":a": s("x"), ":b": n(41), ":c": n(42)}, True),
    ("n IN (:a, :b)", {":a": n(1), ":b": n(2)}, False),
    ("attribute_exists(mp.deep.leaf)", None, True),
    ("attribute_not_exists(mp.deep.nope)", None, True),
    ("attribute_exists(lst[1])", None, True),
    ("attribute_exists(lst[2])", None, False),
    ("attribute_type(tags, :t)", {":t": s("SS")}, True),
    ("attribute_type(nul, :t)", {":t": s("NULL")}, True),
    ("attribute_type(n, :t)", {":t": s("S")}, False),
    ("begins_with(name_s, :p)", {":p": s("mini")}, True),
    moto_differs(
        "begins_with(bin, :p)",
        {":p": {"B": b"\x01\x02"}},
        True,
        "moto's begins_with does not handle binary values",
    ),
    ("begins_with(n, :p)", {":p": s("4")}, False),
    ("contains(name_s, :x)", {":x": s("dyn")}, True),
    ("contains(tags, :x)", {":x": s("red")}, True),
    ("contains(nums, :x)", {":x": n(2)}, True),
    ("contains(lst, :x)", {":x": n(7)}, True),
    ("contains(tags, :x)", {":x": s("green")}, False),
    ("size(name_s) = :v", {":v": n(10)}, True),
    ("size(tags) = :v", {":v": n(2)}, True),
    ("size(mp) = :v", {":v": n(2)}, True),
    moto_differs("size(n) = :v", {":v": n(2)}, False, "moto fails with HTTP 500 on size() of a number"),
    ("mp.inner_n = :v AND lst[0] = :x", {":v": n(5), ":x": s("x")}, True),
    ("flag = :t OR n = :zero AND n = :one", {":t": {"BOOL": True}, ":zero": n(0), ":one": n(1)}, True),
    ("(flag = :t OR n = :zero) AND n = :one", {":t": {"BOOL": True}, ":zero": n(0), ":one": n(1)}, False),
    ("NOT n = :v", {":v": n(42)}, False),
    ("NOT attribute_exists(nope)", None, True),
]


@pytest.mark.parametrize("condition, values, holds", CASES, ids=case_ids(CASES))
def test_condition_evaluation(client, hash_table, condition, values, holds):
    client.put_item(TableName=hash_table, Item=SUBJECT)
    params = {
        "TableName": hash_table,
        "Key": {"pk": s("subject")},
        "UpdateExpression": "SET touched = :mark",
        "ConditionExpression": condition,
        "ExpressionAttributeValues": {":mark": {"BOOL": True}, **(values or {})},
    }
    if holds:
        client.update_item(**params)
        item = client.get_item(TableName=hash_table, Key={"pk": s("subject")})["Item"]
        assert item["touched"] == {"BOOL": True}
    else:
        with expect_error(CCF):
            client.update_item(**params)


def test_reserved_word_needs_a_placeholder(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="Attribute name is a reserved keyword; reserved keyword: status",
    ):
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("a")},
            ConditionExpression="status = :v",
            ExpressionAttributeValues={":v": s("x")},
        )


@pytest.mark.real_dynamodb_semantics("moto fails with HTTP 500 on an undefined value placeholder")
def test_undefined_value_placeholder(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="An expression attribute value used in expression is not defined; attribute value: :missing",
    ):
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("a")},
            ConditionExpression="v = :missing",
            ExpressionAttributeValues={":other": s("x")},
        )


@pytest.mark.real_dynamodb_semantics("moto accepts ExpressionAttributeValues that no expression uses")
def test_unused_value_placeholder(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
    ):
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("a")},
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":unused": s("x")},
        )


def test_unused_name_placeholder(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
    ):
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("a")},
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeNames={"#unused": "x"},
        )


@pytest.mark.real_dynamodb_semantics("moto fails with HTTP 500 on a syntax error in a condition")
def test_condition_syntax_error(client, hash_table):
    with expect_error("ValidationException", contains="Invalid ConditionExpression: Syntax error; token:"):
        client.put_item(
            TableName=hash_table,
            Item={"pk": s("a")},
            ConditionExpression="v = = :v",
            ExpressionAttributeValues={":v": s("x")},
        )
