//! What client libraries rely on, checked from the outside: the wording,
//! order and shape of DynamoDB's answers in the corners the other API
//! tests do not reach.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{TestServer, assert_error, create_table, n, s};

/// A key attribute is a scalar: a path into one is worded as such, and an
/// update of a key attribute is refused before any condition is evaluated.
#[tokio::test]
async fn key_attributes_cannot_be_updated_even_under_a_false_condition() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "keys", true).await;
    client
        .put_item()
        .table_name("keys")
        .item("pk", s("a"))
        .item("sk", n("1"))
        .send()
        .await
        .unwrap();

    for expression in ["SET pk.x = :v", "REMOVE pk[0]"] {
        let mut request = client
            .update_item()
            .table_name("keys")
            .key("pk", s("a"))
            .key("sk", n("1"))
            .update_expression(expression);
        if expression.contains(":v") {
            request = request.expression_attribute_values(":v", s("b"));
        }
        assert_error(
            request.send().await,
            "ValidationException",
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk",
        );
    }

    assert_error(
        client
            .update_item()
            .table_name("keys")
            .key("pk", s("a"))
            .key("sk", n("1"))
            .update_expression("SET sk = :v")
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_values(":v", n("2"))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Cannot update attribute sk. This attribute is part of the key",
    );
    server.stop().await;
}
