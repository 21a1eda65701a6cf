"""The YAML configuration, one file per source/target pair, validated with pydantic.

Every option is defined here once; the CLI and the notebooks read the same models.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import difflib
import re
import typing
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recon.core.scim import ENTERPRISE
from recon.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StatusRule(_Model):
    """Which values of the status column mean an active worker (all others mean inactive)."""

    column: str = Field(description="The HR column holding the worker's status.",
                        examples=["Worker Status"])
    active: list[str] = Field(min_length=1, description=(
        "Status values of an active worker (case-insensitive); every other value is inactive."),
        examples=[["Active", "Leave of Absence"]])
    inactive: list[str] | None = Field(default=None, description=(
        "When given, the inactive values: a value in neither list quarantines its row."),
        examples=[["Terminated", "Retired"]])


class Source(_Model):
    """The HR extract: a CSV or XLSX file and the columns recon needs to know about."""

    path: Path = Field(description=(
        "The HR file (.csv, .txt or .xlsx), relative to the config file's folder."),
        examples=["workers.csv"])
    sheet: str | None = Field(default=None, description=(
        "The XLSX sheet; default: the first sheet whose header row holds the key column."))
    key: str = Field(description="The HR column that identifies a worker (unique, never empty).",
                     examples=["Employee ID"])
    status: StatusRule | None = Field(default=None, description=(
        "The status column and which values mean active."))
    hire_date: str | None = Field(default=None, description=(
        "The hire-date column: a worker hired after as-of + policy.prehire_days is a future "
        "hire."), examples=["Hire Date"])
    termination_date: str | None = Field(default=None, description=(
        "The termination-date column: a date before as-of makes the worker inactive."),
        examples=["Termination Date"])
    date_format: str | None = Field(default=None, description=(
        "strftime format of the date columns; ISO dates and Excel dates are always "
        "recognised."), examples=["%m/%d/%Y"])
    scope: str | None = Field(default=None, description=(
        "A predicate over HR columns: workers for whom it is false are out_of_scope."),
        examples=['IIF([Worker Type]="Intern", "False", "True")'])
    encoding: str | None = Field(default=None, description=(
        "The file's encoding; default: UTF-8 (with or without BOM), UTF-16 by BOM, else "
        "cp1252 with a warning."), examples=["cp1252"])
    delimiter: str | None = Field(default=None, description=(
        "The CSV delimiter; default: sniffed from , ; tab |."))
    manager_key: str | None = Field(default=None, description=(
        "The HR column holding the manager's key; a key that names no worker is a warning."),
        examples=["Manager Employee ID"])
    email: list[str] = Field(default_factory=list, description=(
        "HR columns that must hold an e-mail address (a bad one quarantines the row)."),
        examples=[["Work Email"]])


class ScimTarget(_Model):
    """A SCIM 2.0 service provider; ``profile`` names its documented quirks (docs/providers.md).

    ``page_size``, ``patch_style`` and ``requests_per_second`` override the profile's (and what
    the target's ServiceProviderConfig says); ``requests_per_second: 0`` sends unpaced.
    """

    url: str = Field(description=(
        "The SCIM base URL (https; plain http only to loopback). It usually ends in /scim/v2."),
        examples=["https://api.example.com/scim/v2"])
    token_env: str | None = Field(default=None, description=(
        "The environment variable holding the bearer token (never the token itself)."),
        examples=["RECON_SCIM_TOKEN"])
    timeout: float = Field(default=30.0, description="Seconds to wait for one response.")
    profile: Literal["generic", "aws_identity_center", "github_emu", "slack", "atlassian",
                     "zoom"] = Field(default="generic", description=(
        "The provider's documented quirks: Bulk, paging, filters, PATCH style, pacing "
        "(docs/providers.md); `generic` discovers what it can from /ServiceProviderConfig."))
    page_size: int | None = Field(default=None, gt=0, description=(
        "Users per page when reading; default: the profile's (200 for generic)."))
    patch_style: Literal["path_filter", "value_object", "put"] | None = Field(
        default=None, description=(
            "How updates are sent: PATCH paths with value filters, a value object without a "
            "path, or PUT of the whole resource; default: the profile's."))
    requests_per_second: float | None = Field(default=None, ge=0, description=(
        "Pace requests to the provider's rate limit; default: the profile's; 0: unpaced."))


class EntraMapping(_Model):
    """One attribute mapping of the API-driven inbound provisioning app, as the Entra admin
    center shows it (Provisioning → Mappings): the SCIM attribute of the uploaded record, the
    Graph user property the app writes from it, and how (docs/entra.md, "Mappings")."""

    source: str = Field(description="The SCIM path in the uploaded record.",
                        examples=["externalId", "name.givenName"])
    target: str = Field(description="The Graph user property the app writes from it.",
                        examples=["employeeId", "employeeOrgData.costCenter"])
    apply: Literal["always", "on_create"] = Field(default="always", description=(
        "\"Apply this mapping\": always, or only during object creation."))
    generated: bool = Field(default=False, description=(
        "The app computes the value (e.g. a RandomString UPN): recon cannot predict it and "
        "does not compare it."))
    matching: bool = Field(default=False, description=(
        "\"Match objects using this attribute\": the one attribute bulkUpload matches on."))
    flow_null: bool = Field(default=False, description=(
        "\"Flow null values\" is ticked: an omitted value clears the property, so recon sends "
        "explicit values."))

    @model_validator(mode="after")
    def _generated_once(self) -> EntraMapping:
        if self.generated and self.apply == "always":
            raise ValueError(
                f"mapping {self.source} → {self.target}: a generated value must be applied "
                "on object creation only (apply: on_create), or every update renames the "
                "account (Microsoft's inbound provisioning FAQ)")
        return self


class EntraInbound(_Model):
    """API-driven inbound provisioning: the job recon pushes to, and how the app is set up."""

    service_principal_id: str = Field(description=(
        "The object id of the inbound provisioning app's service principal."))
    job_id: str = Field(description="The provisioning job's id (API2AAD.…).")
    mappings: list[EntraMapping] | None = Field(default=None, description=(
        "The app's attribute mappings; default: those docs/entra.md lists (externalId ↔ "
        "employeeId matching). Only these attributes are compared by reconcile and verify."))
    cloud_only: bool = Field(default=True, description=(
        "The app provisions to Entra ID only: synced (hybrid) users are not sent to it."))
    calls_per_window: int = Field(default=35, ge=1, le=40, description=(
        "bulkUpload calls in any 5 s (the documented limit is 40; recon keeps a margin)."))
    daily_quota: int = Field(default=2000, gt=0, description=(
        "bulkUpload calls per 24 h: 2,000 with P1/P2, 6,000 with ID Governance; what does not "
        "fit is deferred to the next run."))
    check_schema: bool = Field(default=True, description=(
        "Read the job's schema before a push and warn where it disagrees with `mappings`."))

    @field_validator("mappings")
    @classmethod
    def _one_matching(cls, value: list[EntraMapping] | None) -> list[EntraMapping] | None:
        if value is None:
            return value
        matching = [m for m in value if m.matching]
        if len(matching) != 1:
            raise ValueError(f"exactly one mapping needs matching: true (the app's matching "
                             f"attribute), found {len(matching)}")
        targets = [m.target.lower() for m in value]
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"Graph property {twice[0]!r} is the target of several mappings")
        return value


class EntraTarget(_Model):
    """Microsoft Entra ID through Microsoft Graph (docs/entra.md: permissions, credentials)."""

    tenant_id: str | None = Field(default=None, description="The tenant (directory) id.")
    client_id: str | None = Field(default=None, description="The app registration's client id.")
    credential: Literal[
        "client_secret", "certificate", "managed_identity", "default", "device_code",
        "interactive", "token",
    ] = Field(default="default", description=(
        "The azure-identity credential; `token_env` alone implies `token`."))
    client_secret_env: str | None = Field(default=None, description=(
        "The environment variable holding the client secret (credential: client_secret)."))
    certificate_path: Path | None = Field(default=None, description=(
        "The certificate file (credential: certificate)."))
    token_env: str | None = Field(default=None, description=(
        "The environment variable holding a bearer token (credential: token)."))
    graph_url: str = Field(default="https://graph.microsoft.com/v1.0", description=(
        "Microsoft Graph; a sovereign cloud's host selects its sign-in authority."),
        examples=["https://graph.microsoft.us/v1.0"])
    page_size: int = Field(default=999, gt=0, le=999, description="Users per page (Graph: ≤ 999).")
    user_filter: str | None = Field(default=None, description=(
        "A Graph $filter narrowing the users read."), examples=["userType eq 'Member'"])
    inbound: EntraInbound | None = Field(default=None, description=(
        "API-driven inbound provisioning, to push through bulkUpload."))

    @model_validator(mode="before")
    @classmethod
    def _token_env_means_token(cls, data: Any) -> Any:
        """``token_env`` alone implies ``credential: token``; with another credential it is a
        mistake that would otherwise end in azure-identity's many-line sign-in error."""
        if not isinstance(data, dict) or not data.get("token_env"):
            return data
        credential = data.get("credential")
        if credential is None:
            return {**data, "credential": "token"}
        if credential != "token":
            raise ValueError(f"token_env is read only with credential: token (this target says "
                             f"credential: {credential}); write credential: token, or remove "
                             "token_env")
        return data

    @model_validator(mode="after")
    def _token_needs_env(self) -> EntraTarget:
        if self.credential == "token" and not self.token_env:
            raise ValueError("credential: token needs token_env: NAME, the environment variable "
                             "that holds the bearer token")
        return self


