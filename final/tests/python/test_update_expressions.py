"""UpdateExpression: SET (arithmetic, if_not_exists, list_append, nested
paths), REMOVE, ADD and DELETE, and the errors for paths that cannot work."""

from support import expect_error, n, s

KEY = {"pk": s("u")}


def _update(client, table, expression, values=None, names=None, **extra):
    params = {"TableName": table, "Key": KEY, "UpdateExpression": expression, "ReturnValues": "ALL_NEW"}
    if values:
        params["ExpressionAttributeValues"] = values
    if names:
        params["ExpressionAttributeNames"] = names
    params.update(extra)
    return client.update_item(**params).get("Attributes")


def _seed(client, table, **attributes):
    client.put_item(TableName=table, Item={**KEY, **attributes})


def test_set_several_with_name_placeholders(client, hash_table):
    item = _update(
        client,
        hash_table,
        "SET #a = :a, #dotted = :b, plain = :c",
        values={":a": s("one"), ":b": n(2), ":c": {"BOOL": False}},
        names={"#a": "first", "#dotted": "not.a.path"},
    )
    assert item == {**KEY, "first": s("one"), "not.a.path": n(2), "plain": {"BOOL": False}}


def test_set_arithmetic(client, hash_table):
    _seed(client, hash_table, hits=n(10))
    item = _update(
        client, hash_table, "SET hits = hits + :d, below = :hundred - hits", {":d": n(5), ":hundred": n(100)}
    )
    assert item["hits"] == n(15)
    assert item["below"] == n(90), "the right-hand sides read the item as it was before the update"


def test_counter_with_if_not_exists(client, hash_table):
    expression = "SET hits = if_not_exists(hits, :zero) + :one"
    values = {":zero": n(0), ":one": n(1)}
    assert _update(client, hash_table, expression, values)["hits"] == n(1)
    assert _update(client, hash_table, expression, values)["hits"] == n(2)


def test_if_not_exists_keeps_existing_value(client, hash_table):
    _seed(client, hash_table, first_seen=s("monday"))
    item = _update(
        client, hash_table, "SET first_seen = if_not_exists(first_seen, :today)", {":today": s("friday")}
    )
    assert item["first_seen"] == s("monday")


def test_list_append_and_prepend(client, hash_table):
    _seed(client, hash_table, lst={"L": [s("b")]})
    item = _update(
        client,
        hash_table,
        "SET lst = list_append(:front, list_append(lst, :back))",
        {":front": {"L": [s("a")]}, ":back": {"L": [s("c"), s("d")]}},
    )
    assert item["lst"] == {"L": [s("a"), s("b"), s("c"), s("d")]}


def test_list_append_to_missing_list_with_if_not_exists(client, hash_table):
    item = _update(
        client,
        hash_table,
        "SET lst = list_append(if_not_exists(lst, :empty), :v)",
        {":empty": {"L": []}, ":v": {"L": [n(1)]}},
    )
    assert item["lst"] == {"L": [n(1)]}


def test_nested_set_in_maps_and_lists(client, hash_table):
    _seed(client, hash_table, mp={"M": {"child": {"M": {}}, "lst": {"L": [n(0), n(1)]}}})
    item = _update(
        client,
        hash_table,
        "SET mp.child.leaf = :x, mp.lst[1] = :y, mp.lst[10] = :z",
        {":x": s("leaf"), ":y": n(11), ":z": n(99)},
    )
    assert item["mp"] == {
        "M": {
            "child": {"M": {"leaf": s("leaf")}},
            "lst": {"L": [n(0), n(11), n(99)]},
        }
    }, "an index past the end appends"


def test_set_under_missing_parent_is_invalid(client, hash_table):
    _seed(client, hash_table, mp={"M": {}})
    with expect_error(
        "ValidationException",
        contains="The document path provided in the update expression is invalid for update",
    ):
        _update(client, hash_table, "SET mp.nope.leaf = :x", {":x": s("x")})


