"""Query and Scan: key conditions, order, pagination by hand and through
boto3's paginators, Limit, filters with Count/ScannedCount, Select COUNT and
parallel scan segments."""

import pytest

from support import case_ids, expect_error, n, pages, put_items, s

ITEMS_IN_P1 = 30
OTHER_PARTITIONS = ("p2", "p3", "p4")


@pytest.fixture
def filled(client, composite_table):
    """``p1`` holds s000..s029 with ``num`` = i; p2..p4 hold 5 items each."""
    items = [
        {"pk": s("p1"), "sk": s(f"s{i:03d}"), "num": n(i), "parity": s("even" if i % 2 == 0 else "odd")}
        for i in range(ITEMS_IN_P1)
    ]
    items += [{"pk": s(p), "sk": s(f"s{i:03d}"), "num": n(i)} for p in OTHER_PARTITIONS for i in range(5)]
    put_items(client, composite_table, items)
    return composite_table


TOTAL_ITEMS = ITEMS_IN_P1 + 5 * len(OTHER_PARTITIONS)


def _query(client, table, **extra):
    return client.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("p1"), **extra.pop("values", {})},
        **extra,
    )


def _sort_keys(items):
    return [item["sk"]["S"] for item in items]


def test_query_returns_partition_in_sort_order(client, filled):
    response = _query(client, filled)
    assert response["Count"] == ITEMS_IN_P1
    assert _sort_keys(response["Items"]) == [f"s{i:03d}" for i in range(ITEMS_IN_P1)]
    assert "LastEvaluatedKey" not in response


def test_query_backwards(client, filled):
    response = _query(client, filled, ScanIndexForward=False)
    assert _sort_keys(response["Items"]) == [f"s{i:03d}" for i in reversed(range(ITEMS_IN_P1))]


SORT_KEY_CASES = [
    ("sk = :a", {":a": s("s005")}, [5]),
    ("sk < :a", {":a": s("s003")}, [0, 1, 2]),
    ("sk <= :a", {":a": s("s002")}, [0, 1, 2]),
    ("sk > :a", {":a": s("s026")}, [27, 28, 29]),
    ("sk >= :a", {":a": s("s028")}, [28, 29]),
    ("sk BETWEEN :a AND :b", {":a": s("s010"), ":b": s("s012")}, [10, 11, 12]),
    ("begins_with(sk, :a)", {":a": s("s02")}, list(range(20, 30))),
    pytest.param(
        ":a <= sk",
        {":a": s("s028")},
        [28, 29],
        marks=pytest.mark.real_dynamodb_semantics("moto rejects a key condition with the value on the left"),
    ),
]


@pytest.mark.parametrize("condition, values, expected", SORT_KEY_CASES, ids=case_ids(SORT_KEY_CASES))
def test_sort_key_conditions(client, filled, condition, values, expected):
    response = client.query(
        TableName=filled,
        KeyConditionExpression=f"pk = :p AND {condition}",
        ExpressionAttributeValues={":p": s("p1"), **values},
    )
    assert _sort_keys(response["Items"]) == [f"s{i:03d}" for i in expected]


def test_query_pages_by_hand_with_limit(client, filled):
    responses = pages(
        client.query,
        TableName=filled,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("p1")},
        Limit=7,
    )
    assert len(responses) >= 5, "30 items at 7 a page take at least 5 pages"
    assert all(page["Count"] <= 7 for page in responses)
    keys = [key for page in responses for key in _sort_keys(page["Items"])]
    assert keys == [f"s{i:03d}" for i in range(ITEMS_IN_P1)]


def test_query_paginator(client, filled):
    paginator = client.get_paginator("query")
    responses = list(
        paginator.paginate(
            TableName=filled,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": s("p1")},
            ScanIndexForward=False,
            PaginationConfig={"PageSize": 4},
        )
    )
    assert len(responses) >= 8
    keys = [key for page in responses for key in _sort_keys(page["Items"])]
    assert keys == [f"s{i:03d}" for i in reversed(range(ITEMS_IN_P1))]


def test_exclusive_start_key_resumes_after_it(client, filled):
    response = _query(client, filled, ExclusiveStartKey={"pk": s("p1"), "sk": s("s026")})
    assert _sort_keys(response["Items"]) == ["s027", "s028", "s029"]


def test_numeric_sort_keys_sort_by_value(client, numeric_table):
    values = ["10", "9", "-1", "100", "0.5", "-20"]
    put_items(client, numeric_table, [{"pk": s("p"), "sk": n(v)} for v in values])
    response = client.query(
        TableName=numeric_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("p")}
    )
    assert [item["sk"]["N"] for item in response["Items"]] == ["-20", "-1", "0.5", "9", "10", "100"]


def test_filter_counts_before_and_after(client, filled):
    response = _query(client, filled, FilterExpression="num >= :k", values={":k": n(25)})
    assert response["ScannedCount"] == ITEMS_IN_P1
    assert response["Count"] == 5
    assert [item["num"]["N"] for item in response["Items"]] == ["25", "26", "27", "28", "29"]


def test_limit_applies_before_the_filter(client, filled):
    response = _query(client, filled, Limit=10, FilterExpression="parity = :odd", values={":odd": s("odd")})
    assert response["ScannedCount"] == 10
    assert response["Count"] == 5
    assert response["LastEvaluatedKey"] == {"pk": s("p1"), "sk": s("s009")}


