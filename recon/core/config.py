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
    url: str
    token_env: str | None = None
    timeout: float = 30.0
    page_size: int = Field(default=200, gt=0)


class EntraInbound(_Model):
    service_principal_id: str
    job_id: str


class EntraTarget(_Model):
    tenant_id: str | None = None
    client_id: str | None = None
    credential: Literal[
        "client_secret", "certificate", "managed_identity", "default", "device_code",
        "interactive", "token",
    ] = "default"
    client_secret_env: str | None = None
    certificate_path: Path | None = None
    token_env: str | None = None
    graph_url: str = "https://graph.microsoft.com/v1.0"
    page_size: int = Field(default=999, gt=0, le=999)
    user_filter: str | None = None
    inbound: EntraInbound | None = None


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