class Target(_Model):
    """The identity target: exactly one of `scim`, `entra` or `file`."""

    scim: ScimTarget | None = Field(default=None, description="A SCIM 2.0 service provider.")
    entra: EntraTarget | None = Field(default=None, description=(
        "Microsoft Entra ID through Microsoft Graph (docs/entra.md)."))
    file: Path | None = Field(default=None, description=(
        "A saved snapshot: a SCIM ListResponse, JSON lines, or `recon snapshot` output."),
        examples=["target_snapshot.json"])
    exclude: str | None = Field(default=None, description=(
        "A predicate over the target's attributes: matching accounts are excluded (service and "
        "break-glass accounts), never touched."), examples=['Left([userName], 4) = "svc-"'])
    extensions: list[str] = Field(default_factory=list, description=(
        "Schema URNs of custom extensions whose attributes the config may use as written "
        "(recon otherwise checks every path against the target's schema)."),
        examples=[["urn:ietf:params:scim:schemas:extension:acme:2.0:User"]])

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [name for name in ("scim", "entra", "file") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"target needs exactly one of scim, entra, file (got {given or 'none'})")
        return self


class Reference(_Model):
    """An attribute whose value is another person's account: the HR key is resolved to its id."""

    reference: str = Field(description=(
        "An expression giving the referenced worker's HR key (e.g. the manager's)."),
        examples=["[Manager Employee ID]"])


