"""``cdi-tui braze``, ``cdi-tui credentials`` and ``cdi-tui integrations``."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rich.console import Console

from cdi_tui.cli.common import (
    CliColumn,
    add_change_flags,
    add_field_flags,
    field_type,
    fitted_table,
    given_values,
    open_workspace,
    print_json,
    read_secret,
    shown,
)
from cdi_tui.cli.errors import CommandError, UsageError
from cdi_tui.config import CHANGED_ONLY_TYPES, DEFAULT_WORKSPACE, BrazeSettings, Config, Credential, Integration
from cdi_tui.display import safe_text
from cdi_tui.enums import DataType, IntegrationState
from cdi_tui.fields import (
    ALERT_FIELDS,
    ALL_CREDENTIAL_FIELDS,
    BRAZE_FIELDS,
    DATA_TYPE_LABELS,
    INTEGRATION_FIELDS,
    credential_field_specs,
    credential_problems,
    field_by_key,
    validate_name,
)

if TYPE_CHECKING:
    from cdi_tui.workspace import Workspace


def _name(text: str) -> str:
    from cdi_tui.cli.common import field_type
    from cdi_tui.fields import FieldSpec

    converted: str = field_type(FieldSpec("name", "Name", validate_name))(text)
    return converted


def register(commands: Any) -> None:
    setup = commands.add_parser(
        "setup-sql",
        help="print the SQL to run in Redshift first: the source table and a user with minimum grants",
        description="Give an integration's NAME, or --table, --data-type and --user.",
    )
    setup.add_argument("name", nargs="?", help="an integration (its table, data type and credential user)")
    setup.add_argument("--table", type=field_type(field_by_key(INTEGRATION_FIELDS, "table")), metavar="[DB.]SCHEMA.TABLE")
    setup.add_argument("--data-type", type=field_type(field_by_key(INTEGRATION_FIELDS, "data_type")), choices=None)
    setup.add_argument(
        "--user",
        type=field_type(field_by_key(ALL_CREDENTIAL_FIELDS, "user")),
        default="braze_user",
        help="the Redshift user Braze connects as (default braze_user)",
    )
    setup.set_defaults(handler=setup_sql_command)

    braze = commands.add_parser("braze", help="Braze workspaces: endpoint, REST API key, limits, time zone").add_subparsers(
        dest="braze_command", required=True
    )
    workspace_help = "the Braze workspace (default: 'default'; a new name adds a workspace)"
    braze_set = braze.add_parser(
        "set",
        help="add a Braze workspace, or change the settings given of one (the others stay); its REST API key is read "
        "from stdin the first time",
        description="Only the settings given change. The first time for a workspace, give --endpoint and the REST API "
        "key on stdin; later, the stored key is kept unless --new-key reads another from stdin.",
    )
    braze_set.add_argument("--workspace", type=_name, default=DEFAULT_WORKSPACE, metavar="NAME", help=workspace_help)
    add_change_flags(braze_set, BRAZE_FIELDS)
    key_choice = braze_set.add_mutually_exclusive_group()
    key_choice.add_argument("--keep-key", action="store_true", help="keep the stored API key (the default once one is stored)")
    key_choice.add_argument("--new-key", action="store_true", help="read a new API key from stdin")
    braze_set.set_defaults(handler=braze_set_command)
    braze_list = braze.add_parser("list", help="the Braze workspaces, their endpoints, limits and integrations")
    braze_list.add_argument("--json", action="store_true")
    braze_list.set_defaults(handler=braze_list_command)
    braze_remove = braze.add_parser(
        "remove", help="remove a Braze workspace and its API key (refused while integrations sync to it)"
    )
    braze_remove.add_argument("name", metavar="NAME")
    braze_remove.set_defaults(handler=braze_remove_command)
    braze_check = braze.add_parser("check", help="check a workspace's stored API key (spends no data points)")
    braze_check.add_argument("--workspace", type=_name, default=None, metavar="NAME", help="default: 'default' (or the only one)")
    braze_check.set_defaults(handler=braze_check_command)
    braze_show = braze.add_parser("show", help="print a workspace's Braze settings (never the key)")
    braze_show.add_argument("--workspace", type=_name, default=None, metavar="NAME", help="default: 'default' (or the only one)")
    braze_show.add_argument("--json", action="store_true")
    braze_show.set_defaults(handler=braze_show_command)

    credentials = commands.add_parser("credentials", help="warehouse credentials").add_subparsers(
        dest="credentials_command", required=True
    )
    add = credentials.add_parser(
        "add",
        help="save a Redshift credential; the password (and an SSH key's passphrase) is read from stdin",
        description="Password sign-in reads the password from stdin; --auth iam stores none. With --ssh-host the "
        "connection goes through an SSH tunnel: give --ssh-key PATH (its passphrase, if any, is read from stdin "
        "after the password) or --ssh-generate-key (a new Ed25519 key pair; the public key is printed).",
    )
    add.add_argument("name", type=_name)
    # user is optional here: IAM sign-in needs none; credential_problems() says when it is missing
    add_field_flags(add, credential_field_specs("iam"), skip=("ssh_host_key",))
    add.add_argument(
        "--ssh-generate-key",
        action="store_true",
        help="make an Ed25519 key pair for the tunnel: the private key goes to the keyring, the public key is printed",
    )
    add.add_argument("--replace", action="store_true", help="replace a credential of the same name")
    add.set_defaults(handler=credentials_add_command)
    public_key = credentials.add_parser(
        "public-key", help="print a tunnelled credential's public key and the line for the bastion's authorized_keys"
    )
    public_key.add_argument("name")
    public_key.set_defaults(handler=credentials_public_key_command)
    change = credentials.add_parser(
        "set",
        help="change a credential's settings (only those given); its password stays ('credentials password' changes it)",
        description="A changed connection sends the integrations using it back to draft until tested again.",
    )
    change.add_argument("name")
    add_change_flags(
        change,
        ALL_CREDENTIAL_FIELDS,
        skip=("ssh_host_key",),
        clear=("aws_profile", "region", "cluster_id", "workgroup", "db_user", "ssh_host", "ssh_user", "ssh_key_path"),
    )
    change.set_defaults(handler=credentials_set_command)
    listing = credentials.add_parser("list", help="list credentials and the integrations using each")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=credentials_list_command)
    remove = credentials.add_parser("remove", help="remove a credential no integration uses")
    remove.add_argument("name")
    remove.set_defaults(handler=credentials_remove_command)
    password = credentials.add_parser("password", help="change a credential's password (read from stdin)")
    password.add_argument("name")
    password.set_defaults(handler=credentials_password_command)

    integrations = commands.add_parser("integrations", help="sync integrations").add_subparsers(
        dest="integrations_command", required=True
    )
    add = integrations.add_parser("add", help="create an integration (a draft until 'cdi-tui test' passes)")
    add.add_argument("name", type=_name)
    add_field_flags(add, INTEGRATION_FIELDS, skip=("state",))
    add.set_defaults(handler=integrations_add_command)
    change = integrations.add_parser(
        "set",
        help="change an integration's settings (only those given); a new table, credential or data type needs a new test",
        description="Every setting of the app's Settings tab. A new table or credential sends it back to draft until "
        "'cdi-tui test NAME' passes again; the data type can change until it is activated.",
    )
    change.add_argument("name")
    add_change_flags(
        change,
        INTEGRATION_FIELDS,
        skip=("state",),
        clear=("contact_emails", "notify_row_error_percent", *(spec.key for spec in ALERT_FIELDS)),
    )
    secret = change.add_mutually_exclusive_group()
    secret.add_argument(
        "--alert-webhook-secret",
        action="store_true",
        default=None,
        help="sign generic JSON alerts with HMAC-SHA256: the secret is read from stdin and kept in the keyring",
    )
    secret.add_argument(
        "--no-alert-webhook-secret",
        dest="alert_webhook_secret",
        action="store_false",
        help="stop signing alerts (forget the secret)",
    )
    change.set_defaults(handler=integrations_set_command)
    listing = integrations.add_parser("list", help="list integrations")
    listing.add_argument("--workspace", type=_name, metavar="NAME", help="only those that sync to this Braze workspace")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=integrations_list_command)
    copy = integrations.add_parser(
        "copy",
        help="copy an integration to another Braze workspace, as a draft that needs its connection test there",
        description="To promote an integration from a development to a production workspace: every setting is copied; "
        "the copy has no runs and no watermark, and syncs once tested and activated.",
    )
    copy.add_argument("name")
    copy.add_argument("--to-workspace", type=_name, required=True, metavar="NAME", help="the Braze workspace of the copy")
    copy.add_argument("--name", dest="new_name", type=_name, metavar="NEW", help="the copy's name (default: NAME-WORKSPACE)")
    copy.set_defaults(handler=integrations_copy_command)
    remove = integrations.add_parser(
        "remove",
        help="remove an integration and its sync state (its runs stay readable by run id; a new one of its name starts afresh)",
    )
    remove.add_argument("name")
    remove.set_defaults(handler=integrations_remove_command)


def setup_sql_command(args: argparse.Namespace) -> int:
    from cdi_tui.setup_sql import setup_sql
    from cdi_tui.tables import parse_table_name

    if args.name:
        workspace = open_workspace(read_only_ok=True)
        config = workspace.config()
        integration = workspace.integration(args.name, config)
        credential = config.credentials[integration.credential]
        user = credential.user or credential.db_user or args.user  # IAM: the database user AWS signs in as
        print(setup_sql(integration.table_name, integration.data_type, user), end="")
        return 0
    if not args.table or not args.data_type:
        raise UsageError("give an integration NAME, or both --table and --data-type")
    print(setup_sql(parse_table_name(args.table), args.data_type, args.user), end="")
    return 0


# Braze ----------------------------------------------------------------------------------


def braze_set_command(args: argparse.Namespace) -> int:
    from cdi_tui.workspace import braze_key_label

    workspace = open_workspace()
    name = args.workspace
    config = workspace.config()
    current = config.workspaces.get(name)
    given = given_values(args, BRAZE_FIELDS)
    if current is None and "endpoint" not in given:
        what = "Braze is not set up yet" if not config.workspaces else f"workspace '{name}' is new"
        raise UsageError(f"{what}: give --endpoint INSTANCE|URL (and the REST API key on stdin)")
    settings = replace(current, **given) if current is not None else BrazeSettings(**given)
    if args.keep_key and not workspace.has_braze_key(name):
        raise CommandError(f"no API key of workspace '{name}' is stored yet; give one on stdin")
    # the first time (no settings of this workspace in the config) the key comes with them; later only when asked
    label = braze_key_label(name)
    api_key = read_secret(label) if args.new_key or (current is None and not args.keep_key) else None
    workspace.set_braze(settings, api_key, name)
    changed = ", ".join(f"{key} {safe_text(value)}" for key, value in given.items()) or "nothing"
    key_words = "API key saved in the keyring" if api_key is not None else "the stored API key kept"
    where = "" if name == DEFAULT_WORKSPACE and len(workspace.config().workspaces) == 1 else f" workspace '{name}'"
    print(f"Braze set{where}: {settings.endpoint} ({settings.base_url}), time zone {settings.time_zone}")
    print(f"  changed: {changed}; {key_words}")
    return 0


def _braze_workspace(config: Config, name: str | None) -> tuple[str, BrazeSettings]:
    """The workspace a command names (default: the main one), and its settings.

    Raises:
        CommandError: Braze is not set up, or there is no such workspace.
    """
    if not config.workspaces:
        raise CommandError("Braze is not set up: run 'cdi-tui braze set --endpoint INSTANCE' first")
    chosen = name or config.main_workspace
    settings = config.workspaces.get(chosen)
    if settings is None:
        raise CommandError(f"no Braze workspace named '{chosen}' (workspaces: {', '.join(sorted(config.workspaces))})")
    return chosen, settings


def braze_check_command(args: argparse.Namespace) -> int:
    from cdi_tui.braze.client import BrazeError, TransientFailure

    workspace = open_workspace(read_only_ok=True)
    name, settings = _braze_workspace(workspace.config(), args.workspace)
    try:
        workspace.check_braze_key(name)
    except (BrazeError, TransientFailure) as error:
        raise CommandError(str(error)) from None
    where = "" if len(workspace.config().workspaces) == 1 else f" of workspace '{name}'"
    print(f"The API key{where} works with {settings.base_url} (no data points spent)")
    return 0


def braze_show_command(args: argparse.Namespace) -> int:
    name, settings = _braze_workspace(open_workspace(read_only_ok=True).config(), args.workspace)
    values = {spec.key: getattr(settings, spec.key) for spec in BRAZE_FIELDS}
    values["url"] = settings.base_url
    values["workspace"] = name
    if args.json:
        print_json(values)
    else:
        for key, value in values.items():
            print(f"{key:<27} {safe_text(value)}")
    return 0


def _key_stored(workspace: Workspace, name: str) -> bool | None:
    """Whether a workspace's API key is stored; None when the keyring cannot be read (the list still shows)."""
    from cdi_tui.errors import CdiError

    try:
        return workspace.has_braze_key(name)
    except CdiError:
        return None


