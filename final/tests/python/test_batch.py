"""BatchWriteItem and BatchGetItem: their limits, duplicate keys, several
tables in one call, and the UnprocessedKeys loop every client must run."""

import pytest

from support import batch_get_all, expect_error, n, put_items, s


def _keys(count, prefix="k"):
    return [{"pk": s(f"{prefix}{i:03d}")} for i in range(count)]


def test_write_25_then_get_them(client, hash_table):
    items = [{**key, "v": n(i)} for i, key in enumerate(_keys(25))]
    response = client.batch_write_item(
        RequestItems={hash_table: [{"PutRequest": {"Item": i}} for i in items]}
    )
    assert response["UnprocessedItems"] == {}
    found = batch_get_all(client, {hash_table: {"Keys": _keys(25)}})
    assert sorted(found[hash_table], key=lambda i: i["pk"]["S"]) == items


@pytest.mark.real_dynamodb_semantics("moto accepts more than 25 requests in one BatchWriteItem")
def test_write_more_than_25_is_rejected(client, hash_table):
    requests = [{"PutRequest": {"Item": key}} for key in _keys(26)]
    with expect_error("ValidationException", contains="Member must have length less than or equal to 25"):
        client.batch_write_item(RequestItems={hash_table: requests})
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": s("k000")})


@pytest.mark.real_dynamodb_semantics("moto flags two puts of one key only when the whole items are equal")
def test_write_duplicate_puts_are_rejected(client, hash_table):
    requests = [
        {"PutRequest": {"Item": {"pk": s("same"), "v": n(1)}}},
        {"PutRequest": {"Item": {"pk": s("same"), "v": n(2)}}},
    ]
    with expect_error("ValidationException", contains="Provided list of item keys contains duplicates"):
        client.batch_write_item(RequestItems={hash_table: requests})


@pytest.mark.real_dynamodb_semantics(
    "moto only finds duplicates among puts, not a put and a delete of one key"
)
def test_write_put_and_delete_of_one_key_are_rejected(client, hash_table):
    requests = [
        {"PutRequest": {"Item": {"pk": s("same"), "v": n(1)}}},
        {"DeleteRequest": {"Key": {"pk": s("same")}}},
    ]
    with expect_error("ValidationException", contains="Provided list of item keys contains duplicates"):
        client.batch_write_item(RequestItems={hash_table: requests})


@pytest.mark.real_dynamodb_semantics("moto compares number keys as strings, so 1000 and 1E3 are two keys")
def test_write_numeric_keys_compare_by_value(client, numeric_table):
    requests = [
        {"PutRequest": {"Item": {"pk": s("p"), "sk": n("1000")}}},
        {"PutRequest": {"Item": {"pk": s("p"), "sk": n("1E3")}}},
    ]
    with expect_error("ValidationException", contains="Provided list of item keys contains duplicates"):
        client.batch_write_item(RequestItems={numeric_table: requests})


def test_write_puts_and_deletes_together(client, hash_table):
    put_items(client, hash_table, [{"pk": s("old")}])
    client.batch_write_item(
        RequestItems={
            hash_table: [
                {"DeleteRequest": {"Key": {"pk": s("old")}}},
                {"PutRequest": {"Item": {"pk": s("new")}}},
                {"DeleteRequest": {"Key": {"pk": s("never-existed")}}},
            ]
        }
    )
    found = batch_get_all(client, {hash_table: {"Keys": [{"pk": s("old")}, {"pk": s("new")}]}})
    assert found[hash_table] == [{"pk": s("new")}]


def test_get_100_keys_across_two_tables(client, make_table):
    first, second = make_table(), make_table()
    put_items(client, first, [{**key, "t": s("first")} for key in _keys(60)])
    put_items(client, second, [{**key, "t": s("second")} for key in _keys(30)])
    found = batch_get_all(
        client,
        {
            first: {"Keys": _keys(60)},
            # 30 exist, 10 do not: missing keys are simply left out.
            second: {"Keys": _keys(40), "ConsistentRead": True},
        },
    )
    assert len(found[first]) == 60
    assert len(found[second]) == 30
    assert {item["t"]["S"] for item in found[second]} == {"second"}


def test_get_reports_every_table_even_when_nothing_is_found(client, hash_table):
    response = client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": s("absent")}]}})
    assert response["Responses"] == {hash_table: []}
    assert response["UnprocessedKeys"] == {}


def test_get_more_than_100_in_one_table_is_rejected(client, hash_table):
    with expect_error("ValidationException", contains="Member must have length less than or equal to 100"):
        client.batch_get_item(RequestItems={hash_table: {"Keys": _keys(101)}})


def test_get_more_than_100_in_all_is_rejected(client, make_table):
    first, second = make_table(), make_table()
    with expect_error("ValidationException", contains="Too many items requested for the BatchGetItem call"):
        client.batch_get_item(RequestItems={first: {"Keys": _keys(51)}, second: {"Keys": _keys(50)}})


def test_get_duplicate_keys_is_rejected(client, hash_table):
    with expect_error("ValidationException", contains="Provided list of item keys contains duplicates"):
        client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": s("a")}, {"pk": s("a")}]}})


def test_get_with_projection(client, hash_table):
    put_items(client, hash_table, [{"pk": s("a"), "keep": s("x"), "drop_me": s("y")}])
    found = batch_get_all(client, {hash_table: {"Keys": [{"pk": s("a")}], "ProjectionExpression": "keep"}})
    assert found[hash_table] == [{"keep": s("x")}]


def test_get_unknown_table(client, hash_table):
    with expect_error("ResourceNotFoundException"):
        client.batch_get_item(
            RequestItems={
                hash_table: {"Keys": [{"pk": s("a")}]},
                hash_table + "-missing": {"Keys": [{"pk": s("a")}]},
            }
        )


def test_write_unknown_table(client, hash_table):
    with expect_error("ResourceNotFoundException"):
        client.batch_write_item(
            RequestItems={hash_table + "-missing": [{"PutRequest": {"Item": {"pk": s("a")}}}]}
        )
