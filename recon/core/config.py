"""The YAML configuration, one file per source/target pair, validated with pydantic.

Every option is defined here once; the CLI and the notebooks read the same models.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recon.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StatusRule(_Model):
    """Which values of the status column mean an active worker (all others mean inactive)."""

    column: str
    active: list[str] = Field(min_length=1)
    inactive: list[str] | None = None  # when given, values in neither list are invalid


class Source(_Model):
    path: Path
    sheet: str | None = None
    key: str
    status: StatusRule | None = None
    hire_date: str | None = None
    termination_date: str | None = None
    date_format: str | None = None
    scope: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    manager_key: str | None = None  # HR column holding the manager's key (for quality checks)
    email: list[str] = Field(default_factory=list)  # HR columns that must hold an e-mail address


class ScimTarget(_Model):
    """A SCIM 2.0 service provider; ``profile`` names its documented quirks (docs/providers.md).

    ``page_size``, ``patch_style`` and ``requests_per_second`` override the profile's (and what
    the target's ServiceProviderConfig says); ``requests_per_second: 0`` sends unpaced.
    """

    url: str
    token_env: str | None = None
    timeout: float = 30.0
    profile: Literal["generic", "aws_identity_center", "github_emu", "slack", "atlassian",
                     "zoom"] = "generic"
    page_size: int | None = Field(default=None, gt=0)
    patch_style: Literal["path_filter", "value_object", "put"] | None = None
    requests_per_second: float | None = Field(default=None, ge=0)


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
    scim: ScimTarget | None = None
    entra: EntraTarget | None = None
    file: Path | None = None
    exclude: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [name for name in ("scim", "entra", "file") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"target needs exactly one of scim, entra, file (got {given or 'none'})")
        return self


class Reference(_Model):
    """An attribute whose value is another person's account: the HR key is resolved to its id."""

    reference: str


class MatchRule(_Model):
    source: str
    target: str


class Policy(_Model):
    prehire_days: int = Field(default=14, ge=0)
    orphans: Literal["report", "disable", "delete"] = "report"
    leavers: Literal["disable", "delete", "none"] = "disable"
    max_disables: int = Field(default=50, ge=0)
    max_disable_percent: float | None = Field(default=None, ge=0, le=100)
    max_deletes: int = Field(default=0, ge=0)
    max_member_removals: int = Field(default=100, ge=0)  # group members removed per push

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
    max_invalid_share: float = Field(default=0.2, ge=0, le=1)
    expectations: list[dict[str, Any]] = Field(default_factory=list)


class GroupRule(_Model):
    name: str  # expression over HR columns giving the group's displayName
    when: str | None = None  # predicate over HR columns; default: every active, in-scope worker


class Groups(_Model):
    rules: list[GroupRule] = Field(default_factory=list)
    managed: list[str] = Field(default_factory=list)  # displayName globs recon may change
    chunk_size: int = Field(default=100, gt=0)


class Config(_Model):
    as_of: date | None = None
    source: Source
    target: Target
    attributes: dict[str, str | Reference]
    match: list[MatchRule] = Field(min_length=1)
    policy: Policy = Policy()
    quality: Quality = Quality()
    groups: Groups | None = None
    base_dir: Path = Path(".")
    digest: str = ""
    name: str = "config"

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
                raise ExpressionError(f"{self.name}: {where}: {error}") from error


def _format_validation(error: ValidationError, path: Path) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{path}: {where}: {message}{more}"


def parse_config(data: Any, *, base_dir: Path, name: str = "config", digest: str = "") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping of options at the top level")
    try:
        config = Config.model_validate(
            {**data, "base_dir": base_dir, "digest": digest, "name": name})
    except ValidationError as error:
        raise ConfigError(_format_validation(error, Path(name))) from error
    config.check_expressions()
    return config


