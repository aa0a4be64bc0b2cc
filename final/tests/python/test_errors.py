"""Errors SDKs and people meet most: missing tables, key mistakes, size
limits. Each asserts the error code, HTTP 400 and DynamoDB's message."""

import json
import urllib.error
import urllib.request

import pytest

from support import expect_error, n, s

ITEM_SIZE_BYTES_MAX = 400 * 1024
HASH_KEY_BYTES_MAX = 2048
RANGE_KEY_BYTES_MAX = 1024


def test_get_from_missing_table(client, table_name):
    with expect_error("ResourceNotFoundException", contains="Requested resource not found"):
        client.get_item(TableName=table_name, Key={"pk": s("a")})


def test_put_into_missing_table(client, table_name):
    with expect_error("ResourceNotFoundException", contains="Requested resource not found"):
        client.put_item(TableName=table_name, Item={"pk": s("a")})


def test_query_missing_table(client, table_name):
    with expect_error("ResourceNotFoundException"):
        client.query(
            TableName=table_name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("a")}
        )


def test_item_without_its_key(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="One or more parameter values were invalid: Missing the key pk in the item",
    ):
        client.put_item(TableName=hash_table, Item={"other": s("a")})


def test_key_of_the_wrong_type(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N",
    ):
        client.put_item(TableName=hash_table, Item={"pk": n(1)})


def test_get_with_extra_key_attribute(client, hash_table):
    with expect_error("ValidationException", contains="The provided key element does not match the schema"):
        client.get_item(TableName=hash_table, Key={"pk": s("a"), "extra": s("b")})


def _item_of_size(size, key="big"):
    """An item whose DynamoDB size is exactly ``size`` bytes: names count too."""
    overhead = len("pk") + len(key) + len("data")
    return {"pk": s(key), "data": s("x" * (size - overhead))}


@pytest.mark.real_dynamodb_semantics("moto sizes items its own way and rejects one of exactly 400 KB")
def test_item_at_the_size_limit_is_accepted(client, hash_table):
    client.put_item(TableName=hash_table, Item=_item_of_size(ITEM_SIZE_BYTES_MAX))


def test_item_over_the_size_limit(client, hash_table):
    with expect_error("ValidationException", contains="Item size has exceeded the maximum allowed size"):
        client.put_item(TableName=hash_table, Item=_item_of_size(ITEM_SIZE_BYTES_MAX + 1))


def test_update_that_makes_the_item_too_large(client, hash_table):
    client.put_item(TableName=hash_table, Item=_item_of_size(ITEM_SIZE_BYTES_MAX - 10_000))
    with expect_error(
        "ValidationException", contains="Item size to update has exceeded the maximum allowed size"
    ):
        client.update_item(
            TableName=hash_table,
            Key={"pk": s("big")},
            UpdateExpression="SET more = :x",
            ExpressionAttributeValues={":x": s("y" * 20_000)},
        )


def test_hash_key_at_the_limit_is_accepted(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": s("h" * HASH_KEY_BYTES_MAX)})


def test_hash_key_too_large(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
    ):
        client.put_item(TableName=hash_table, Item={"pk": s("h" * (HASH_KEY_BYTES_MAX + 1))})


def test_multibyte_hash_key_counts_bytes(client, hash_table):
    with expect_error("ValidationException", contains="Size of hashkey has exceeded the maximum size limit"):
        client.put_item(TableName=hash_table, Item={"pk": s("é" * (HASH_KEY_BYTES_MAX // 2 + 1))})


def test_range_key_at_the_limit_is_accepted(client, composite_table):
    client.put_item(TableName=composite_table, Item={"pk": s("p"), "sk": s("r" * RANGE_KEY_BYTES_MAX)})


def test_range_key_too_large(client, composite_table):
    with expect_error(
        "ValidationException",
        contains="One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
    ):
        client.put_item(
            TableName=composite_table, Item={"pk": s("p"), "sk": s("r" * (RANGE_KEY_BYTES_MAX + 1))}
        )


@pytest.mark.real_dynamodb_semantics("moto answers errors with Content-Type application/json")
def test_error_responses_are_json_with_a_type(client, table_name):
    with expect_error("ResourceNotFoundException") as error:
        client.describe_table(TableName=table_name)
    headers = error["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"].startswith("application/x-amz-json-1.0")
    assert error["ResponseMetadata"]["RequestId"]


def test_health_check_answers_get(endpoint):
    with urllib.request.urlopen(endpoint + "/", timeout=5) as response:
        assert response.status == 200


@pytest.mark.real_dynamodb_semantics("moto does not check that requests are signed")
def test_unsigned_request_is_refused(endpoint):
    request = urllib.request.Request(
        endpoint + "/",
        data=json.dumps({}).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 400
    body = json.loads(info.value.read())
    assert body["__type"].rsplit("#", 1)[-1] == "MissingAuthenticationTokenException"
    assert body["message"] == "Request is missing Authentication Token"