def test_filtered_pages_may_be_empty_but_continue(client, filled):
    responses = pages(
        client.query,
        TableName=filled,
        KeyConditionExpression="pk = :p",
        FilterExpression="num >= :k",
        ExpressionAttributeValues={":p": s("p1"), ":k": n(28)},
        Limit=5,
    )
    assert sum(page["Count"] for page in responses) == 2
    assert sum(page["ScannedCount"] for page in responses) == ITEMS_IN_P1
    assert any(page["Count"] == 0 and "LastEvaluatedKey" in page for page in responses)


def test_select_count(client, filled):
    response = _query(client, filled, Select="COUNT")
    assert response["Count"] == ITEMS_IN_P1
    assert "Items" not in response


def test_query_projection(client, filled):
    response = _query(client, filled, ProjectionExpression="sk, num", Limit=2)
    assert response["Items"] == [{"sk": s("s000"), "num": n(0)}, {"sk": s("s001"), "num": n(1)}]


def test_query_one_megabyte_pages(client, composite_table):
    """Without Limit a page stops once about 1 MB has been read."""
    blob = "x" * 100_000
    put_items(
        client, composite_table, [{"pk": s("big"), "sk": s(f"{i:02d}"), "blob": s(blob)} for i in range(25)]
    )
    responses = pages(
        client.query,
        TableName=composite_table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("big")},
    )
    assert len(responses) >= 3, "2.5 MB of items cannot come back in fewer than 3 pages"
    assert sum(page["Count"] for page in responses) == 25


def test_scan_paginator_visits_every_item_once(client, filled):
    paginator = client.get_paginator("scan")
    responses = list(paginator.paginate(TableName=filled, PaginationConfig={"PageSize": 6}))
    assert len(responses) >= TOTAL_ITEMS // 6
    keys = [(item["pk"]["S"], item["sk"]["S"]) for page in responses for item in page["Items"]]
    assert len(keys) == TOTAL_ITEMS
    assert len(set(keys)) == TOTAL_ITEMS


def test_scan_limit_and_start_key(client, filled):
    first = client.scan(TableName=filled, Limit=10)
    assert first["Count"] == 10 and first["ScannedCount"] == 10
    second = client.scan(TableName=filled, Limit=10, ExclusiveStartKey=first["LastEvaluatedKey"])
    firsts = {(i["pk"]["S"], i["sk"]["S"]) for i in first["Items"]}
    seconds = {(i["pk"]["S"], i["sk"]["S"]) for i in second["Items"]}
    assert not firsts & seconds


def test_scan_filter_counts(client, filled):
    responses = pages(
        client.scan,
        TableName=filled,
        FilterExpression="num < :k",
        ExpressionAttributeValues={":k": n(2)},
        Limit=8,
    )
    assert sum(page["ScannedCount"] for page in responses) == TOTAL_ITEMS
    assert sum(page["Count"] for page in responses) == 2 * (1 + len(OTHER_PARTITIONS))


def test_scan_select_count(client, filled):
    response = client.scan(TableName=filled, Select="COUNT")
    assert response["Count"] == TOTAL_ITEMS
    assert "Items" not in response


def test_parallel_scan_segments_cover_each_item_once(client, filled):
    seen = []
    for segment in range(4):
        for page in pages(client.scan, TableName=filled, Segment=segment, TotalSegments=4, Limit=5):
            seen += [(item["pk"]["S"], item["sk"]["S"]) for item in page["Items"]]
    assert len(seen) == TOTAL_ITEMS
    assert len(set(seen)) == TOTAL_ITEMS


@pytest.mark.real_dynamodb_semantics(
    "moto leaves 'Segment: 3 is not less than TotalSegments: 3' out of the message"
)
def test_segment_must_be_below_total(client, filled):
    with expect_error(
        "ValidationException",
        contains="The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 3",
    ):
        client.scan(TableName=filled, Segment=3, TotalSegments=3)


@pytest.mark.real_dynamodb_semantics(
    "moto words the error 'Either KeyConditions or QueryFilter should be present'"
)
def test_query_needs_a_key_condition(client, filled):
    with expect_error(
        "ValidationException",
        contains="Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
    ):
        client.query(TableName=filled)


def test_query_needs_the_partition_key(client, filled):
    with expect_error("ValidationException", contains="Query condition missed key schema element: pk"):
        client.query(
            TableName=filled,
            KeyConditionExpression="sk = :a",
            ExpressionAttributeValues={":a": s("s001")},
        )


@pytest.mark.real_dynamodb_semantics("moto accepts a Query filter on a key attribute")
def test_filter_cannot_use_key_attributes(client, filled):
    with expect_error(
        "ValidationException",
        contains="Filter Expression can only contain non-primary key attributes: Primary key attribute: sk",
    ):
        _query(client, filled, FilterExpression="sk = :a", values={":a": s("s001")})


@pytest.mark.real_dynamodb_semantics("moto accepts a key condition value of the wrong type")
def test_key_condition_type_must_match_schema(client, filled):
    with expect_error("ValidationException", contains="Condition parameter type does not match schema type"):
        client.query(
            TableName=filled,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": n(1)},
        )
