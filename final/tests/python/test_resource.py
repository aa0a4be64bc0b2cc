"""The boto3 resource layer: what most applications actually use. Python
values in and out (Decimal, set, Binary), batch_writer, and Key/Attr
conditions built by boto3.dynamodb.conditions."""

from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import Binary


@pytest.fixture
def table(resource, composite_table):
    return resource.Table(composite_table)


def test_python_values_roundtrip(table):
    item = {
        "pk": "user#1",
        "sk": "profile",
        "name_s": "Ada",
        "age": Decimal(36),
        "ratio": Decimal("0.125"),
        "active": True,
        "nickname": None,
        "address": {"city": "London", "zip": "N1"},
        "langs": ["en", "fr", Decimal(3)],
        "roles": {"admin", "dev"},
        "scores": {Decimal(1), Decimal("2.5")},
        "avatar": Binary(b"\x89PNG"),
    }
    table.put_item(Item=item)
    assert table.get_item(Key={"pk": "user#1", "sk": "profile"})["Item"] == item


def test_batch_writer_chunks_and_dedupes(table):
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for i in range(60):
            batch.put_item(Item={"pk": "bw", "sk": f"{i:03d}", "v": Decimal(i)})
        # Same key again: the writer keeps only the last put of a key in a chunk.
        batch.put_item(Item={"pk": "bw", "sk": "059", "v": Decimal(-1)})
        batch.delete_item(Key={"pk": "bw", "sk": "000"})
    items = table.query(KeyConditionExpression=Key("pk").eq("bw"))["Items"]
    assert len(items) == 59
    assert items[-1] == {"pk": "bw", "sk": "059", "v": Decimal(-1)}


def _fill(table):
    with table.batch_writer() as batch:
        for i in range(20):
            batch.put_item(
                Item={
                    "pk": "order",
                    "sk": f"2024-01-{i + 1:02d}",
                    "amount": Decimal(i * 10),
                    "tags": {"t", f"t{i % 3}"},
                }
            )
        batch.put_item(Item={"pk": "order", "sk": "2023-12-31", "amount": Decimal(5), "tags": {"old"}})


def test_query_key_eq_and_begins_with(table):
    _fill(table)
    response = table.query(KeyConditionExpression=Key("pk").eq("order") & Key("sk").begins_with("2024-01-1"))
    assert [item["sk"] for item in response["Items"]] == [f"2024-01-{d}" for d in range(10, 20)]


def test_query_key_between_descending(table):
    _fill(table)
    response = table.query(
        KeyConditionExpression=Key("pk").eq("order") & Key("sk").between("2024-01-02", "2024-01-04"),
        ScanIndexForward=False,
    )
    assert [item["sk"] for item in response["Items"]] == ["2024-01-04", "2024-01-03", "2024-01-02"]


def test_query_with_attr_filter(table):
    _fill(table)
    response = table.query(
        KeyConditionExpression=Key("pk").eq("order") & Key("sk").gt("2024"),
        FilterExpression=Attr("amount").gte(150) & Attr("tags").contains("t0"),
    )
    assert [item["amount"] for item in response["Items"]] == [Decimal(150), Decimal(180)]
    assert response["ScannedCount"] == 20


def test_scan_with_attr_conditions(table):
    _fill(table)
    response = table.scan(
        FilterExpression=Attr("amount").is_in([Decimal(0), Decimal(5), Decimal(190)])
        | Attr("tags").size().eq(1)
    )
    assert sorted(item["sk"] for item in response["Items"]) == ["2023-12-31", "2024-01-01", "2024-01-20"]


def test_conditional_put_with_attr(table):
    table.put_item(Item={"pk": "c", "sk": "1"}, ConditionExpression=Attr("pk").not_exists())
    with pytest.raises(table.meta.client.exceptions.ConditionalCheckFailedException):
        table.put_item(Item={"pk": "c", "sk": "1"}, ConditionExpression=Attr("pk").not_exists())


def test_conditional_delete_with_attr(table):
    table.put_item(Item={"pk": "d", "sk": "1", "owner_id": "alice"})
    with pytest.raises(table.meta.client.exceptions.ConditionalCheckFailedException):
        table.delete_item(Key={"pk": "d", "sk": "1"}, ConditionExpression=Attr("owner_id").eq("bob"))
    table.delete_item(
        Key={"pk": "d", "sk": "1"},
        ConditionExpression=Attr("owner_id").eq("alice") & Attr("gone").not_exists(),
    )
    assert "Item" not in table.get_item(Key={"pk": "d", "sk": "1"})


def test_update_item_returns_decimals(table):
    table.put_item(Item={"pk": "u", "sk": "1", "balance": Decimal("10.50")})
    response = table.update_item(
        Key={"pk": "u", "sk": "1"},
        UpdateExpression="SET balance = balance - :debit, history = list_append(if_not_exists(history, :none), :entry)",
        ExpressionAttributeValues={":debit": Decimal("0.75"), ":none": [], ":entry": ["debit 0.75"]},
        ReturnValues="UPDATED_NEW",
    )
    assert response["Attributes"] == {"balance": Decimal("9.75"), "history": ["debit 0.75"]}


def test_table_metadata(resource, table):
    table.load()
    assert table.key_schema == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table.table_status == "ACTIVE"
    assert table.name in {t.name for t in resource.tables.all()}
