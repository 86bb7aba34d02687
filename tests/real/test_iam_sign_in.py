"""AWS IAM sign-in on real components: boto3 -> moto's server (a real HTTP server on
127.0.0.1, enforcing IAM policies) for the temporary credentials, then redshift-connector ->
the Redshift stand-in, which accepts the user and password moto handed out.

moto makes the password at random; the tests seed moto's random source, learn the password
once, create that user in PostgreSQL, and seed again so the product's own call gets the same
answer. No request may leave the machine: every name looked up is checked to be loopback.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from helpers import SyncEnv
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from cdi_tui.config import Credential
from cdi_tui.secret_store import credential_account
from cdi_tui.standins.postgres import RedshiftStandIn, quote_ident, quote_literal
from cdi_tui.standins.secret_service import SecretService
from cdi_tui.warehouse import errors as kinds

pytestmark = pytest.mark.real
CLUSTER = "analytics"
REGION = "us-west-2"
SEED = 20261129
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "redshift:GetClusterCredentials", "Resource": "*"}],
}


@dataclass
class Aws:
    url: str
    folder: Path

    def post(self, path: str, data: bytes = b"") -> None:
        request = urllib.request.Request(self.url + path, data=data, method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def client(self, service: str, profile: str | None = None) -> Any:
        session = boto3.Session(profile_name=profile, region_name=REGION)
        return session.client(service, endpoint_url=self.url)

    def expect_login(self, redshift: RedshiftStandIn, profile: str, db_user: str, grant_schema: str) -> str:
        """Learn the login moto will hand out next, and make PostgreSQL accept it."""
        self.post(f"/moto-api/seed?a={SEED}")
        answer = self.client("redshift", profile).get_cluster_credentials(
            DbUser=db_user, DbName="postgres", ClusterIdentifier=CLUSTER, DurationSeconds=900, AutoCreate=False
        )
        user, password = answer["DbUser"], answer["DbPassword"]
        exists = redshift.admin_query(f"SELECT 1 FROM pg_roles WHERE rolname = {quote_literal(user)}")
        verb = "ALTER" if exists else "CREATE"
        redshift.admin_execute(
            [
                "SET password_encryption = 'md5'",
                f"{verb} USER {quote_ident(user)} PASSWORD {quote_literal(password)}",
                f"GRANT USAGE ON SCHEMA {quote_ident(grant_schema)} TO {quote_ident(user)}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote_ident(grant_schema)} TO {quote_ident(user)}",
            ]
        )
        self.post(f"/moto-api/seed?a={SEED}")  # the product's call gets the same answer
        return str(user)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """AWS pointed at the local server only, with two profiles: one allowed, one not."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "aws"
    folder.mkdir()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    aws = Aws(moto_server, folder)
    aws.post("/moto-api/reset")
    aws.post("/moto-api/reset-auth", b"inf")
    admin = boto3.Session(aws_access_key_id="admin", aws_secret_access_key="admin", region_name=REGION)
    admin.client("redshift", endpoint_url=moto_server).create_cluster(
        ClusterIdentifier=CLUSTER, NodeType="ra3.xlplus", MasterUsername="admin", MasterUserPassword="Admin-Pw-1"
    )
    iam = admin.client("iam", endpoint_url=moto_server)
    profiles = []
    for user, policy in (("braze-sync", POLICY), ("intern", None)):
        iam.create_user(UserName=user)
        if policy is not None:
            iam.put_user_policy(UserName=user, PolicyName="redshift-login", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        profiles.append(f"[{user}]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n")
    (folder / "credentials").write_text("\n".join(profiles), encoding="utf-8")
    aws.post("/moto-api/reset-auth", b"0")  # from here on moto checks every call against IAM policies
    yield aws
    aws.post("/moto-api/reset-auth", b"inf")


@pytest.fixture
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse (and record) any name lookup that is not loopback: nothing may reach real AWS."""
    strays: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "::1", "localhost") and not name.startswith("/"):
            strays.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test refuses lookups of {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return strays


def use_iam(env: SyncEnv, **changes: Any) -> Credential:
    direct = env.ws.config().credentials["warehouse"]
    values: dict[str, Any] = {
        "name": "warehouse",
        "host": direct.host,
        "port": direct.port,
        "database": "postgres",
        "sslmode": "disable",
        "auth": "iam",
        "region": REGION,
        "cluster_id": CLUSTER,
        "db_user": "braze_user",
        "aws_profile": "braze-sync",
        **changes,
    }
    credential = Credential(**values)
    env.ws.add_credential(credential, None, replace_existing=True)
    return credential


def test_iam_sign_in_tests_previews_and_syncs_with_no_stored_password(
    env: SyncEnv, aws: Aws, only_loopback: list[str], redshift: RedshiftStandIn
) -> None:
    env.create_integration("people", activate=False)
    env.fill("people", 400)
    use_iam(env)
    assert env.secrets.get(credential_account("warehouse")) is None  # the old password is gone
    user = aws.expect_login(redshift, "braze-sync", "braze_user", env.schema)
    assert user == "IAM:braze_user"
    result = env.ws.test_integration("people")
    assert result.ok, result.error
    assert result.preview is not None and len(result.preview.rows) == 100
    env.ws.activate("people")
    aws.expect_login(redshift, "braze-sync", "braze_user", env.schema)
    record = env.sync("people")
    assert record.status == "success" and record.rows_sent == 400
    assert only_loopback == []
    config_text = env.paths.config_file.read_text()
    assert 'auth = "iam"' in config_text and "password" not in config_text


def test_a_denied_call_names_the_permission_and_the_fix(env: SyncEnv, aws: Aws, only_loopback: list[str]) -> None:
    env.create_integration("people", activate=False)
    use_iam(env, aws_profile="intern")
    error = env.ws.test_integration("people").error
    assert error is not None and error.kind == kinds.IAM_DENIED
    assert "redshift:GetClusterCredentials" in error.message and "intern" in error.message
    assert "policy" in error.fix
    assert only_loopback == []


def test_an_unknown_cluster_and_missing_aws_credentials_say_what_to_check(
    env: SyncEnv, aws: Aws, only_loopback: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env.create_integration("people", activate=False)
    use_iam(env, cluster_id="no-such-cluster")
    error = env.ws.test_integration("people").error
    assert error is not None and error.kind == kinds.IAM_NOT_FOUND and "no-such-cluster" in error.message
    assert REGION in error.message

    use_iam(env, aws_profile="nobody")
    error = env.ws.test_integration("people").error
    assert error is not None and error.kind == kinds.IAM_NO_CREDENTIALS and "'nobody'" in error.message

    use_iam(env, aws_profile=None)  # the default chain, with nothing in it
    error = env.ws.test_integration("people").error
    assert error is not None and error.kind == kinds.IAM_NO_CREDENTIALS
    assert error.message.startswith("No AWS credentials found") and "aws sso login" in error.fix
    assert only_loopback == []


def test_iam_credentials_on_the_command_line(
    env: SyncEnv, aws: Aws, redshift: RedshiftStandIn, secret_service: SecretService, tmp_path: Path
) -> None:
    from test_cli_commands import Cli, last_json

    env.create_integration("people", activate=False)
    cli = Cli(env.paths.config_file.parent)
    added = cli(
        "credentials", "add", "warehouse", "--replace", "--auth", "iam", "--aws-profile", "braze-sync", "--cluster-id", CLUSTER,
        "--region", REGION, "--db-user", "braze_user", "--host", "127.0.0.1", "--port", str(redshift.port),
        "--database", "postgres", "--sslmode", "disable", stdin="",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "signs in with AWS IAM as IAM:braze_user" in added.stdout
    [listed] = json.loads(cli("credentials", "list", "--json").stdout)
    assert listed["auth"] == "iam" and listed["iam"]["cluster_id"] == CLUSTER and listed["iam"]["aws_profile"] == "braze-sync"
    refused = cli("credentials", "password", "warehouse", stdin="x\n")
    assert refused.returncode == 1 and "keeps no password" in refused.stderr
    aws.expect_login(redshift, "braze-sync", "braze_user", env.schema)
    tested = cli("test", "people", "--json")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert last_json(tested.stdout)["ok"] is True
    bad = cli("credentials", "add", "other", "--auth", "iam", "--host", "h.example.com", "--database", "dev", stdin="")
    assert bad.returncode == 2 and "--region: required for IAM sign-in" in bad.stderr and "--cluster-id" in bad.stderr


class ServerlessStandIn:
    """moto has no Redshift Serverless: a minimal real HTTP server on 127.0.0.1 answering
    ``RedshiftServerless.GetCredentials`` (AWS JSON 1.1) as AWS documents it."""

    def __init__(self, workgroups: dict[str, tuple[str, str]], forbidden: set[str]) -> None:
        import http.server
        import threading

        stand_in = self
        self.calls: list[dict[str, Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                stand_in.calls.append(
                    {"target": target, "body": body, "signed": "Signature=" in self.headers.get("Authorization", "")}
                )
                workgroup = body.get("workgroupName", "")
                if target != "RedshiftServerless.GetCredentials":
                    self.answer(400, {"__type": "UnknownOperationException"})
                elif workgroup in forbidden:
                    self.answer(400, {"__type": "AccessDeniedException", "message": "not authorized"})
                elif workgroup not in workgroups:
                    self.answer(400, {"__type": "ResourceNotFoundException", "message": f"Workgroup {workgroup} not found"})
                else:
                    user, password = workgroups[workgroup]
                    self.answer(200, {"dbUser": user, "dbPassword": password, "expiration": 4102444800})

            def answer(self, status: int, value: dict[str, Any]) -> None:
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_serverless_sign_in_through_get_credentials(
    env: SyncEnv, redshift: RedshiftStandIn, only_loopback: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = "IAM:serverless-reader", "Temp-Pw-1"
    redshift.admin_execute(
        [
            "SET password_encryption = 'md5'",
            f"CREATE USER {quote_ident(user)} PASSWORD {quote_literal(password)}",
            f"GRANT USAGE ON SCHEMA {quote_ident(env.schema)} TO {quote_ident(user)}",
        ]
    )
    stand_in = ServerlessStandIn({"analytics-wg": (user, password)}, forbidden={"locked-wg"})
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stand_in.url)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
        env.create_integration("people", activate=False)
        redshift.admin_execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote_ident(env.schema)} TO {quote_ident(user)}")
        use_iam(env, cluster_id=None, db_user=None, aws_profile=None, workgroup="analytics-wg")
        result = env.ws.test_integration("people")
        assert result.ok, result.error
        assert stand_in.calls[-1] == {
            "target": "RedshiftServerless.GetCredentials",
            "body": {"workgroupName": "analytics-wg", "dbName": "postgres", "durationSeconds": 900},
            "signed": True,
        }
        use_iam(env, cluster_id=None, db_user=None, aws_profile=None, workgroup="locked-wg")
        error = env.ws.test_integration("people").error
        assert error is not None and error.kind == kinds.IAM_DENIED and "redshift-serverless:GetCredentials" in error.message
        use_iam(env, cluster_id=None, db_user=None, aws_profile=None, workgroup="missing-wg")
        error = env.ws.test_integration("people").error
        assert error is not None and error.kind == kinds.IAM_NOT_FOUND and "workgroup 'missing-wg'" in error.message
        assert only_loopback == []
    finally:
        stand_in.stop()
