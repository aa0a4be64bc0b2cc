//! Every static error of the expression languages, as a table of
//! expression text → DynamoDB's exact message.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use step05_api::expr::{ExpressionContext, ExpressionKind};

fn context() -> ExpressionContext {
    ExpressionContext::new(
        Some(&json!({"#n": "first-name", "#s": "status"})),
        Some(&json!({
            ":s": {"S": "x"}, ":n": {"N": "1"}, ":n9": {"N": "9"}, ":b": {"BOOL": true},
            ":l": {"L": []}, ":dog": {"S": "DOG"}, ":t": {"S": "SS"}, ":ss": {"SS": ["a"]},
        })),
    )
    .unwrap()
}

fn condition_error(text: &str) -> String {
    match context().parse_condition(text, ExpressionKind::Condition) {
        Ok(tree) => format!("parsed: {tree}"),
        Err(error) => error.message().to_string(),
    }
}

#[test]
fn condition_expressions_report_dynamodb_messages() {
    let c = |rest: &str| format!("Invalid ConditionExpression: {rest}");
    let table: Vec<(&str, String)> = vec![
        ("", c("The expression can not be empty;")),
        ("   ", c("The expression can not be empty;")),
        ("a =", c("Syntax error; token: \"<EOF>\", near: \"=\"")),
        (
            "first-name = :s",
            c("Syntax error; token: \"-\", near: \"first-name\""),
        ),
        ("a = :s b", c("Syntax error; token: \"b\", near: \":s b\"")),
        ("a[-1] = :s", c("Syntax error; token: \"-\", near: \"[-1\"")),
        ("a IN ()", c("Syntax error; token: \")\", near: \"()\"")),
        (
            "a = :s AND",
            c("Syntax error; token: \"<EOF>\", near: \"AND\""),
        ),
        (
            "a BETWEEN :n OR :n9",
            c("Syntax error; token: \"OR\", near: \":n OR :n9\""),
        ),
        ("((a = :s))", c("The expression has redundant parentheses;")),
        (
            "NOT ((a = :s))",
            c("The expression has redundant parentheses;"),
        ),
        ("foo(a)", c("Invalid function name; function: foo")),
        ("Size(a) = :n", c("Invalid function name; function: Size")),
        (
            "size(a)",
            c("The function is not allowed to be used this way in an expression; function: size"),
        ),
        (
            "contains(a, :s) = :b",
            c(
                "The function is not allowed to be used this way in an expression; function: contains",
            ),
        ),
        (
            "if_not_exists(a, :s)",
            c(
                "The function is not allowed to be used this way in an expression; function: if_not_exists",
            ),
        ),
        (
            "status = :s",
            c("Attribute name is a reserved keyword; reserved keyword: status"),
        ),
        (
            "a.Data = :s",
            c("Attribute name is a reserved keyword; reserved keyword: Data"),
        ),
        (
            "#x = :s",
            c(
                "An expression attribute name used in the document path is not defined; attribute name: #x",
            ),
        ),
        (
            "a = :x",
            c(
                "An expression attribute value used in expression is not defined; attribute value: :x",
            ),
        ),
        (
            "attribute_exists(a, b)",
            c(
                "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
            ),
        ),
        (
            "begins_with(a)",
            c(
                "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1",
            ),
        ),
        (
            "attribute_exists(:s)",
            c(
                "Operator or function requires a document path; operator or function: attribute_exists",
            ),
        ),
        (
            "a = a",
            c(
                "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
            ),
        ),
        (
            "contains(#n, #n)",
            c(
                "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [first-name]",
            ),
        ),
        (
            "a < :b",
            c(
                "Incorrect operand type for operator or function; operator or function: <, operand type: BOOL",
            ),
        ),
        (
            "size(:n) = :n",
            c(
                "Incorrect operand type for operator or function; operator or function: size, operand type: N",
            ),
        ),
        (
            "begins_with(a, :n)",
            c(
                "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ),
        ),
        (
            "attribute_type(a, :dog)",
            c(
                "Invalid attribute type name found; type: DOG, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
            ),
        ),
        (
            "attribute_type(a, :n)",
            c(
                "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N",
            ),
        ),
        (
            "a BETWEEN :n9 AND :n",
            c(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:9}, upper bound operand: AttributeValue: {N:1}",
            ),
        ),
        (
            "a BETWEEN :n AND :s",
            c(
                "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:x}",
            ),
        ),
        // Precedence of the checks: a reserved word beats an undefined value,
        // an unknown function beats a reserved word, syntax beats all.
        (
            "status = :x",
            c("Attribute name is a reserved keyword; reserved keyword: status"),
        ),
        ("foo(status)", c("Invalid function name; function: foo")),
        (
            "status = :x AND",
            c("Syntax error; token: \"<EOF>\", near: \"AND\""),
        ),
    ];
    for (text, expected) in table {
        assert_eq!(condition_error(text), expected, "{text:?}");
    }
}

