#!/usr/bin/env bash
# A smoke test of a DynamoDB-compatible server through the AWS CLI (v1), the
# way a person would try it by hand: create a table, wait for it, write, read,
# query, scan with the CLI's automatic pagination, delete.
#
# usage: smoke.sh ENDPOINT          e.g. smoke.sh http://127.0.0.1:8000
#
# Environment: AWS (the CLI to run, default `aws`), PYTHON (for reading JSON,
# default `python3`). Credentials are dummies; the CLI only needs some to sign.
# Prints one `ok N - what` line per check and exits non-zero at the first
# failure.
set -euo pipefail

endpoint=${1:?usage: smoke.sh ENDPOINT}
aws_cli=${AWS:-aws}
python=${PYTHON:-python3}

export AWS_ACCESS_KEY_ID=AKIDMINIDYNAMOSMOKE
export AWS_SECRET_ACCESS_KEY=minidynamo/smoke/secret
export AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""

table="cli-smoke-$$-${RANDOM}"
# More items than fit on a few small scan pages, so pagination really happens.
items=40
page_size=7
work=$(mktemp -d)
checks=0

ddb() {
    "$aws_cli" --endpoint-url "$endpoint" --output json \
        --cli-read-timeout 30 --cli-connect-timeout 5 dynamodb "$@"
}

cleanup() {
    ddb delete-table --table-name "$table" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# json EXPR < document: prints the Python expression EXPR evaluated with the
# parsed JSON document bound to `d`.
json() {
    "$python" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# check WHAT ACTUAL EXPECTED
check() {
    checks=$((checks + 1))
    if [[ "$2" != "$3" ]]; then
        echo "not ok $checks - $1: expected '$3', got '$2'" >&2
        exit 1
    fi
    echo "ok $checks - $1"
}

out=$(ddb create-table --table-name "$table" \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=N \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --billing-mode PAY_PER_REQUEST)
check "create-table names the table" "$(json 'd["TableDescription"]["TableName"]' <<<"$out")" "$table"

ddb wait table-exists --table-name "$table"
out=$(ddb describe-table --table-name "$table")
check "the table is ACTIVE after wait table-exists" "$(json 'd["Table"]["TableStatus"]' <<<"$out")" "ACTIVE"

ddb put-item --table-name "$table" \
    --item '{"pk": {"S": "smoke"}, "sk": {"N": "0"}, "msg": {"S": "hello, cli"}, "tags": {"SS": ["a", "b"]}}'
out=$(ddb get-item --table-name "$table" --key '{"pk": {"S": "smoke"}, "sk": {"N": "0"}}' --consistent-read)
check "get-item reads what put-item wrote" "$(json 'd["Item"]["msg"]["S"]' <<<"$out")" "hello, cli"
check "a string set survives" "$(json 'sorted(d["Item"]["tags"]["SS"])' <<<"$out")" "['a', 'b']"

# Items 1..$items in batches of 25, written as request files.
"$python" - "$table" "$items" "$work" <<'EOF'
import json, sys
table, count, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
requests = [{"PutRequest": {"Item": {"pk": {"S": "smoke"}, "sk": {"N": str(i)}, "n": {"N": str(i * i)}}}}
            for i in range(1, count + 1)]
for batch, start in enumerate(range(0, count, 25)):
    with open(f"{work}/batch-{batch}.json", "w") as f:
        json.dump({table: requests[start:start + 25]}, f)
EOF
for file in "$work"/batch-*.json; do
    out=$(ddb batch-write-item --request-items "file://$file")
    check "batch-write-item leaves nothing unprocessed" "$(json 'len(d["UnprocessedItems"])' <<<"$out")" "0"
done

out=$(ddb query --table-name "$table" \
    --key-condition-expression "pk = :p AND sk BETWEEN :lo AND :hi" \
    --expression-attribute-values '{":p": {"S": "smoke"}, ":lo": {"N": "10"}, ":hi": {"N": "12"}}')
check "query finds the sort key range" "$(json '[i["sk"]["N"] for i in d["Items"]]' <<<"$out")" "['10', '11', '12']"

out=$(ddb query --table-name "$table" --no-scan-index-forward --max-items 3 \
    --key-condition-expression "pk = :p" --expression-attribute-values '{":p": {"S": "smoke"}}')
check "query runs backwards" "$(json '[i["sk"]["N"] for i in d["Items"]]' <<<"$out")" "['$items', '$((items - 1))', '$((items - 2))']"

out=$(ddb scan --table-name "$table" --page-size "$page_size")
check "scan pages through every item" "$(json 'd["Count"]' <<<"$out")" "$((items + 1))"
check "scan returns each item once" "$(json 'len({i["sk"]["N"] for i in d["Items"]})' <<<"$out")" "$((items + 1))"

out=$(ddb scan --table-name "$table" --page-size "$page_size" --max-items 10)
check "scan stops at --max-items" "$(json 'len(d["Items"])' <<<"$out")" "10"
check "and hands back a token to resume" "$(json '"NextToken" in d' <<<"$out")" "True"
token=$(json 'd["NextToken"]' <<<"$out")
out=$(ddb scan --table-name "$table" --page-size "$page_size" --starting-token "$token")
# Items, not Count: the CLI trims the resumed page but sums the pages' Counts.
check "the token resumes where it stopped" "$(json 'len(d["Items"])' <<<"$out")" "$((items + 1 - 10))"

out=$(ddb scan --table-name "$table" --page-size "$page_size" \
    --filter-expression "n >= :k" --expression-attribute-values '{":k": {"N": "100"}}')
check "scan filters across pages" "$(json 'd["Count"]' <<<"$out")" "$((items - 9))"
check "scan counts what it read" "$(json 'd["ScannedCount"]' <<<"$out")" "$((items + 1))"

out=$(ddb delete-table --table-name "$table")
check "delete-table names the table" "$(json 'd["TableDescription"]["TableName"]' <<<"$out")" "$table"
ddb wait table-not-exists --table-name "$table"
echo "ok $((checks + 1)) - the table is gone after wait table-not-exists"