class MatchRule(_Model):
    """One way to pair a worker with an account; rules are tried in order."""

    source: str = Field(description="An expression over HR columns.",
                        examples=["[Employee ID]", "ToLower([Work Email])"])
    target: str = Field(description="The SCIM attribute path it must equal.",
                        examples=["externalId", "userName"])


class Policy(_Model):
    """What recon plans for leavers and orphans, and the push's safety limits."""

    prehire_days: int = Field(default=14, ge=0, description=(
        "Joiners whose hire date is within this many days of as-of are created; later ones "
        "wait (future_hire)."))
    orphans: Literal["report", "disable", "delete"] = Field(default="report", description=(
        "What to plan for accounts no HR row matches."))
    leavers: Literal["disable", "delete", "none"] = Field(default="disable", description=(
        "What to plan for inactive workers whose account is active."))
    max_disables: int = Field(default=50, ge=0, description=(
        "A push approving more disables is refused as a whole (--max-disables overrides)."))
    max_disable_percent: float | None = Field(default=None, ge=0, le=100, description=(
        "Likewise, as a percentage of the target's accounts."))
    max_deletes: int = Field(default=0, ge=0, description=(
        "A push approving more deletes is refused (--max-deletes overrides)."))
    max_member_removals: int = Field(default=100, ge=0, description=(
        "A push removing more group members is refused (--max-member-removals overrides)."))

    def with_limits(self, **limits: float | None) -> Policy:
        """This policy with the given safety limits replaced (None keeps the policy's own): the
        one way a face applies ``--max-disables`` and its kin."""
        given = {name: value for name, value in limits.items() if value is not None}
        unknown = sorted(set(given) - {"max_disables", "max_disable_percent", "max_deletes",
                                       "max_member_removals"})
        if unknown:
            raise ValueError(f"not a safety limit: {unknown[0]}")
        return Policy.model_validate({**self.model_dump(), **given})


