"""What the test files share: waiting, error checks, paging loops.

Every loop here is bounded, by a deadline or a page count, so a server that
never finishes a table or never stops paging fails the test instead of
hanging the suite.
"""

import contextlib
import time

import botocore.exceptions
import pytest

# A table must be ACTIVE (or gone) within this long; DynamoDB takes seconds,
# a local server should take a blink.
TABLE_STATE_TIMEOUT_S = 30.0
# No paging loop in this suite needs more pages than this.
PAGES_MAX = 1000
# BatchGetItem/BatchWriteItem leftovers are retried at most this many times.
BATCH_RETRIES_MAX = 20


def wait_active(client, name):
    """Polls DescribeTable until the table is ACTIVE."""
    deadline = time.monotonic() + TABLE_STATE_TIMEOUT_S
    pause = 0.01
    while True:
        status = client.describe_table(TableName=name)["Table"]["TableStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"table {name} still {status} after {TABLE_STATE_TIMEOUT_S}s")
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


@contextlib.contextmanager
def expect_error(code, message=None, contains=None):
    """Expects a DynamoDB error with this code (the part of ``__type`` after
    ``#``), HTTP 400, and optionally an exact message or a fragment of one.

    Yields a dict that holds the botocore error response afterwards, for tests
    that look at extra members such as ``Item``.
    """
    caught = {}
    with pytest.raises(botocore.exceptions.ClientError) as info:
        yield caught
    response = info.value.response
    caught.update(response)
    error = response["Error"]
    assert error["Code"] == code, f"expected {code}, got {error}"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message is not None:
        assert error["Message"] == message
    if contains is not None:
        assert contains in error["Message"], f"{contains!r} not in {error['Message']!r}"


def s(value):
    return {"S": value}


def n(value):
    return {"N": str(value)}


def put_items(client, table, items):
    """Writes items through BatchWriteItem, 25 at a time, retrying leftovers."""
    for start in range(0, len(items), 25):
        requests = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        for _ in range(BATCH_RETRIES_MAX):
            left = client.batch_write_item(RequestItems=requests)["UnprocessedItems"]
            if not left:
                break
            requests = left
        else:
            raise AssertionError("BatchWriteItem kept returning UnprocessedItems")


def batch_get_all(client, request_items):
    """BatchGetItem until UnprocessedKeys is empty; returns table -> items."""
    found = {}
    pending = request_items
    for _ in range(BATCH_RETRIES_MAX):
        response = client.batch_get_item(RequestItems=pending)
        for table, items in response["Responses"].items():
            found.setdefault(table, []).extend(items)
        pending = response["UnprocessedKeys"]
        if not pending:
            return found
    raise AssertionError("BatchGetItem kept returning UnprocessedKeys")


def pages(call, **params):
    """Follows LastEvaluatedKey by hand; returns the list of page responses."""
    result = []
    for _ in range(PAGES_MAX):
        page = call(**params)
        result.append(page)
        if "LastEvaluatedKey" not in page:
            return result
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError(f"more than {PAGES_MAX} pages")


def case_ids(cases):
    """Test ids for parametrized cases whose first element is an expression:
    the expression itself, numbered so that repeats stay distinct."""
    ids = []
    for index, case in enumerate(cases):
        first = case.values[0] if hasattr(case, "values") else case[0]
        ids.append(f"{index:02d} {first}")
    return ids
