"""AWS IAM sign-in: temporary database credentials instead of a stored password.

At each connection cdi-tui asks AWS for a database user name and a password that expires in
15 minutes: ``redshift:GetClusterCredentials`` (a provisioned cluster, for a named database
user), ``redshift:GetClusterCredentialsWithIAM`` (a provisioned cluster, as the caller's IAM
identity) or ``redshift-serverless:GetCredentials`` (a Serverless workgroup). These are the
calls redshift-connector's own IAM mode makes; cdi-tui makes them itself with boto3 so it
can say which step failed and what to try, then connects with the answer like any
password sign-in (over TLS).

AWS credentials come from the named profile (``~/.aws/config`` and ``~/.aws/credentials``,
SSO included) or from the default chain (environment, profile, container or instance
role); cdi-tui never reads or stores their secrets itself. ``AWS_ENDPOINT_URL`` and the
other standard AWS variables are obeyed (the tests point them at a local stand-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdi_tui.warehouse.errors import IAM_DENIED, IAM_FAILED, IAM_NO_CREDENTIALS, IAM_NOT_FOUND, IAM_UNREACHABLE, WarehouseError

DURATION_SECONDS = 900  # the shortest AWS allows


@dataclass(frozen=True)
class IamSettings:
    """Where to get temporary credentials: a cluster or a Serverless workgroup, in a region."""

    region: str
    cluster_id: str | None = None
    workgroup: str | None = None
    db_user: str | None = None
    aws_profile: str | None = None

    @property
    def action(self) -> str:
        if self.workgroup:
            return "redshift-serverless:GetCredentials"
        return "redshift:GetClusterCredentials" if self.db_user else "redshift:GetClusterCredentialsWithIAM"

    @property
    def target(self) -> str:
        return f"workgroup '{self.workgroup}'" if self.workgroup else f"cluster '{self.cluster_id}'"


@dataclass(frozen=True)
class TemporaryLogin:
    user: str
    password: str

    def __repr__(self) -> str:
        return f"TemporaryLogin(user={self.user!r})"


def fetch_temporary_login(settings: IamSettings, database: str) -> TemporaryLogin:
    """Ask AWS for a database user and a short-lived password.

    Args:
        settings: the credential's IAM settings.
        database: the database the login is for.

    Raises:
        WarehouseError: ``iam_no_credentials`` (no usable AWS credentials, an unknown
            profile, an expired sign-in), ``iam_denied`` (the identity may not make the
            call), ``iam_not_found`` (no such cluster or workgroup in the region),
            ``iam_unreachable`` (the AWS API did not answer) or ``iam_failed``.
    """
    import boto3
    from botocore.config import Config as BotoConfig

    boto_config = BotoConfig(connect_timeout=10, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"})
    try:
        session = boto3.Session(profile_name=settings.aws_profile, region_name=settings.region)
        if settings.workgroup:
            serverless = session.client("redshift-serverless", config=boto_config)
            answer = serverless.get_credentials(
                workgroupName=settings.workgroup, dbName=database, durationSeconds=DURATION_SECONDS
            )
            return TemporaryLogin(str(answer["dbUser"]), str(answer["dbPassword"]))
        redshift = session.client("redshift", config=boto_config)
        if settings.db_user:
            answer = redshift.get_cluster_credentials(
                DbUser=settings.db_user,
                DbName=database,
                ClusterIdentifier=settings.cluster_id,
                DurationSeconds=DURATION_SECONDS,
                AutoCreate=False,
            )
        else:
            answer = redshift.get_cluster_credentials_with_iam(
                DbName=database, ClusterIdentifier=settings.cluster_id, DurationSeconds=DURATION_SECONDS
            )
        return TemporaryLogin(str(answer["DbUser"]), str(answer["DbPassword"]))
    except Exception as error:
        raise classify_aws_error(error, settings) from None


_NO_CREDENTIALS_FIX = (
    "Sign in to AWS first (for example 'aws sso login --profile PROFILE' or 'aws configure'), or name a profile "
    "with --aws-profile; unattended hosts can use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role."
)


def classify_aws_error(error: BaseException, settings: IamSettings) -> WarehouseError:
    """Turn a boto3/botocore exception into a :class:`WarehouseError` naming what failed."""
    from botocore import exceptions as aws

    profile = f"profile '{settings.aws_profile}'" if settings.aws_profile else "the default AWS credential chain"
    if isinstance(error, aws.ProfileNotFound):
        return WarehouseError(
            IAM_NO_CREDENTIALS,
            f"AWS profile '{settings.aws_profile}' is not in ~/.aws/config or ~/.aws/credentials",
            "Check the profile name (aws configure list-profiles), or leave --aws-profile out to use the default chain.",
        )
    if isinstance(error, aws.NoCredentialsError):
        return WarehouseError(IAM_NO_CREDENTIALS, f"No AWS credentials found ({profile})", _NO_CREDENTIALS_FIX)
    sso_errors = tuple(
        getattr(aws, name)
        for name in ("TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError")
        if hasattr(aws, name)
    )
    if sso_errors and isinstance(error, sso_errors):
        return WarehouseError(IAM_NO_CREDENTIALS, f"The AWS sign-in of {profile} has expired or is missing", _NO_CREDENTIALS_FIX)
    if isinstance(error, (aws.EndpointConnectionError, aws.ConnectTimeoutError, aws.ReadTimeoutError)):
        return WarehouseError(
            IAM_UNREACHABLE,
            f"The AWS API for region {settings.region} did not answer",
            "Check the region and this machine's access to AWS (proxy, firewall, VPC endpoint).",
        )
    if isinstance(error, aws.ClientError):
        response: dict[str, Any] = getattr(error, "response", {}) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        if code in ("AccessDenied", "AccessDeniedException", "AccessDeniedFault", "UnauthorizedOperation"):
            return WarehouseError(
                IAM_DENIED,
                f"AWS denied {settings.action} on {settings.target} to {profile}",
                f"Give that IAM identity a policy allowing {settings.action} on the {settings.target.split()[0]} "
                "(and its database user and database); the README shows one.",
            )
        if code in ("ClusterNotFound", "ClusterNotFoundFault", "ResourceNotFoundException", "ResourceNotFound"):
            return WarehouseError(
                IAM_NOT_FOUND,
                f"AWS knows no {settings.target} in region {settings.region}",
                "Check the identifier and the region (aws redshift describe-clusters / "
                "aws redshift-serverless list-workgroups), and that the profile's account is the cluster's.",
            )
        if code in (
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
        ):
            return WarehouseError(
                IAM_NO_CREDENTIALS, f"AWS rejected the credentials of {profile} (expired or invalid: {code})", _NO_CREDENTIALS_FIX
            )
        return WarehouseError(IAM_FAILED, f"AWS refused {settings.action} on {settings.target} ({code or 'no code'})")
    if isinstance(error, aws.BotoCoreError):
        return WarehouseError(IAM_FAILED, f"Getting temporary database credentials failed ({type(error).__name__})")
    return WarehouseError(IAM_FAILED, f"Getting temporary database credentials failed ({type(error).__name__})")