class Quality(_Model):
    """The data-quality gate (Great Expectations) run on every extract."""

    max_invalid_share: float = Field(default=0.2, ge=0, le=1, description=(
        "If more rows than this share fail, recon refuses to plan (exit 1)."))
    expectations: list[dict[str, Any]] = Field(default_factory=list, description=(
        "Your own Great Expectations expectations: {expectation: name, column: …, severity: "
        "error|warning, …options}."), examples=[[{
            "expectation": "expect_column_values_to_match_regex", "column": "Employee ID",
            "regex": "^[0-9]{6}$", "severity": "warning"}]])


class GroupRule(_Model):
    """One rule deriving group memberships from HR."""

    name: str = Field(description=(
        "An expression over HR columns giving the group's displayName (a list gives several)."),
        examples=['Join("", "dept-", [Supervisory Organization])'])
    when: str | None = Field(default=None, description=(
        "A predicate over HR columns narrowing who is a member; default: every active, "
        "in-scope worker."))


class Groups(_Model):
    """Groups and memberships derived from HR, and which target groups recon manages."""

    rules: list[GroupRule] = Field(default_factory=list, description="The group rules.")
    managed: list[str] = Field(default_factory=list, description=(
        "displayName globs of the target groups recon may change; all others are left alone."),
        examples=[["dept-*", "all-employees"]])
    chunk_size: int = Field(default=100, gt=0, description="Members per PATCH request.")


class Review(_Model):
    """How the review workbooks are cut so every sheet stays reviewable."""

    split_by: str | None = Field(default=None, description=(
        "One review workbook per part, for one reviewer each: `category`, or an attribute of "
        "`attributes:` by its path or short name (`department`, `manager`: the manager's "
        "name). Default: one workbook while the plan's ops fit one sheet, by category beyond."),
        examples=["category", "department", "manager"])
    max_rows_per_sheet: int = Field(default=5_000, ge=10, le=1_000_000, description=(
        "Rows a sheet shows at most; the run folder's CSVs hold every row and the workbook "
        "says so. Ops beyond it are decided for their whole category on the Summary."))


class Wave(_Model):
    """One wave of a migration: the people a predicate selects, planned and pushed apart."""

    name: str = Field(min_length=1, description=(
        "The wave's name, as `--wave NAME` gives it on `recon reconcile` and `recon approve` "
        "(words: no brackets, parentheses, quotes or `=`, which mark an expression)."),
        examples=["pilot", "finance"])
    when: str = Field(description=(
        "A predicate over HR columns and the account's attributes (SCIM paths, as in "
        "target.exclude): the people of the wave. A person matching several waves belongs to "
        "the first."), examples=['[Supervisory Organization] = "Finance"', '[Location] = "Oslo"'])

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("a wave name has no spaces at its ends")
        return value

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str) -> str:
        from recon.core.expressions import compile_expression

        try:
            compile_expression(value)
        except ConfigError as error:  # an ExpressionError: named with its key and line
            raise ValueError(str(error)) from error
        return value


