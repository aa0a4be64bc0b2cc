"""Table life cycle: CreateTable, DescribeTable, ListTables, UpdateTable,
DeleteTable and the waiters the SDKs build on them."""

import pytest

from support import expect_error, wait_active

WAITER = {"Delay": 1, "MaxAttempts": 30}


def _key_schema(hash_name, range_name=None):
    schema = [{"AttributeName": hash_name, "KeyType": "HASH"}]
    if range_name:
        schema.append({"AttributeName": range_name, "KeyType": "RANGE"})
    return schema


def test_create_then_describe(client, make_table):
    name = make_table(range_key=("sk", "N"))
    table = client.describe_table(TableName=name)["Table"]
    assert table["TableName"] == name
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == _key_schema("pk", "sk")
    assert sorted(table["AttributeDefinitions"], key=lambda d: d["AttributeName"]) == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ]
    assert table["TableArn"].startswith("arn:aws:dynamodb:us-east-1:")
    assert table["TableArn"].endswith(f":table/{name}")
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["ItemCount"] == 0
    assert table["TableSizeBytes"] == 0


def test_create_returns_description(client, table_name):
    response = client.create_table(
        TableName=table_name,
        KeySchema=_key_schema("id"),
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "B"}],
        BillingMode="PAY_PER_REQUEST",
    )
    description = response["TableDescription"]
    assert description["TableName"] == table_name
    assert description["TableStatus"] in ("CREATING", "ACTIVE")
    assert description["KeySchema"] == _key_schema("id")


def test_waiters_see_table_come_and_go(client, table_name):
    client.create_table(
        TableName=table_name,
        KeySchema=_key_schema("pk"),
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig=WAITER)
    assert client.describe_table(TableName=table_name)["Table"]["TableStatus"] == "ACTIVE"
    client.delete_table(TableName=table_name)
    client.get_waiter("table_not_exists").wait(TableName=table_name, WaiterConfig=WAITER)
    with expect_error("ResourceNotFoundException"):
        client.describe_table(TableName=table_name)


@pytest.mark.real_dynamodb_semantics("moto's DeleteTable answers with the table still ACTIVE, not DELETING")
def test_delete_returns_deleting_description(client, make_table):
    name = make_table()
    description = client.delete_table(TableName=name)["TableDescription"]
    assert description["TableName"] == name
    assert description["TableStatus"] == "DELETING"


@pytest.mark.real_dynamodb_semantics("moto lists tables in creation order, not ascending by name")
def test_list_tables_pages_with_limit(client, make_table):
    ours = sorted(make_table() for _ in range(5))
    seen, start, pages = [], None, 0
    while True:
        params = {"Limit": 2}
        if start:
            params["ExclusiveStartTableName"] = start
        page = client.list_tables(**params)
        pages += 1
        assert len(page["TableNames"]) <= 2
        seen += page["TableNames"]
        start = page.get("LastEvaluatedTableName")
        if not start or pages > 1000:
            break
    assert pages >= 3
    assert seen == sorted(seen), "ListTables returns names in ascending order"
    assert len(seen) == len(set(seen)), "pages must not overlap"
    assert set(ours) <= set(seen)


def test_list_tables_paginator(client, make_table):
    ours = {make_table() for _ in range(3)}
    paginator = client.get_paginator("list_tables")
    names = []
    pages = 0
    for page in paginator.paginate(PaginationConfig={"PageSize": 1}):
        pages += 1
        names += page["TableNames"]
    assert pages >= 3
    assert ours <= set(names)


def test_list_tables_last_page_has_no_start_name(client, make_table):
    make_table()
    page = client.list_tables(Limit=100)
    if len(page["TableNames"]) < 100:
        assert "LastEvaluatedTableName" not in page


def test_create_existing_table_is_resource_in_use(client, make_table):
    name = make_table()
    with expect_error("ResourceInUseException", contains=f"Table already exists: {name}"):
        client.create_table(
            TableName=name,
            KeySchema=_key_schema("pk"),
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_describe_missing_table(client, table_name):
    with expect_error(
        "ResourceNotFoundException",
        contains=f"Requested resource not found: Table: {table_name} not found",
    ):
        client.describe_table(TableName=table_name)


def test_delete_missing_table(client, table_name):
    with expect_error("ResourceNotFoundException"):
        client.delete_table(TableName=table_name)


def test_item_calls_on_deleted_table(client, make_table):
    name = make_table()
    client.delete_table(TableName=name)
    client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=WAITER)
    with expect_error("ResourceNotFoundException", contains="Requested resource not found"):
        client.get_item(TableName=name, Key={"pk": {"S": "a"}})


def test_update_provisioned_throughput(client, make_table):
    name = make_table(
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    response = client.update_table(
        TableName=name,
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 7},
    )
    assert response["TableDescription"]["TableName"] == name
    wait_active(client, name)
    throughput = client.describe_table(TableName=name)["Table"]["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (10, 7)


def test_update_billing_mode_to_on_demand(client, make_table):
    name = make_table(
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    client.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    wait_active(client, name)
    table = client.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.real_dynamodb_semantics("moto does not check table names against [a-zA-Z0-9_.-]+")
def test_invalid_table_name(client, table_name):
    with expect_error(
        "ValidationException",
        contains="Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ):
        client.create_table(
            TableName=table_name + " not valid!",
            KeySchema=_key_schema("pk"),
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_attribute_definitions_must_match_keys(client, table_name):
    with expect_error(
        "ValidationException",
        contains="Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
    ):
        client.create_table(
            TableName=table_name,
            KeySchema=_key_schema("pk"),
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "extra", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )


def test_provisioned_needs_throughput(client, table_name):
    with expect_error(
        "ValidationException",
        contains="ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
    ):
        client.create_table(
            TableName=table_name,
            KeySchema=_key_schema("pk"),
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PROVISIONED",
        )


@pytest.mark.real_dynamodb_semantics("moto accepts BOOL as a key attribute type")
def test_key_attribute_type_must_be_scalar(client, table_name):
    with expect_error("ValidationException"):
        client.create_table(
            TableName=table_name,
            KeySchema=_key_schema("pk"),
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "BOOL"}],
            BillingMode="PAY_PER_REQUEST",
        )


@pytest.mark.real_dynamodb_semantics("moto accepts a key schema whose hash and range keys share a name")
def test_hash_and_range_with_same_name(client, table_name):
    with expect_error(
        "ValidationException",
        contains="Both the Hash Key and the Range Key element in the KeySchema have the same name",
    ):
        client.create_table(
            TableName=table_name,
            KeySchema=_key_schema("pk", "pk"),
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