def test_remove_attributes_map_keys_and_list_elements(client, hash_table):
    _seed(
        client,
        hash_table,
        gone=s("x"),
        keep=s("y"),
        mp={"M": {"a": n(1), "b": n(2)}},
        lst={"L": [s("l0"), s("l1"), s("l2"), s("l3")]},
    )
    item = _update(client, hash_table, "REMOVE gone, mp.a, lst[0], lst[2], nope")
    assert item == {
        **KEY,
        "keep": s("y"),
        "mp": {"M": {"b": n(2)}},
        "lst": {"L": [s("l1"), s("l3")]},
    }, "list indexes in one REMOVE refer to positions before any removal"


def test_add_numbers_and_sets(client, hash_table):
    _seed(client, hash_table, tags={"SS": ["a"]})
    item = _update(
        client,
        hash_table,
        "ADD hits :five, tags :more, fresh :set",
        {":five": n(5), ":more": {"SS": ["a", "b"]}, ":set": {"NS": ["3"]}},
    )
    assert item["hits"] == n(5), "ADD to a missing number starts from 0"
    assert set(item["tags"]["SS"]) == {"a", "b"}
    assert item["fresh"] == {"NS": ["3"]}


def test_delete_from_set(client, hash_table):
    _seed(client, hash_table, tags={"SS": ["a", "b", "c"]}, few={"NS": ["1"]})
    item = _update(
        client,
        hash_table,
        "DELETE tags :gone, few :all",
        {":gone": {"SS": ["a", "zzz"]}, ":all": {"NS": ["1"]}},
    )
    assert set(item["tags"]["SS"]) == {"b", "c"}
    assert "few" not in item, "a set emptied by DELETE is removed: there are no empty sets"


def test_remove_then_set_reads_old_value(client, hash_table):
    _seed(client, hash_table, src=s("moved"))
    item = _update(client, hash_table, "REMOVE src SET dst = src")
    assert item == {**KEY, "dst": s("moved")}


def test_reference_example(client, make_table):
    """The UpdateItem example of the reference (Music/Acme), verbatim."""
    table = make_table(hash_key=("Artist", "S"), range_key=("Song", "S"))
    key = {"Artist": s("Acme"), "Song": s("Hi")}
    client.put_item(TableName=table, Item={**key, "Plays": n(0), "Tags": {"SS": ["a", "b"]}, "Stale": s("x")})
    response = client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #p = if_not_exists(#p, :z) + :one, Genres = list_append(if_not_exists(Genres, :e), :g) REMOVE Stale ADD Tags :t",
        ExpressionAttributeNames={"#p": "Plays"},
        ExpressionAttributeValues={
            ":z": n(0),
            ":one": n(1),
            ":e": {"L": []},
            ":g": {"L": [s("rock")]},
            ":t": {"SS": ["c"]},
        },
        ReturnValues="UPDATED_NEW",
    )
    attributes = response["Attributes"]
    assert attributes["Plays"] == n(1)
    assert attributes["Genres"] == {"L": [s("rock")]}
    assert set(attributes["Tags"]["SS"]) == {"a", "b", "c"}
    assert set(attributes) == {"Plays", "Genres", "Tags"}


def test_overlapping_paths_are_rejected(client, hash_table):
    with expect_error("ValidationException", contains="Two document paths overlap with each other"):
        _update(client, hash_table, "SET a = :x REMOVE a", {":x": s("x")})


def test_clause_twice_is_rejected(client, hash_table):
    with expect_error(
        "ValidationException", contains='The "SET" section can only be used once in an update expression'
    ):
        _update(client, hash_table, "SET a = :x SET b = :x", {":x": s("x")})


def test_key_attributes_cannot_be_updated(client, hash_table):
    with expect_error(
        "ValidationException",
        contains="Cannot update attribute pk. This attribute is part of the key",
    ):
        _update(client, hash_table, "SET pk = :x", {":x": s("other")})


def test_arithmetic_on_missing_attribute(client, hash_table):
    _seed(client, hash_table)
    with expect_error(
        "ValidationException",
        contains="The provided expression refers to an attribute that does not exist in the item",
    ):
        _update(client, hash_table, "SET hits = hits + :one", {":one": n(1)})


def test_add_to_a_string_is_a_type_error(client, hash_table):
    _seed(client, hash_table, word=s("text"))
    with expect_error(
        "ValidationException",
        contains="An operand in the update expression has an incorrect data type",
    ):
        _update(client, hash_table, "ADD word :one", {":one": n(1)})