class Config(_Model):
    """One YAML file per source/target pair."""

    as_of: date | None = Field(default=None, description=(
        "The day the comparison is made for (YYYY-MM-DD); default: today (UTC). `--as-of` "
        "overrides it."), examples=["2026-11-15"])
    source: Source = Field(description="The HR extract.")
    target: Target = Field(description="The identity target.")
    attributes: dict[str, str | Reference] = Field(description=(
        "SCIM attribute path → Entra-style expression over HR columns (or {reference: …} for "
        "an attribute naming another person's account, such as the manager). Every path is "
        "checked against the target's schema."), examples=[{
            "userName": "ToLower([Work Email])", "externalId": "[Employee ID]",
            "name.givenName": "Coalesce([Preferred First Name], [Legal First Name])",
            'emails[type eq "work"].value': "ToLower([Work Email])",
            f"{ENTERPRISE}:manager": {"reference": "[Manager Employee ID]"}}])
    match: list[MatchRule] = Field(min_length=1, description=(
        "How workers are paired with accounts, in precedence order: the first rule that finds "
        "an account wins; a rule finding several makes a conflict."))
    policy: Policy = Field(default=Policy(), description="Leavers, orphans and safety limits.")
    quality: Quality = Field(default=Quality(), description="The data-quality gate.")
    groups: Groups | None = Field(default=None, description=(
        "Group memberships derived from HR (none planned when absent)."))
    review: Review = Field(default=Review(), description=(
        "The review workbooks: split per reviewer, rows per sheet."))
    waves: list[Wave] = Field(default_factory=list, description=(
        "A migration cut in waves, in precedence order: each a name and a predicate over HR "
        "and account attributes. A wave's plan and approval hold only its people's ops; "
        "dependencies on other waves are reported (README \"Migrations in waves\")."),
        examples=[[{"name": "pilot", "when": '[Location] = "Oslo"'},
                   {"name": "finance", "when": '[Supervisory Organization] = "Finance"'}]])
    # Set by the loader, not written in the file.
    base_dir: Path = Field(default=Path("."), exclude=True)
    digest: str = Field(default="", exclude=True)
    name: str = Field(default="config", exclude=True)
    key_lines: dict[str, int] = Field(default_factory=dict, exclude=True)

    def where(self, key: str) -> str:
        """``recon.yaml, line 17`` for a dotted key of the file (its nearest known parent)."""
        parts = key.split(".")
        while parts:
            line = self.key_lines.get(".".join(parts))
            if line is not None:
                return f"{self.name}, line {line}"
            parts.pop()
        return self.name

    @model_validator(mode="after")
    def _split_by_known(self) -> Config:
        split = self.review.split_by
        if split is None or split == "category":
            return self
        short = {key.rsplit(":", 1)[-1].casefold(): key for key in self.attributes}
        if split.casefold() not in short and split not in self.attributes:
            raise ValueError(f"review.split_by {split!r} is neither 'category' nor an attribute "
                             f"of attributes: (e.g. {', '.join(sorted(short)[:4])})")
        return self

    @field_validator("waves")
    @classmethod
    def _waves_named_once(cls, value: list[Wave]) -> list[Wave]:
        for wave in value:
            if any(mark in wave.name for mark in '[]()="'):
                raise ValueError(f"wave name {wave.name!r}: a name has no brackets, "
                                 "parentheses, quotes or '=' (`--wave` reads those as an "
                                 "expression)")
        names = [wave.name.casefold() for wave in value]
        twice = sorted({wave.name for wave in value if names.count(wave.name.casefold()) > 1})
        if twice:
            raise ValueError(f"wave {twice[0]!r} is named twice")
        return value

    @field_validator("attributes")
    @classmethod
    def _needs_username(cls, value: dict[str, str | Reference]) -> dict[str, str | Reference]:
        if not value:
            raise ValueError("attributes must map at least one SCIM attribute")
        return value

    def resolve(self, path: Path) -> Path:
        """A path from the config, relative to the config file's folder."""
        return path if path.is_absolute() else self.base_dir / path

    @property
    def source_path(self) -> Path:
        return self.resolve(self.source.path)

    def reference_attributes(self) -> dict[str, str]:
        return {k: v.reference for k, v in self.attributes.items() if isinstance(v, Reference)}

    def expression_attributes(self) -> dict[str, str]:
        return {k: v for k, v in self.attributes.items() if isinstance(v, str)}

    def hr_expressions(self) -> dict[str, str]:
        """Every expression over HR columns, keyed by where it stands in the config."""
        found = {f"attributes.{k}": v for k, v in self.expression_attributes().items()}
        found.update({f"attributes.{k}.reference": v
                      for k, v in self.reference_attributes().items()})
        found.update({f"match.{n}.source": rule.source for n, rule in enumerate(self.match)})
        if self.source.scope:
            found["source.scope"] = self.source.scope
        if self.groups is not None:
            for n, rule in enumerate(self.groups.rules):
                found[f"groups.rules.{n}.name"] = rule.name
                if rule.when:
                    found[f"groups.rules.{n}.when"] = rule.when
        return found

    def check_expressions(self, hr_columns: list[str] | None = None) -> None:
        """Compile every expression (and check its HR columns if given); one clear error."""
        from recon.core.expressions import ExpressionError, check_columns, compile_expression

        every = dict(self.hr_expressions())
        if self.target.exclude:
            every["target.exclude"] = self.target.exclude
        for where, text in every.items():
            try:
                compile_expression(text)
                if hr_columns is not None and where != "target.exclude":
                    check_columns(text, hr_columns)
            except ExpressionError as error:
                raise ExpressionError(f"{self.where(where)}: {where}: {error}") from error


