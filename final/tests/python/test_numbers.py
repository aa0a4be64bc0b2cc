"""Numbers: 38 significant digits, the magnitude range, the canonical form a
server sends back, numeric key identity and exact decimal arithmetic."""

from decimal import Decimal

import pytest

from support import case_ids, expect_error, n, s

KEY = {"pk": s("num")}


def _store(client, table, value):
    client.put_item(TableName=table, Item={**KEY, "v": n(value)})
    return client.get_item(TableName=table, Key=KEY)["Item"]["v"]["N"]


@pytest.mark.parametrize(
    "value",
    [
        "12345678901234567890123456789012345678",
        "-0.12345678901234567890123456789012345678",
        "1234567890123456789.0123456789012345678",
        "9.9999999999999999999999999999999999999E+125",
        "-9.9999999999999999999999999999999999999E+125",
        "1E-130",
        "-1E-130",
    ],
)
def test_extreme_numbers_are_kept_exactly(client, hash_table, value):
    assert Decimal(_store(client, hash_table, value)) == Decimal(value)


NORMAL_FORMS = [
    ("1E+2", "100"),
    ("1e3", "1000"),
    ("+5", "5"),
    ("-0", "0"),
    (".5", "0.5"),
    ("0001.5000", "1.5"),
    ("1.23e-1", "0.123"),
    ("1e-20", "0.00000000000000000001"),
    ("5.0", "5"),
]


@pytest.mark.real_dynamodb_semantics("moto returns numbers exactly as they were sent, not in canonical form")
@pytest.mark.parametrize("sent, returned", NORMAL_FORMS, ids=case_ids(NORMAL_FORMS))
def test_numbers_come_back_in_canonical_form(client, hash_table, sent, returned):
    assert _store(client, hash_table, sent) == returned


def test_simple_numbers_come_back_unchanged(client, hash_table):
    for value in ("0", "7", "-12.5", "3.14159"):
        assert _store(client, hash_table, value) == value


TOO_PRECISE = "1234567890123456789012345678901234567.89"


OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
MOTO_NO_LIMIT = pytest.mark.real_dynamodb_semantics("moto stores numbers beyond 38 digits and 1E+126")


@pytest.mark.parametrize(
    "value, message",
    [
        pytest.param(
            TOO_PRECISE,
            "Attempting to store more than 38 significant digits in a Number",
            id="39 digits",
            marks=MOTO_NO_LIMIT,
        ),
        pytest.param("1E+126", OVERFLOW, id="overflow", marks=MOTO_NO_LIMIT),
        pytest.param("-1E+126", OVERFLOW, id="negative overflow", marks=MOTO_NO_LIMIT),
        pytest.param(
            "1E-131",
            "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            id="underflow",
        ),
        pytest.param("NaN", "The parameter cannot be converted to a numeric value: NaN", id="NaN"),
        pytest.param("12abc", "The parameter cannot be converted to a numeric value: 12abc", id="garbage"),
    ],
)
def test_invalid_numbers(client, hash_table, value, message):
    with expect_error("ValidationException", contains=message):
        client.put_item(TableName=hash_table, Item={**KEY, "v": n(value)})


@pytest.mark.real_dynamodb_semantics("moto compares number keys as strings, so 1000 and 1E3 are two keys")
def test_number_keys_are_identified_by_value(client, numeric_table):
    client.put_item(TableName=numeric_table, Item={"pk": s("p"), "sk": n("1000"), "v": s("first")})
    client.put_item(TableName=numeric_table, Item={"pk": s("p"), "sk": n("1E3"), "v": s("second")})
    item = client.get_item(TableName=numeric_table, Key={"pk": s("p"), "sk": n("1000.00")})["Item"]
    assert item["v"] == s("second")
    count = client.query(
        TableName=numeric_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("p")}
    )["Count"]
    assert count == 1


def test_addition_is_exact_decimal(client, hash_table):
    client.put_item(TableName=hash_table, Item={**KEY, "v": n("0.1")})
    response = client.update_item(
        TableName=hash_table,
        Key=KEY,
        UpdateExpression="ADD v :x SET w = :big + :small",
        ExpressionAttributeValues={
            ":x": n("0.2"),
            ":big": n("12345678901234567890123456789012345670"),
            ":small": n("8"),
        },
        ReturnValues="ALL_NEW",
    )
    assert response["Attributes"]["v"] == n("0.3")
    assert response["Attributes"]["w"] == n("12345678901234567890123456789012345678")


@pytest.mark.real_dynamodb_semantics("moto fails with HTTP 500 when a sum needs more than 38 digits")
def test_arithmetic_needing_39_digits_fails(client, hash_table):
    with expect_error("ValidationException", contains="Number overflow"):
        client.update_item(
            TableName=hash_table,
            Key=KEY,
            UpdateExpression="SET v = :big + :one",
            ExpressionAttributeValues={":big": n("1E+50"), ":one": n("1")},
        )


@pytest.mark.real_dynamodb_semantics("moto compares set members as strings, so 1 and 1.0 are not duplicates")
def test_number_set_duplicates_by_value(client, hash_table):
    with expect_error("ValidationException", contains="Input collection contains duplicates"):
        client.put_item(TableName=hash_table, Item={**KEY, "ns": {"NS": ["1", "1.0"]}})


def test_resource_layer_keeps_38_digit_decimals(resource, hash_table):
    """boto3 reads numbers with a 38-digit Decimal context that refuses to
    round, so a number whose plain form is longer (1E+125 comes back as 126
    digits) cannot be read through the resource layer at all, from any
    server. The magnitudes here stay within what boto3 itself can read."""
    table = resource.Table(hash_table)
    value = Decimal("3.1415926535897932384626433832795028841")
    big = Decimal("-9.9999999999999999999999999999999999999E+37")
    tiny = Decimal("-1E-130")
    table.put_item(Item={"pk": "pi", "v": value, "big": big, "tiny": tiny})
    item = table.get_item(Key={"pk": "pi"})["Item"]
    assert item["v"] == value
    assert item["big"] == big
    assert item["tiny"] == tiny
