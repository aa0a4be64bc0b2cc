"""Fixtures that point boto3 at a DynamoDB-compatible server.

The suite judges a server from the outside, exactly as an application would:
through boto3 and the AWS CLI with ``--endpoint-url``. It finds its server in
one of two ways:

* ``MINIDYNAMO_ENDPOINT=http://127.0.0.1:PORT``: a server that is already
  running (minidynamo, or moto's server when checking the suite itself).
* ``MINIDYNAMO_BIN=path/to/minidynamo``: the suite starts the binary with
  ``--port <free port> --data-dir <temporary dir>`` (plus any words in
  ``MINIDYNAMO_ARGS``), waits until ``GET /`` answers, and stops it at the end.

``MINIDYNAMO_TARGET=moto`` skips the tests marked ``real_dynamodb_semantics``:
they check DynamoDB's documented behaviour where moto is known to differ, so a
run against moto proves the rest of the suite without hiding those checks
from minidynamo.
"""

import os
import re
import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from support import wait_active

REGION = "us-east-1"
# Dummy credentials: the server verifies the signature's shape and arithmetic,
# not who we are. They are also exported so the CLI signs the same way.
ACCESS_KEY = "AKIDMINIDYNAMOTEST"
SECRET_KEY = "minidynamo/test/secret/key"
# How long a freshly started binary may take to answer its first request.
STARTUP_TIMEOUT_S = 30.0
# How long the server gets to exit after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT_S = 10.0


def pytest_configure(config):
    if not (os.environ.get("MINIDYNAMO_ENDPOINT") or os.environ.get("MINIDYNAMO_BIN")):
        raise pytest.UsageError(
            "set MINIDYNAMO_ENDPOINT to a running server's URL, or MINIDYNAMO_BIN "
            "to the minidynamo binary for the suite to start"
        )
    # Keep a developer's own AWS configuration out of the run: every client in
    # it, boto3 and the CLI alike, must see only the test credentials.
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MINIDYNAMO_TARGET", "").lower() != "moto":
        return
    for item in items:
        marker = item.get_closest_marker("real_dynamodb_semantics")
        if marker is not None:
            reason = marker.args[0] if marker.args else "moto differs from DynamoDB here"
            item.add_marker(pytest.mark.skip(reason=f"moto deviation: {reason}"))


def _free_port():
    """A port nobody listens on right now (the usual bind-to-0 trick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url):
    """True once anything answers HTTP at ``url``: any status means it serves."""
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _start_server(binary, data_dir, log_path):
    port = _free_port()
    args = [binary, "--port", str(port), "--data-dir", str(data_dir)]
    args += shlex.split(os.environ.get("MINIDYNAMO_ARGS", ""))
    log = open(log_path, "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _answers(endpoint + "/"):
        code = proc.poll()
        if code is not None or time.monotonic() > deadline:
            _stop_server(proc)
            log.close()
            why = f"exited with {code}" if code is not None else "did not answer in time"
            tail = Path(log_path).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{shlex.join(args)} {why}; its output:\n{tail}")
        time.sleep(0.05)
    return proc, log, endpoint


def _stop_server(proc):
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory):
    """The server's base URL, starting the binary first if that is the mode."""
    url = os.environ.get("MINIDYNAMO_ENDPOINT")
    if url:
        yield url.rstrip("/")
        return
    work = tmp_path_factory.mktemp("server")
    proc, log, url = _start_server(os.environ["MINIDYNAMO_BIN"], work / "data", work / "server.log")
    try:
        yield url
    finally:
        _stop_server(proc)
        log.close()


@pytest.fixture(scope="session")
def boto():
    """boto3 with the test credentials and region, whatever the machine's."""
    return boto3.session.Session(
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


# Few retries and short timeouts: a hung or throttling server should fail a
# test quickly, not stall the suite behind botocore's default backoff.
CLIENT_CONFIG = Config(
    retries={"max_attempts": 2, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
)


@pytest.fixture(scope="session")
def client(boto, endpoint):
    return boto.client("dynamodb", endpoint_url=endpoint, config=CLIENT_CONFIG)


@pytest.fixture(scope="session")
def resource(boto, endpoint):
    return boto.resource("dynamodb", endpoint_url=endpoint, config=CLIENT_CONFIG)


def unique_table_name(test_name):
    """A table name no other test (or earlier run) uses, and that says whose it is."""
    stem = re.sub(r"[^a-zA-Z0-9_.-]", "-", test_name)[:60]
    return f"t-{stem}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def table_name(client, request):
    """A fresh name, whose table (if the test made one) is deleted afterwards."""
    name = unique_table_name(request.node.name)
    yield name
    _delete_quietly(client, name)


def _delete_quietly(client, name):
    """Deletes a table if it exists, waiting out a CREATING state first."""
    try:
        client.delete_table(TableName=name)
    except client.exceptions.ResourceNotFoundException:
        pass
    except client.exceptions.ResourceInUseException:
        wait_active(client, name)
        client.delete_table(TableName=name)


@pytest.fixture
def make_table(client, request):
    """Creates on-demand tables for one test and deletes them afterwards.

    ``make_table()`` is a table keyed by ``pk`` (S); ``range_key=("sk", "N")``
    adds a sort key; ``hash_key`` changes the partition key. Returns the name,
    after the table is ACTIVE.
    """
    created = []

    def make(hash_key=("pk", "S"), range_key=None, **extra):
        name = unique_table_name(request.node.name)
        keys = [(hash_key, "HASH")] + ([(range_key, "RANGE")] if range_key else [])
        params = {
            "TableName": name,
            "KeySchema": [{"AttributeName": a, "KeyType": kind} for (a, _), kind in keys],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for (a, t), _ in keys],
            "BillingMode": "PAY_PER_REQUEST",
        }
        params.update(extra)
        client.create_table(**params)
        created.append(name)
        wait_active(client, name)
        return name

    yield make
    for name in created:
        _delete_quietly(client, name)


@pytest.fixture
def hash_table(make_table):
    """A table keyed by ``pk`` (S) alone."""
    return make_table()


@pytest.fixture
def composite_table(make_table):
    """A table keyed by ``pk`` (S) and ``sk`` (S)."""
    return make_table(range_key=("sk", "S"))


@pytest.fixture
def numeric_table(make_table):
    """A table keyed by ``pk`` (S) and ``sk`` (N)."""
    return make_table(range_key=("sk", "N"))