def braze_list_command(args: argparse.Namespace) -> int:
    workspace = open_workspace(read_only_ok=True)
    config = workspace.config()
    rows: list[dict[str, Any]] = [
        {
            "workspace": name,
            "endpoint": settings.endpoint,
            "url": settings.base_url,
            "time_zone": settings.time_zone,
            "requests_per_window": settings.requests_per_window,
            "window_seconds": settings.window_seconds,
            "catalog_requests_per_minute": settings.catalog_requests_per_minute,
            "max_in_flight": settings.max_in_flight,
            "key_stored": _key_stored(workspace, name),
            "integrations": [item.name for item in config.integrations_in(name)],
        }
        for name, settings in sorted(config.workspaces.items())
    ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("No Braze workspace yet. Add one with: cdi-tui braze set --endpoint INSTANCE (the REST API key on stdin)")
        return 0
    columns = [CliColumn("WORKSPACE", shrink=True), CliColumn("ENDPOINT", shrink=True), CliColumn("TIME ZONE", drop=2),
               CliColumn("RATE LIMIT", drop=3), CliColumn("IN FLIGHT", drop=4), CliColumn("KEY"),
               CliColumn("INTEGRATIONS", shrink=True, drop=1)]  # fmt: skip
    cells = [
        [
            shown(row["workspace"]),
            shown(row["endpoint"]),
            shown(row["time_zone"]),
            f"{row['requests_per_window']:,}/{row['window_seconds']:g}s, catalogs {row['catalog_requests_per_minute']:,}/min",
            str(row["max_in_flight"]),
            {True: "stored", False: "missing", None: "unknown"}[row["key_stored"]],
            shown(", ".join(row["integrations"]) or "-"),
        ]
        for row in rows
    ]
    console = Console()
    console.print(fitted_table(columns, cells, console.width))
    return 0


def braze_remove_command(args: argparse.Namespace) -> int:
    from cdi_tui.workspace import WorkspaceError

    try:
        open_workspace().remove_braze_workspace(args.name)
    except WorkspaceError as error:
        raise CommandError(str(error)) from None
    print(f"Braze workspace '{args.name}' removed (and its API key deleted from the keyring)")
    return 0


# credentials ----------------------------------------------------------------------------


def _flag(key: str) -> str:
    return field_by_key(ALL_CREDENTIAL_FIELDS, key).cli_flag


def credentials_add_command(args: argparse.Namespace) -> int:
    from cdi_tui.credential_setup import CredentialSetupError
    from cdi_tui.warehouse.errors import WarehouseError
    from cdi_tui.warehouse.tunnel import key_file_is_encrypted

    workspace = open_workspace()
    values = {spec.key: getattr(args, spec.key) for spec in ALL_CREDENTIAL_FIELDS if spec.key != "ssh_host_key"}
    problems = credential_problems(values)
    if problems:
        raise UsageError("; ".join(f"{_flag(key)}: {problem}" for key, problem in problems))
    uses_ssh = bool(values["ssh_host"])
    if args.ssh_generate_key and not uses_ssh:
        raise UsageError("--ssh-generate-key: only with --ssh-host")
    if args.ssh_generate_key and values["ssh_key_path"]:
        raise UsageError("give --ssh-key PATH or --ssh-generate-key, not both")
    keep_generated_key = (
        uses_ssh
        and not values["ssh_key_path"]
        and not args.ssh_generate_key
        and args.replace
        and workspace.has_generated_ssh_key(args.name)
    )
    if uses_ssh and not values["ssh_key_path"] and not args.ssh_generate_key and not keep_generated_key:
        raise UsageError("an SSH tunnel needs --ssh-key PATH or --ssh-generate-key")
    credential = Credential(name=args.name, **{key: value for key, value in values.items() if value is not None})
    if args.name in workspace.config().credentials and not args.replace:
        raise CommandError(f"a credential named '{credential.name}' already exists (use --replace to change it)")

    password = None if credential.uses_iam else read_secret(f"password for {credential.user}@{credential.host}")
    passphrase = None
    try:
        if credential.ssh_key_path and key_file_is_encrypted(credential.ssh_key_path):
            passphrase = read_secret(f"passphrase of SSH key {credential.ssh_key_path}")
        tunnel_key = workspace.save_credential(
            credential,
            password,
            replace_existing=args.replace,
            generate_ssh_key=args.ssh_generate_key,
            ssh_passphrase=passphrase,
        )
    except (WarehouseError, CredentialSetupError) as error:
        raise CommandError(str(error)) from None

    sign_in = "password kept in the keyring" if password is not None else f"signs in with AWS IAM as {credential.login}"
    print(
        f"Credential '{credential.name}' saved ({credential.user or 'IAM'}@{credential.host}:{credential.port}/"
        f"{credential.database}); {sign_in}"
    )
    if uses_ssh:
        print(f"Through an SSH tunnel: {credential.ssh_user}@{credential.ssh_host}:{credential.ssh_port}")
        if tunnel_key is None:
            print("The SSH key made earlier is kept ('cdi-tui credentials public-key NAME' prints it).")
        else:
            _print_public_key(credential, tunnel_key.public_key, generated=tunnel_key.generated)
        print("Next: 'cdi-tui test INTEGRATION' shows the bastion's host key fingerprint to check and accept.")
    return 0


def credentials_set_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    current = workspace.config().credentials.get(args.name)
    if current is None:
        raise CommandError(f"no credential named '{args.name}'")
    given = given_values(args, ALL_CREDENTIAL_FIELDS)
    if not given:
        raise UsageError("nothing to change: give at least one setting (see 'cdi-tui credentials set --help')")
    values = {key: value for key, value in vars(current).items() if key != "name"}
    values.update(given)
    if (values.get("ssh_host"), values.get("ssh_port")) != (current.ssh_host, current.ssh_port):
        values["ssh_host_key"] = None  # another bastion: its host key is checked and accepted anew
    problems = credential_problems(values)
    if problems:
        raise UsageError("; ".join(f"{_flag(key)}: {problem}" for key, problem in problems))
    credential = Credential(name=args.name, **{key: value for key, value in values.items() if value is not None})
    password = None
    if not credential.uses_iam:
        password = workspace.stored_password(args.name)
        if password is None:  # it signed in with IAM until now
            password = read_secret(f"password for {credential.user}@{credential.host}")
    users = [item.name for item in workspace.config().integrations_using(args.name)]
    workspace.add_credential(credential, password, replace_existing=True)
    changed = [key for key in given if getattr(current, key) != getattr(credential, key)]
    print(f"Credential '{args.name}': " + (f"changed {', '.join(changed)}" if changed else "nothing changed"))
    if set(changed) - {"max_rows_per_query"} and users:  # how many rows a query may return is not the connection
        print(f"Integrations using it need a new connection test: {', '.join(users)} (cdi-tui test NAME)")
    return 0


def _print_public_key(credential: Credential, public_key: str, generated: bool) -> None:
    from cdi_tui.warehouse.tunnel import authorized_keys_line

    if generated:
        print("A new Ed25519 key pair was made; its private key is kept in the keyring. Its public key:")
    else:
        print("The key file's public key:")
    print(f"  {public_key}")
    print(
        f"Add this line to ~{credential.ssh_user}/.ssh/authorized_keys on {credential.ssh_host} "
        "(it allows forwarding to the cluster and nothing else):"
    )
    print(f"  {authorized_keys_line(public_key, credential.host, credential.port)}")


def credentials_public_key_command(args: argparse.Namespace) -> int:
    from cdi_tui.credential_setup import CredentialSetupError
    from cdi_tui.warehouse.errors import WarehouseError

    workspace = open_workspace(read_only_ok=True)
    credential = workspace.config().credentials.get(args.name)
    if credential is None:
        raise CommandError(f"no credential named '{args.name}'")
    try:
        tunnel_key = workspace.tunnel_key(credential)
    except (WarehouseError, CredentialSetupError) as error:
        raise CommandError(str(error)) from None
    _print_public_key(credential, tunnel_key.public_key, generated=tunnel_key.generated)
    return 0


def credentials_list_command(args: argparse.Namespace) -> int:
    config = open_workspace(read_only_ok=True).config()
    rows = []
    for name, credential in sorted(config.credentials.items()):
        users = config.integrations_using(name)
        row: dict[str, Any] = {
            "name": name,
            "host": credential.host,
            "port": credential.port,
            "database": credential.database,
            "user": credential.user,
            "sslmode": credential.sslmode,
            "max_rows_per_query": credential.max_rows_per_query,
            "integrations": [item.name for item in users],
        }
        if credential.uses_iam:
            row["auth"] = "iam"
            row["iam"] = {
                key: getattr(credential, key) for key in ("region", "cluster_id", "workgroup", "db_user", "aws_profile")
            }
        if credential.uses_ssh:
            row["ssh"] = {
                "host": credential.ssh_host,
                "port": credential.ssh_port,
                "user": credential.ssh_user,
                "key": credential.ssh_key_path or "generated (keyring)",
                "host_key": _host_key_fingerprint(credential.ssh_host_key),
            }
        rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("No credentials yet. Add one with: cdi-tui credentials add NAME --host H --database D --user U")
        return 0
    columns = [CliColumn("NAME", shrink=True), CliColumn("HOST", shrink=True), CliColumn("PORT", drop=3),
               CliColumn("DATABASE", drop=2, shrink=True), CliColumn("USER", shrink=True), CliColumn("SSL", drop=4),
               CliColumn("VIA", drop=1, shrink=True), CliColumn("USED BY", shrink=True)]  # fmt: skip
    cells = []
    for row in rows:
        ssh = row.get("ssh")
        cells.append(
            [
                *(shown(text) for text in (row["name"], row["host"], str(row["port"]), row["database"])),
                shown(row["user"] or ("IAM" if row.get("auth") == "iam" else "-")),
                shown(row["sslmode"]),
                shown(f"ssh {ssh['user']}@{ssh['host']}:{ssh['port']}" if ssh else "direct"),
                shown(", ".join(row["integrations"]) or "-"),
            ]
        )
    console = Console()
    console.print(fitted_table(columns, cells, console.width))
    return 0


def _host_key_fingerprint(key_line: str | None) -> str | None:
    if not key_line:
        return None
    from cdi_tui.warehouse.tunnel import fingerprint

    return fingerprint(key_line)


def credentials_remove_command(args: argparse.Namespace) -> int:
    open_workspace().remove_credential(args.name)
    print(f"Credential '{args.name}' removed (and its secrets deleted from the keyring)")
    return 0


def credentials_password_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    credential = workspace.config().credentials.get(args.name)
    if credential is not None and credential.uses_iam:
        raise CommandError(f"credential '{args.name}' signs in with AWS IAM and keeps no password")
    workspace.change_password(args.name, read_secret(f"new password for credential {args.name}"))
    print(f"Password of '{args.name}' changed")
    return 0


# integrations ---------------------------------------------------------------------------


def integrations_add_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    values = {spec.key: getattr(args, spec.key) for spec in INTEGRATION_FIELDS if spec.key != "state"}
    values["workspace"] = values["workspace"] or workspace.workspace_for_new_integration()
    values["contact_emails"] = tuple(dict.fromkeys(values["contact_emails"]))
    values["alert_webhooks"] = tuple(dict.fromkeys(values["alert_webhooks"]))
    _check_type_options(values["data_type"], values)
    integration = Integration(name=args.name, **values)
    if integration.data_type == DataType.CATALOGS and values["catalog"] is None:
        from cdi_tui.braze.rules import catalog_name_problem

        problem = catalog_name_problem(integration.name)
        if problem is not None:
            raise UsageError(f"the catalog is named after the integration unless --catalog NAME is given, and {problem}")
    workspace.add_integration(integration)
    into = f" into catalog '{integration.catalog_name}'" if integration.data_type == DataType.CATALOGS else ""
    several = len(workspace.config().workspaces) > 1
    into += f", Braze workspace '{integration.workspace}'" if several or integration.workspace != DEFAULT_WORKSPACE else ""
    print(
        f"Integration '{integration.name}' created as a draft ({DATA_TYPE_LABELS[integration.data_type]} from "
        f"{integration.table}{into}). Next: cdi-tui test {integration.name}"
    )
    if not integration.contact_emails:
        print(f"Activation needs a contact email: cdi-tui integrations set {integration.name} --contact-email EMAIL")
    return 0


def integrations_set_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    given = given_values(args, INTEGRATION_FIELDS)
    if not given and args.alert_webhook_secret is None:
        raise UsageError("nothing to change: give at least one setting (see 'cdi-tui integrations set --help')")
    before = workspace.integration(args.name)
    for key in ("contact_emails", "alert_webhooks"):
        if key in given:
            given[key] = tuple(dict.fromkeys(given[key] or ()))
    _check_type_options(given.get("data_type", before.data_type), given)
    secret = read_secret(f"alert webhook secret of {args.name}") if args.alert_webhook_secret else None
    after = workspace.update_integration(args.name, **given) if given else before
    changed = [key for key in given if getattr(before, key) != getattr(after, key)]
    if args.alert_webhook_secret is not None:
        workspace.set_alert_webhook_secret(args.name, secret)
        changed.append("alert webhook secret" + ("" if secret else " (removed)"))
    print(f"Integration '{after.name}': " + (f"changed {', '.join(changed)}" if changed else "nothing changed"))
    if not workspace.is_tested(after.name):
        print(f"Needs a connection test for its connection, table and data type: cdi-tui test {after.name}")
    elif after.state == IntegrationState.DRAFT:
        print(next_step_after_test(after))
    return 0


def _check_type_options(data_type: DataType, values: dict[str, Any]) -> None:
    """Options of one data type only are refused for the others (a usage error, nothing changed)."""
    if values.get("send_changed_only") is not None and data_type not in CHANGED_ONLY_TYPES:
        raise UsageError("--send-changed-only and --send-all apply to custom attributes and catalogs integrations only")
    if values.get("delete_prioritization") is not None and data_type != DataType.DELETES:
        raise UsageError("--delete-prioritization applies to delete users integrations only")
    if values.get("catalog") is not None and data_type != DataType.CATALOGS:
        raise UsageError("--catalog applies to catalogs integrations only")


def integrations_copy_command(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    source = workspace.integration(args.name)
    copy = workspace.copy_integration(args.name, args.to_workspace, args.new_name)
    into = f", into catalog '{copy.catalog_name}'" if copy.data_type == DataType.CATALOGS else ""
    print(
        f"Integration '{args.name}' copied to Braze workspace '{copy.workspace}' as '{copy.name}' (a draft{into}). "
        f"Next: cdi-tui test {copy.name}, then cdi-tui activate {copy.name}"
    )
    if source.ping_url:
        print(f"Its ping URL was not copied (a check watches one job): cdi-tui integrations set {copy.name} --ping-url URL")
    return 0


def next_step_after_test(integration: Integration) -> str:
    """What a tested draft needs next: a contact email first, when it has none; then activation."""
    if not integration.contact_emails:
        return (
            f"Next: add a contact email (cdi-tui integrations set {integration.name} --contact-email EMAIL), "
            f"then cdi-tui activate {integration.name}"
        )
    return f"Next: cdi-tui activate {integration.name}"


def integration_summary(workspace: Workspace, integration: Integration, tested: bool) -> dict[str, Any]:
    last = workspace.last_run(integration.name)
    return {
        "name": integration.name,
        "workspace": integration.workspace,
        "credential": integration.credential,
        "table": integration.table,
        "data_type": integration.data_type,
        "frequency": integration.frequency,
        "contact_emails": list(integration.contact_emails),
        "state": integration.state,
        "update_existing_only": integration.update_existing_only,
        "send_changed_only": integration.sends_changed_only,
        "delete_prioritization": list(integration.prioritization) if integration.data_type == DataType.DELETES else None,
        "catalog": integration.catalog_name if integration.data_type == DataType.CATALOGS else None,
        "tested": tested,
        "last_run": None
        if last is None
        else {
            "run_id": last.id,
            "status": last.status,
            "started_at": last.started_at.isoformat(),
            "rows_read": last.rows_read,
            "rows_sent": last.rows_sent,
            "rows_failed": last.rows_failed,
        },
    }


def integrations_list_command(args: argparse.Namespace) -> int:
    workspace = open_workspace(read_only_ok=True)
    config = workspace.config()
    if args.workspace is not None and args.workspace not in config.workspaces:
        raise CommandError(f"no Braze workspace named '{args.workspace}' (workspaces: {', '.join(sorted(config.workspaces))})")
    rows = [
        integration_summary(workspace, item, workspace.is_tested(item.name, config))
        for _, item in sorted(config.integrations.items(), key=lambda pair: (pair[1].workspace, pair[0]))
        if args.workspace is None or item.workspace == args.workspace
    ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        hint = "cdi-tui integrations add NAME --credential C --table SCHEMA.TABLE --data-type TYPE"
        print(f"No integrations yet. Create one with: {hint}")
        return 0
    several = len(config.workspaces) > 1 or any(row["workspace"] != DEFAULT_WORKSPACE for row in rows)
    columns = [CliColumn("NAME", shrink=True), CliColumn("TABLE", shrink=True, drop=2), CliColumn("DATA TYPE", drop=3),
               CliColumn("STATE"), CliColumn("FREQUENCY", shrink=True, drop=1), CliColumn("LAST RUN", shrink=True)]  # fmt: skip
    if several:  # grouped by workspace, which each row names
        columns.insert(1, CliColumn("WORKSPACE", shrink=True, drop=4))
    cells = []
    for row in rows:
        last = row["last_run"]
        last_text = (
            "-"
            if last is None
            else f"#{last['run_id']} {last['status']} ({last['rows_sent']} sent, {last['rows_failed']} failed)"
        )
        cells.append(
            [
                shown(row["name"]),
                *([shown(row["workspace"])] if several else []),
                shown(row["table"]),
                DATA_TYPE_LABELS[row["data_type"]],
                row["state"],
                row["frequency"],
                last_text,
            ]
        )
    console = Console()
    console.print(fitted_table(columns, cells, console.width))
    return 0


def integrations_remove_command(args: argparse.Namespace) -> int:
    open_workspace().remove_integration(args.name)
    print(f"Integration '{args.name}' removed")
    return 0