#: Keys the loader sets; a file that writes them is refused like any unknown key.
LOADER_KEYS = ("base_dir", "digest", "name", "key_lines")


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model a validation error's location points into (None: not a model)."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None if model is None or isinstance(part, str) else model
        model = _model_of(model.model_fields[part].annotation)
    return model


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def _suggestion(key: str, choices: list[str]) -> str:
    found = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    return f" (did you mean {found[0]!r}?)" if found else ""


def _format_validation(error: ValidationError, name: str, lines: dict[str, int]) -> str:
    """One line for the most useful error: unknown keys first (a misspelt key also makes its
    real name "missing"), each named with its line and the key it probably meant."""
    errors = error.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    first = (unknown or errors)[0]
    loc = tuple(first["loc"])
    where = ".".join(str(part) for part in loc) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        fields = [f for f in (model.model_fields if model else {}) if f not in LOADER_KEYS]
        message = "unknown key" + _suggestion(str(loc[-1]), fields)
    line = _line_of(where, lines)
    # A misspelt key also makes the key it meant "missing": one mistake, counted once.
    meant = {m[1] for e in unknown if (m := re.search(r"did you mean '([^']+)'", _suggestion(
        str(e["loc"][-1]), list((_model_at(tuple(e["loc"])[:-1]) or Config).model_fields))))}
    more = len([e for e in errors if e is not first and not (
        e["type"] == "missing" and str(e["loc"][-1]) in meant)])
    tail = f" (and {more} more)" if more else ""
    return f"{name}{line}: {where}: {message}{tail}"


def _line_of(key: str, lines: dict[str, int]) -> str:
    parts = key.split(".")
    while parts:
        if ".".join(parts) in lines:
            return f", line {lines['.'.join(parts)]}"
        parts.pop()
    return ""


def parse_config(data: Any, *, base_dir: Path, name: str = "config", digest: str = "",
                 key_lines: dict[str, int] | None = None) -> Config:
    """Validate the parsed YAML; ``key_lines`` (dotted key → line) lets errors name lines."""
    lines = key_lines or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping of options at the top level")
    for key in LOADER_KEYS:
        if key in data:
            raise ConfigError(f"{name}{_line_of(key, lines)}: {key}: unknown key")
    try:
        config = Config.model_validate(
            {**data, "base_dir": base_dir, "digest": digest, "name": name, "key_lines": lines})
    except ValidationError as error:
        raise ConfigError(_format_validation(error, name, lines)) from error
    config.check_expressions()
    return config