#[test]
fn the_expression_length_and_in_list_are_bounded() {
    let long = format!("a = :s{}", " ".repeat(4091));
    assert_eq!(long.len(), 4097);
    assert_eq!(
        condition_error(&long),
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097"
    );
    let list = |n: usize| format!("a IN ({})", vec![":s"; n].join(", "));
    assert!(condition_error(&list(99)).starts_with("parsed: "));
    assert_eq!(
        condition_error(&list(100)),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
    let deep = format!("{}a = :s{}", "NOT (".repeat(120), ")".repeat(120));
    assert!(condition_error(&deep).contains("nesting depth"));
}

#[test]
fn update_expressions_report_dynamodb_messages() {
    let u = |rest: &str| format!("Invalid UpdateExpression: {rest}");
    let table: Vec<(&str, String)> = vec![
        ("", u("The expression can not be empty;")),
        ("SET", u("Syntax error; token: \"<EOF>\", near: \"SET\"")),
        ("SET a :s", u("Syntax error; token: \":s\", near: \"a :s\"")),
        (
            "UPDATE a = :s",
            u("Syntax error; token: \"UPDATE\", near: \"UPDATE a\""),
        ),
        (
            "SET a = :s SET b = :s",
            u("The \"SET\" section can only be used once in an update expression;"),
        ),
        (
            "REMOVE a remove b",
            u("The \"REMOVE\" section can only be used once in an update expression;"),
        ),
        (
            "SET a = list_append(a + :n, b)",
            u("Syntax error; token: \"+\", near: \"a + :n\""),
        ),
        (
            "SET a = size(b)",
            u("The function is not allowed to be used this way in an expression; function: size"),
        ),
        // The update grammar knows its functions by name: `f` is a path.
        (
            "SET a = f(b)",
            u("Syntax error; token: \"(\", near: \"f(b\""),
        ),
        (
            "SET a = if_not_exists(:s, :s)",
            u("Operator or function requires a document path; operator or function: if_not_exists"),
        ),
        (
            "SET a = list_append(:s, b)",
            u(
                "Incorrect operand type for operator or function; operator or function: list_append, operand type: S",
            ),
        ),
        (
            "SET a = b + :s",
            u(
                "Incorrect operand type for operator or function; operator or function: +, operand type: S",
            ),
        ),
        (
            "ADD a :s",
            u(
                "Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
            ),
        ),
        (
            "DELETE a :n",
            u(
                "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER",
            ),
        ),
        (
            "SET a = :s REMOVE a",
            u(
                "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
            ),
        ),
        (
            "SET a.b = :s, a = :s",
            u(
                "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]",
            ),
        ),
        (
            "REMOVE a[1] SET a.b = :s",
            u(
                "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a, b]",
            ),
        ),
        (
            "SET #s = :s, status = :s",
            u("Attribute name is a reserved keyword; reserved keyword: status"),
        ),
    ];
    for (text, expected) in table {
        let got = match context().parse_update(text) {
            Ok(tree) => format!("parsed: {tree}"),
            Err(error) => error.message().to_string(),
        };
        assert_eq!(got, expected, "{text:?}");
    }
}

#[test]
fn projections_report_dynamodb_messages() {
    let p = |rest: &str| format!("Invalid ProjectionExpression: {rest}");
    let table: Vec<(&str, String)> = vec![
        ("a, b.c, #n[2]", "parsed".to_string()),
        ("a,", p("Syntax error; token: \"<EOF>\", near: \",\"")),
        (
            "a, a.b",
            p(
                "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
            ),
        ),
        (
            "a.b, a[0]",
            p(
                "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]",
            ),
        ),
        ("size(a)", p("Syntax error; token: \"(\", near: \"size(a\"")),
        (
            "name",
            p("Attribute name is a reserved keyword; reserved keyword: name"),
        ),
    ];
    for (text, expected) in table {
        let got = match context().parse_projection(text) {
            Ok(_) => "parsed".to_string(),
            Err(error) => error.message().to_string(),
        };
        assert_eq!(got, expected, "{text:?}");
    }
}

#[test]
fn unused_placeholders_are_checked_across_the_request() {
    let names = json!({"#a": "a", "#b": "b"});
    let values = json!({":v": {"S": "x"}, ":w": {"S": "y"}});
    let mut ctx = ExpressionContext::new(Some(&names), Some(&values)).unwrap();
    ctx.parse_condition("#a = :v", ExpressionKind::Condition)
        .unwrap();
    assert_eq!(
        ctx.finish(&["UpdateExpression", "ConditionExpression"])
            .unwrap_err()
            .message(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    );
    ctx.parse_update("SET #b = :w").unwrap();
    assert_eq!(
        ctx.finish(&["UpdateExpression", "ConditionExpression"]),
        Ok(())
    );
}

#[test]
fn the_prefix_names_the_parameter() {
    let error = context()
        .parse_condition("a = :x", ExpressionKind::Filter)
        .unwrap_err();
    assert_eq!(
        error.message(),
        "Invalid FilterExpression: An expression attribute value used in expression is not defined; attribute value: :x"
    );
    assert_eq!(error.exception().name(), "ValidationException");
}
