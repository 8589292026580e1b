"""Customer parameter files: schema, validation with messages that name the file, field and fix."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .. import PROJECT_ROOT
from ..adapters.secrets import SECRET_PATTERNS, SecretRef, known_secret_values
from ..errors import ParameterError
from .catalogue import TIERS
from .catalogue import load as load_catalogue

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: ~20x the pure-Python loader

PARAMETERS_ENV = "RUNBOOK_PARAMETERS_DIR"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SECRET_KEY = re.compile(r"secret|password|passwd|token|connection_?string|sas|api_?key", re.IGNORECASE)
_CUSTOMER = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_VAULT_URL = re.compile(r"^https://[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]\.vault\.[a-z0-9.-]+/?$")
_SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
#: the MSP's own settings, shared by every customer file beside it (its `msp:` block; a customer's `msp:` overrides
#: single fields)
MSP_FILE = "msp.yml"

# How to fix each field, shown with the error.
FIXES = {
    "customer": "use the file name without .yml: lower-case letters, digits and dashes",
    "tenant_id": "use the Directory (tenant) ID from Entra ID > Overview, a GUID like 6f1c2a9e-4b7d-4e38-9a51-2c8d0e7b3f10",
    "subscription_ids": "list the subscription IDs (GUIDs) from Azure portal > Subscriptions",
    "tier": f"use one of: {', '.join(TIERS)}",
    "target": "use 'sandbox' for the local sandbox tenant or 'azure' for the customer's real tenant",
    "msp.tenant_id": "use the MSP's own tenant ID (the managing tenant of the Lighthouse offer)",
    "msp.principal_id": "use the object ID of the MSP's automation service principal",
    "msp": f"give the MSP's settings once in parameters/{MSP_FILE} (msp: name, tenant_id, principal_id, key_vault, ...) or in the customer file's msp: block",
    "attestations": "each attestation needs by, at (YYYY-MM-DD) and reference; not-required needs a reason",
    "policy.exemptions": "each exemption needs name, scope (an ID within subscription_ids), category Waiver or Mitigated, reason, ticket, owner and expires (YYYY-MM-DD)",
    "policy": "see parameters/template.yml: location, allowed_locations, allowed_locations_effect (Audit, Deny or Disabled), exemptions",
    "backup": "see parameters/template.yml: time (HH:00 or HH:30), time_zone (a Windows time zone such as 'W. Europe Standard Time'), frequency, retention_*, rpo_hours the schedule can meet",
    "patching": "see parameters/template.yml: windows with name, days, start (HH:MM), duration_hours 1.5-3.9, time_zone, tag_value",
    "offboarding": "offboarding.backup_data is retain (stop protection, keep the recovery points: the default) or delete (stop protection and delete them: irreversible, needs attestations.off-backup-data-deletion-agreed)",
    "iac": "give iac.repository (a git URL or path), optionally branch, base_branch, path and credential ({env: NAME} or {file: path})",
    "cloud": "use name AzureCloud, AzureUSGovernment or AzureChinaCloud, or name: custom with arm_endpoint and authority",
    "msp.connectors.hubspot": "give msp.connectors.hubspot in parameters/msp.yml: url (https://api.hubapi.com) and token, a reference to a private app's access token",
    "msp.connectors.topdesk": "give msp.connectors.topdesk in parameters/msp.yml: url (https://<tenant>.topdesk.net), login (the operator's login name), application_password (a reference) and optionally sla (the asset template and its field ids)",
    "msp.connectors.exact": "give msp.connectors.exact in parameters/msp.yml: url (https://start.exactonline.nl), division (the administration's number), client_id (the app's GUID), client_secret and refresh_token (references; the refresh token's must be writable: keyvault:, passwordstate: or file:) and tier_items (the managed-services item code per tier)",
    "msp.connectors.partner_center": "give msp.connectors.partner_center in parameters/msp.yml: url (https://api.partnercenter.microsoft.com), client_id (the app registered in Partner Center, in the MSP's tenant) and client_secret, a reference to a secret of that app",
    "msp.connectors": "see parameters/msp.yml: connectors.hubspot, connectors.topdesk, connectors.exact and connectors.partner_center, each with its url and credential reference",
    "msp.evidence_store": "give msp.evidence_store in parameters/msp.yml: account_url (https://<account>.blob.core.windows.net, or azurite), container (3-63 lower-case letters, digits, hyphens), resource_id (the storage account's ARM id), retention_days (1-146000, what the container's immutability policy must hold at least) and push (auto or manual)",
    "crm": "give crm.hubspot_company_id, the number at the end of the customer's company card URL in HubSpot (.../record/0-2/<id>)",
    "topdesk": "give topdesk.branch_id, the customer's branch id in TOPdesk (a GUID); optionally sla_reference and sla_service_level",
    "handover": "name contacts by their name or e-mail address as `contacts` lists them: handover.licence_admin (one), handover.insight (a list)",
    "exact": "give exact.account_code (the customer's account code in Exact Online), start_date (YYYY-MM-DD, the agreed start of the subscription) and pricing (the agreed invoice lines: item, quantity, unit_price); optionally item (the tier's item code)",
}


def _guid(value: str) -> str:
    if not isinstance(value, str) or not GUID.match(value):
        raise ValueError(f"'{value}' is not a GUID")
    return value.lower()


Guid = str  # checked by _guid in each model, which names the value in the error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Authorization(_Strict):
    """One expected Lighthouse authorization (principal + role) of the MSP's offer."""

    principal_id: Guid
    role: str
    principal_name: str = ""
    tiers: list[Literal["CSP", "Premium", "Full Stack"]] = []  # the tiers that get it; empty: every tier
    delegated_roles: list[str] = []  # User Access Administrator only: the roles it may assign (to managed identities)

    _g = field_validator("principal_id")(lambda cls, v: _guid(v))

    @model_validator(mode="after")
    def _delegable(self) -> Authorization:
        if self.role.strip().lower() == "owner":
            raise ValueError("Owner is never delegated through Lighthouse; use Contributor and named roles")
        uaa = self.role.strip().lower() == "user access administrator"
        if uaa and not self.delegated_roles:
            raise ValueError("User Access Administrator needs delegated_roles (the roles it may assign)")
        if self.delegated_roles and not uaa:
            raise ValueError("delegated_roles is only for the User Access Administrator role")
        return self


class PasswordstateServer(_Strict):
    """The MSP's Passwordstate server (Standard API): its URL and the API key's reference (never the key)."""

    url: str
    api_key: SecretRef

    @field_validator("url")
    @classmethod
    def _https(cls, v: str) -> str:
        if not re.match(r"^https://[^/\s]+/?$", v):
            raise ValueError("give the server's https URL without a path, e.g. https://passwords.example.com")
        return v.rstrip("/")


def _https_root(v: str, example: str) -> str:
    if not re.match(r"^https://[^/\s]+/?$", v):
        raise ValueError(f"give the service's https URL without a path, e.g. {example}")
    return v.rstrip("/")


class HubSpotConnector(_Strict):
    """The MSP's HubSpot portal (s2-hubspot-contacts): its API and a private app's access token, by reference. The
    private app needs the scopes crm.objects.companies.read and crm.objects.contacts.read."""

    url: str = "https://api.hubapi.com"
    token: SecretRef

    _u = field_validator("url")(lambda cls, v: _https_root(v, "https://api.hubapi.com"))


class TopdeskSla(_Strict):
    """How the MSP's TOPdesk holds an SLA contract: an asset of this template, linked to the customer's branch, its name
    the contract's reference and these fields (ids as the template names them) its service level and term."""

    template: str = "Service Level Agreement"
    service_level_field: str = "service-level"
    start_field: str = "start-date"
    end_field: str = "end-date"


class TopdeskConnector(_Strict):
    """The MSP's TOPdesk (s2-topdesk-contacts, s2-topdesk-sla): its URL, the operator the runbook reads as and that
    operator's application password, by reference."""

    url: str
    login: str = Field(min_length=1)
    application_password: SecretRef
    sla: TopdeskSla = TopdeskSla()

    _u = field_validator("url")(lambda cls, v: _https_root(v, "https://intercept.topdesk.net"))


class ExactConnector(_Strict):
    """The MSP's Exact Online administration (s1-invoice-run, s4-first-invoice): its URL (per country), the division
    (the administration's number), the MSP's app (client id, and its client secret by reference) and a refresh token
    by reference. Exact replaces the refresh token at every use, so its reference must be one the runbook can write
    (keyvault:, passwordstate: or file:). `tier_items` names the managed-services item of each tier."""

    url: str = "https://start.exactonline.nl"
    division: int = Field(gt=0)
    client_id: Guid
    client_secret: SecretRef
    refresh_token: SecretRef
    tier_items: dict[Literal["CSP", "Premium", "Full Stack"], str] = {}

    _u = field_validator("url")(lambda cls, v: _https_root(v, "https://start.exactonline.nl"))
    _g = field_validator("client_id")(lambda cls, v: _guid(v))

    @field_validator("refresh_token")
    @classmethod
    def _writable(cls, v: SecretRef) -> SecretRef:
        if v.env:
            raise ValueError(
                f"the refresh token is in environment variable {v.env}, which the runbook cannot write back; Exact "
                "replaces the refresh token at every use, so give a keyvault:, passwordstate: or file: reference"
            )
        return v


class PartnerCenterConnector(_Strict):
    """The MSP's Partner Center account (s2-csp-contract, s2-partner-center-budget): its API and the app registered in
    it (Account settings > App management), an app of the MSP's tenant (msp.tenant_id) signing in app-only with a
    client secret, by reference. The customer is found by its tenant id (its Microsoft ID in Partner Center)."""

    url: str = "https://api.partnercenter.microsoft.com"
    client_id: Guid
    client_secret: SecretRef

    _u = field_validator("url")(lambda cls, v: _https_root(v, "https://api.partnercenter.microsoft.com"))
    _g = field_validator("client_id")(lambda cls, v: _guid(v))


class Connectors(_Strict):
    """The MSP's own systems the runbook's checks read (the customer's records in them are named in the customer file)."""

    hubspot: HubSpotConnector | None = None
    topdesk: TopdeskConnector | None = None
    exact: ExactConnector | None = None
    partner_center: PartnerCenterConnector | None = None


_CONTAINER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
_STORAGE_ACCOUNT_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}$",
    re.IGNORECASE,
)


class EvidenceStoreSettings(_Strict):
    """The MSP's evidence archive in Azure Blob (runbook evidence push): the account's blob URL (or `azurite`, the local
    Azurite `runbook demo` starts), one container for the MSP (a path per customer and run in it), the storage account's
    ARM id (its container's immutability policy is checked through ARM before a push), the retention the policy must
    hold at least, and whether runs are pushed at the end of each run (`auto`) or by `runbook evidence push` only."""

    account_url: str
    container: str
    resource_id: str
    retention_days: int = Field(ge=1, le=146_000)
    push: Literal["auto", "manual"] = "manual"

    @field_validator("account_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v != "azurite" and not re.match(r"^https://[^/\s?#]+(/[a-z0-9]{3,24})?/?$", v):
            raise ValueError(
                "give the account's blob endpoint over https, e.g. https://<account>.blob.core.windows.net (no SAS, "
                "no path), or 'azurite' for the local Azurite of the demo"
            )
        return v.rstrip("/")

    @field_validator("container")
    @classmethod
    def _container(cls, v: str) -> str:
        if not _CONTAINER_NAME.match(v):
            raise ValueError(f"'{v}' is not a container name: 3-63 lower-case letters, digits and single hyphens")
        return v

    @field_validator("resource_id")
    @classmethod
    def _resource_id(cls, v: str) -> str:
        if not _STORAGE_ACCOUNT_ID.match(v):
            raise ValueError(
                "give the storage account's resource ID, "
                "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>"
            )
        return v

    @property
    def subscription_id(self) -> str:
        """The subscription of the storage account."""
        return self.resource_id.split("/")[2]

    @property
    def resource_group(self) -> str:
        """The resource group of the storage account."""
        return self.resource_id.split("/")[4]

    @property
    def account_name(self) -> str:
        """The storage account's name."""
        return self.resource_id.rstrip("/").rsplit("/", 1)[-1]


class StoredCredential(_Strict):
    """A credential the MSP keeps for the customer (an administrator account, a firewall, a portal): where it is."""

    name: str
    store: SecretRef
    purpose: str = ""


class Msp(_Strict):
    """The managing service provider's identities."""

    name: str = "Intercept"
    tenant_id: Guid
    principal_id: Guid
    accepted_roles: list[str] = ["Owner", "Contributor"]
    offer_name: str = "Intercept Managed Services"
    expected_authorizations: list[Authorization] = []
    passwordstate: PasswordstateServer | None = None  # where `passwordstate:` secret references live
    # the MSP's Key Vault (in the MSP's tenant): `{keyvault: <secret name>}` references name a secret in it
    key_vault: str | None = None
    connectors: Connectors = Connectors()  # HubSpot, TOPdesk: URLs and credential references
    evidence_store: EvidenceStoreSettings | None = None  # the evidence archive in Azure Blob (runbook evidence push)
    # four eyes: an apply needs a second person's approval of the reviewed plan (`runbook approve`); unset: on for
    # real tenants, off for the sandbox (Parameters.approval_required)
    require_approval: bool | None = None

    _g = field_validator("tenant_id", "principal_id")(lambda cls, v: _guid(v))

    @field_validator("key_vault")
    @classmethod
    def _vault_url(cls, v: str | None) -> str | None:
        if v is not None and not _VAULT_URL.match(v):
            raise ValueError(
                f"'{v}' is not a vault URL; give https://<vault>.vault.azure.net (3-24 letters, digits and hyphens)"
            )
        return v.rstrip("/") if v else v


class Contact(_Strict):
    """A customer contact person."""

    name: str
    email: str
    role: str = ""

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v):
            raise ValueError(f"'{v}' is not an e-mail address")
        return v


class Cloud(_Strict):
    """Which Azure cloud the customer lives in; `custom` names its endpoints (e.g. Azure Stack, a test cloud)."""

    name: Literal["AzureCloud", "AzureUSGovernment", "AzureChinaCloud", "custom"] = "AzureCloud"
    arm_endpoint: str | None = None
    authority: str | None = None
    graph_endpoint: str | None = None
    ca_bundle: str | None = None  # PEM file to trust, for a custom cloud with a private CA

    @model_validator(mode="after")
    def _custom_needs_endpoints(self) -> Cloud:
        if self.name == "custom" and not (self.arm_endpoint and self.authority):
            raise ValueError("a custom cloud needs arm_endpoint and authority")
        if self.name != "custom" and (self.arm_endpoint or self.authority or self.graph_endpoint or self.ca_bundle):
            raise ValueError(f"endpoints are fixed for {self.name}; set name: custom to give your own")
        return self


class Credential(_Strict):
    """How the runbook signs in to a real tenant (omit to use azure-identity's default chain)."""

    client_id: Guid
    client_secret: SecretRef


class AppRegistration(_Strict):
    """The MSP application created in the customer tenant (Stage 1)."""

    display_name: str = "Intercept Managed Services"
    roles: list[str] = ["Reader", "Monitoring Contributor", "Tag Contributor"]
    secret_store: SecretRef
    secret_valid_days: int = Field(365, ge=1, le=730)


class ManagedTag(_Strict):
    """The tag that marks a resource as managed by the MSP."""

    key: str = "Intercept"
    value: str = "Managed"


class ResourceSheet(_Strict):
    """The Manageable Resource Sheet: where it lives and what a new sheet pre-fills in Managed."""

    path: str | None = None  # default parameters/<customer>.resources.xlsx
    prefill: Literal["", "Yes", "No"] = ""  # "" leaves rows for a person to mark


class Tagging(_Strict):
    """How tagging runs against ARM's write limits."""

    concurrency: int = Field(16, ge=1, le=64)
    untag_unmarked: bool = False  # Stage 3: remove the managed tag from resources the sheet now marks No


class Monitoring(_Strict):
    """Where the MSP's monitoring resources are created in each subscription."""

    resource_group: str = "rg-intercept-monitoring"
    location: str = "westeurope"
    action_group: str = "ag-intercept"


class Alerts(_Strict):
    """Where alerts go."""

    email: str
    webhook: str | None = None


class Budget(_Strict):
    """The subscription budget agreed with the customer."""

    amount: float = Field(gt=0)
    currency: str = "EUR"
    alert_thresholds: list[int] = Field(
        default=[80, 100], min_length=1, max_length=4
    )  # Azure: at most 5 notifications, one is the forecast
    contact_emails: list[str] = []  # who gets budget alerts; default: alerts.email
    amounts: dict[str, float] = {}  # the amount agreed per subscription ID, where it differs from `amount`

    @field_validator("amounts")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, a in v.items() if a <= 0]
        if bad:
            raise ValueError(f"amounts must be greater than 0 (not for {', '.join(bad)})")
        return {_guid(k): a for k, a in v.items()}


class AdvisorSettings(_Strict):
    """Azure Advisor as agreed for Stage 3: nothing excluded, the low-CPU threshold, a digest to the MSP."""

    low_cpu_threshold: Literal["5", "10", "15", "20"] = "5"  # % average CPU under which Advisor flags a VM
    digest_frequency_days: int = Field(7, ge=7, le=30)  # Azure: 7-30 days
    digest_categories: list[Literal["HighAvailability", "Security", "Performance", "Cost", "OperationalExcellence"]] = (
        Field(default=["HighAvailability", "Security", "Performance", "Cost", "OperationalExcellence"], min_length=1)
    )


class DefenderExtension(_Strict):
    """A Defender plan extension and whether it is on."""

    name: str
    enabled: bool = True


class DefenderPlan(_Strict):
    """One Defender for Cloud plan to turn on (Standard) in every subscription."""

    name: str  # VirtualMachines, StorageAccounts, KeyVaults, Arm, SqlServers, AppServices, Containers, ...
    sub_plan: str | None = None  # e.g. P2 for VirtualMachines, DefenderForStorageV2 for StorageAccounts
    extensions: list[DefenderExtension] = []


def _default_defender_plans() -> list[DefenderPlan]:
    return [
        DefenderPlan(
            name="VirtualMachines", sub_plan="P2", extensions=[DefenderExtension(name="MdeDesignatedSubscription")]
        ),
        DefenderPlan(name="StorageAccounts", sub_plan="DefenderForStorageV2"),
        DefenderPlan(name="KeyVaults", sub_plan="PerKeyVault"),
        DefenderPlan(name="Arm", sub_plan="PerSubscription"),
        DefenderPlan(name="SqlServers"),
        DefenderPlan(name="AppServices"),
    ]


class Defender(_Strict):
    """The Defender for Cloud plans of the tier (Premium and Full Stack), the same in every subscription."""

    plans: list[DefenderPlan] = Field(default_factory=_default_defender_plans, min_length=1)


_EXEMPTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SCOPE = re.compile(r"^/subscriptions/([0-9a-fA-F-]{36})(/resourceGroups/[^/]+(/providers/.+)?)?$", re.IGNORECASE)


class PolicyExemption(_Strict):
    """An exemption from the MSP baseline, agreed with the customer: where, from what, why, who owns it, until when."""

    name: str  # the exemption's name (letters, digits, . _ -)
    scope: str  # a subscription, resource group or resource ID within subscription_ids
    policies: list[str] = []  # baseline reference ids (e.g. AllowedLocations); empty = every policy of the baseline
    category: Literal["Waiver", "Mitigated"]  # Waiver: accepted risk; Mitigated: handled another way
    reason: str = Field(min_length=3)
    ticket: str = Field(min_length=2)  # where the agreement is recorded
    owner: str = Field(min_length=2)  # who answers for it (a person)
    expires: date  # exemptions end: renew them consciously

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _EXEMPTION_NAME.match(v):
            raise ValueError(f"'{v}' is not a valid exemption name (letters, digits, '.', '_', '-'; at most 64)")
        return v

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: str) -> str:
        if not _SCOPE.match(v):
            raise ValueError(f"'{v}' is not a subscription, resource group or resource ID")
        return v


class PolicySettings(_Strict):
    """The MSP policy baseline (lib/runbook/data/policy_baseline.yml) as assigned to this customer."""

    location: str = "westeurope"  # where the assignment's managed identity lives (Azure requires one)
    allowed_locations: list[str] = Field(default=["westeurope", "northeurope"], min_length=1)
    allowed_locations_effect: Literal["Audit", "Deny", "Disabled"] = "Audit"  # Deny refuses writes elsewhere
    exemptions: list[PolicyExemption] = []
    evaluation_timeout_minutes: int = Field(30, ge=1, le=240)  # how long to wait for Azure's compliance scan
    remediation_timeout_minutes: int = Field(60, ge=1, le=720)  # how long to wait for remediation tasks

    @field_validator("exemptions")
    @classmethod
    def _unique(cls, v: list[PolicyExemption]) -> list[PolicyExemption]:
        names = [e.name.lower() for e in v]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"exemption name(s) listed twice: {', '.join(twice)}")
        return v


Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _time_zones() -> frozenset[str]:
    """Windows time zone IDs Azure's schedules accept (data/windows_time_zones.yml)."""
    path = Path(__file__).resolve().parents[1] / "data" / "windows_time_zones.yml"
    return frozenset(str(z).lower() for z in yaml.load(path.read_text(), Loader=SAFE_LOADER))


def _time_zone(v: str) -> str:
    if v.lower() not in _time_zones():
        raise ValueError(
            f"'{v}' is not a Windows time zone Azure knows; use e.g. 'W. Europe Standard Time', 'GMT Standard Time' or 'UTC'"
        )
    return v


def _clock(v: str, half_hours: bool = False) -> str:
    m = _CLOCK.match(v)
    if not m:
        raise ValueError(f"'{v}' is not a time of day as HH:MM")
    if half_hours and m.group(2) not in ("00", "30"):
        raise ValueError(f"'{v}': Azure Backup runs on the hour or the half hour (HH:00 or HH:30)")
    return v


class Backup(_Strict):
    """The agreed backup schedule (Full Stack, Stage 3): when, how long it is kept, where the vault keeps it."""

    time: str = "23:00"  # on the hour or the half hour
    time_zone: str = "W. Europe Standard Time"  # a Windows time zone ID
    frequency: Literal["Daily", "Weekly"] = "Daily"
    days: list[Weekday] = ["Sunday"]  # Weekly: the days it runs; daily backups keep a weekly point on the first
    retention_days: int = Field(30, ge=7, le=9999)  # Azure: daily points 7-9999 days
    retention_weeks: int | None = Field(None, ge=1, le=5163)
    retention_months: int | None = Field(None, ge=1, le=1188)
    retention_years: int | None = Field(None, ge=1, le=99)
    instant_restore_days: int = Field(2, ge=1, le=5)  # snapshots kept for fast restore
    rpo_hours: int = Field(24, ge=1)  # agreed recovery point objective
    rto_hours: int = Field(8, ge=1)
    redundancy: Literal["GeoRedundant", "LocallyRedundant", "ZoneRedundant"] = "GeoRedundant"
    soft_delete: bool = True  # deleted backups kept 14 days; set before the first item is protected

    _tz = field_validator("time_zone")(lambda cls, v: _time_zone(v))
    _t = field_validator("time")(lambda cls, v: _clock(v, half_hours=True))

    @model_validator(mode="after")
    def _rpo(self) -> Backup:
        interval = 24 if self.frequency == "Daily" else 24 * 7 // max(1, len(self.days))
        if self.frequency == "Weekly" and len(set(self.days)) < 7:
            week = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            picked = sorted({week.index(d) for d in self.days})
            gaps = [(picked[(i + 1) % len(picked)] - d) % 7 or 7 for i, d in enumerate(picked)]
            interval = 24 * max(gaps)
        if self.rpo_hours < interval:
            raise ValueError(
                f"rpo_hours {self.rpo_hours} cannot be met by a {self.frequency.lower()} backup (up to {interval} h "
                "between recovery points): agree a longer RPO or a more frequent schedule"
            )
        return self

    def words(self) -> str:
        """The schedule in a sentence."""
        when = "every day" if self.frequency == "Daily" else "every " + ", ".join(self.days)
        kept = [f"daily points {self.retention_days} days"]
        if self.retention_weeks:
            kept.append(f"weekly points {self.retention_weeks} weeks")
        if self.retention_months:
            kept.append(f"monthly points {self.retention_months} months")
        if self.retention_years:
            kept.append(f"yearly points {self.retention_years} years")
        return (
            f"Back up {when} at {self.time} ({self.time_zone}); keep {', '.join(kept)}; RPO {self.rpo_hours} h, "
            f"RTO {self.rto_hours} h; {self.redundancy} vault storage, soft delete {'on' if self.soft_delete else 'off'}."
        )


class PatchWindow(_Strict):
    """One agreed patch window: Azure Update Manager installs in it on the VMs whose tag names it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,40}$")  # part of the maintenance configuration's name
    days: list[Weekday] = Field(default=["Sunday"], min_length=1)
    start: str = "02:00"
    duration_hours: float = 3.0  # Azure: InGuestPatch windows last 1:30 to 3:55
    time_zone: str = "W. Europe Standard Time"
    tag_value: str = ""  # VMs whose `patching.tag_key` tag has this value; "" = every managed VM (the managed tag)
    reboot: Literal["IfRequired", "Never", "Always"] = "IfRequired"
    windows_classifications: list[
        Literal["Critical", "Security", "UpdateRollup", "FeaturePack", "ServicePack", "Definition", "Tools", "Updates"]
    ] = Field(default=["Critical", "Security"], min_length=1)
    linux_classifications: list[Literal["Critical", "Security", "Other"]] = Field(
        default=["Critical", "Security"], min_length=1
    )

    _tz = field_validator("time_zone")(lambda cls, v: _time_zone(v))
    _t = field_validator("start")(lambda cls, v: _clock(v))

    @field_validator("duration_hours")
    @classmethod
    def _duration(cls, v: float) -> float:
        if not 1.5 <= v <= 3 + 55 / 60:
            raise ValueError(
                f"a patch window of {v} h is outside what Azure allows for scheduled patching (1.5 to 3.9 h, i.e. "
                "01:30 to 03:55)"
            )
        return v

    def duration(self) -> str:
        """The duration as Azure writes it (HH:MM)."""
        minutes = round(self.duration_hours * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def words(self) -> str:
        who = f"VMs tagged {self.tag_value!r}" if self.tag_value else "every managed VM"
        return (
            f"{self.name}: every {', '.join(self.days)} at {self.start} for {self.duration()} ({self.time_zone}), "
            f"{who}; Windows {'/'.join(self.windows_classifications)}, Linux {'/'.join(self.linux_classifications)}; "
            f"reboot {self.reboot}."
        )


class Patching(_Strict):
    """The agreed patch windows. `day`, `start` and `duration_hours` make one window for every managed VM; `windows`
    lists several, each for the VMs whose `tag_key` tag holds its `tag_value`."""

    day: Weekday = "Sunday"
    start: str = "02:00"
    duration_hours: float = 3.0
    time_zone: str = "W. Europe Standard Time"
    tag_key: str = "PatchWindow"
    windows: list[PatchWindow] = []

    _tz = field_validator("time_zone")(lambda cls, v: _time_zone(v))

    @model_validator(mode="after")
    def _check(self) -> Patching:
        names = [w.name.lower() for w in self.windows]
        if len(set(names)) != len(names):
            raise ValueError("patch window names must be unique")
        if not self.windows:
            PatchWindow(
                name="default",
                days=[self.day],
                start=self.start,
                duration_hours=self.duration_hours,
                time_zone=self.time_zone,
            )  # the same limits for the single window
        return self

    def schedule(self) -> list[PatchWindow]:
        """The windows in force."""
        if self.windows:
            return list(self.windows)
        return [
            PatchWindow(
                name="default",
                days=[self.day],
                start=self.start,
                duration_hours=self.duration_hours,
                time_zone=self.time_zone,
            )
        ]


class Iac(_Strict):
    """Where the MSP-side configuration is kept as code: the customer's git repository (Full Stack, Stage 3)."""

    repository: str = Field(min_length=1)  # https://..., ssh://..., git@host:path, or a local path / file:// URL
    branch: str = Field("intercept/managed-configuration", pattern=r"^[A-Za-z0-9._/-]+$")
    base_branch: str = Field("main", pattern=r"^[A-Za-z0-9._/-]+$")  # where a new branch starts
    path: str = Field("intercept", pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")  # folder in the repository
    credential: SecretRef | None = None  # a token for HTTPS (env or file reference); none for SSH agents or paths
    author_name: str = "Intercept runbook"
    author_email: str = "runbook@intercept.example"

    @field_validator("repository")
    @classmethod
    def _no_secret_in_url(cls, v: str) -> str:
        if re.match(r"^[a-z+]+://[^/@]+:[^/@]+@", v):
            raise ValueError(
                "the repository URL holds a password or token; put it in credential ({env: NAME} or {file: path})"
            )
        return v


class Crm(_Strict):
    """The customer's record in the MSP's CRM (HubSpot): its company card."""

    hubspot_company_id: str

    @field_validator("hubspot_company_id", mode="before")
    @classmethod
    def _numeric(cls, v: object) -> str:
        text = str(v).strip() if isinstance(v, (str, int)) else ""
        if not text.isdigit():
            raise ValueError(f"'{v}' is not a HubSpot record id (the digits at the end of the company card's URL)")
        return text


class Handover(_Strict):
    """Stage 4: which of the customer's contacts should be able to do what, checked in the customer's tenant (Entra ID
    and Azure RBAC) by s4-o365-licenses, s4-advisor-insight and s4-policy-dashboard. Contacts are named by their name
    or e-mail address as `contacts` lists them."""

    licence_admin: str | None = None  # the contact who edits the Office 365 licences (s4-o365-licenses)
    insight: list[str] | None = None  # the contacts who must see Advisor and the Policy dashboard; default: all


class ReportSchedule(_Strict):
    """The monthly PARC report (s3-parc-report, `runbook report`): the day of the month it is made (1-28, so every
    month has it) and its recipients among `contacts`, named by name or e-mail address."""

    day_of_month: int = Field(ge=1, le=28)
    recipients: list[str] = Field(min_length=1)


class TopdeskAccount(_Strict):
    """The customer in the MSP's TOPdesk: its branch, and the SLA contract expected there."""

    branch_id: str
    sla_reference: str | None = None  # the SLA asset's name; default sla_project_number
    sla_service_level: str | None = None  # its service level; default the tier

    @field_validator("branch_id")
    @classmethod
    def _branch(cls, v: str) -> str:
        if not GUID.match(v):
            raise ValueError(f"'{v}' is not a TOPdesk branch id (a GUID)")
        return v.lower()


class PriceLine(_Strict):
    """One agreed invoice line: the item's code and, where they are fixed, its quantity and unit price (a line
    without them, such as Azure consumption, is checked for presence only)."""

    item: str = Field(min_length=1)
    quantity: float | None = None
    unit_price: float | None = None


class ExactAccount(_Strict):
    """The customer in the MSP's Exact Online: its account, the agreed start of its subscription and the agreed
    pricing its invoices carry."""

    account_code: str
    start_date: date
    item: str | None = None  # the managed-services item on the subscription; default msp.connectors.exact.tier_items
    pricing: list[PriceLine] = []

    @field_validator("account_code", mode="before")
    @classmethod
    def _code(cls, v: object) -> str:
        text = str(v).strip() if isinstance(v, (str, int)) else ""
        if not text or len(text) > 18:
            raise ValueError(f"'{v}' is not an Exact Online account code (1-18 characters, CRM > Accounts > Code)")
        return text


class Offboarding(_Strict):
    """What `runbook offboard` (and a tier change's removals) does where the parameters decide."""

    # the backup protection the runbook enabled: retain (stop protection, keep the recovery points: the default) or
    # delete (stop protection and delete the recovery points: irreversible; needs attestations.off-backup-data-deletion-agreed)
    backup_data: Literal["retain", "delete"] = "retain"


class Attestation(_Strict):
    """A person's record that a human step was done (or is not required)."""

    by: str
    at: date
    reference: str
    status: Literal["fulfilled", "not-required"] = "fulfilled"
    reason: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _reason(self) -> Attestation:
        if self.status == "not-required" and not self.reason:
            raise ValueError("status not-required needs a reason")
        return self


class Parameters(_Strict):
    """Everything the stages need about one customer."""

    customer: str
    tenant_id: Guid
    tenant_name: str
    subscription_ids: list[Guid] = Field(min_length=1)
    tier: Literal["CSP", "Premium", "Full Stack"]
    engineer: str
    csm: str
    sla_project_number: str
    target: Literal["sandbox", "azure"] = "azure"
    msp: Msp
    cloud: Cloud = Cloud()
    credential: Credential | None = None
    contacts: list[Contact] = []
    crm: Crm | None = None  # the company card in HubSpot (s2-hubspot-contacts)
    topdesk: TopdeskAccount | None = None  # the branch and SLA in TOPdesk (s2-topdesk-contacts, s2-topdesk-sla)
    handover: Handover = Handover()  # who edits licences, who sees Advisor and the Policy dashboard (Stage 4)
    report: ReportSchedule | None = None  # the monthly PARC report's day and recipients (s3-parc-report)
    exact: ExactAccount | None = (
        None  # the account, subscription and pricing in Exact Online (s1-invoice-run, s4-first-invoice)
    )
    managed_tag: ManagedTag = ManagedTag()
    resource_sheet: ResourceSheet = ResourceSheet()
    tagging: Tagging = Tagging.model_validate({})
    monitoring: Monitoring = Monitoring()
    alerts: Alerts | None = None
    budget: Budget | None = None
    advisor: AdvisorSettings = AdvisorSettings.model_validate({})
    defender: Defender = Defender()
    policy: PolicySettings = PolicySettings.model_validate({})
    backup: Backup | None = None
    patching: Patching | None = None
    iac: Iac | None = None
    app_registration: AppRegistration | None = None
    offboarding: Offboarding = Offboarding()  # `runbook offboard`: backup_data retain (default) or delete
    attestations: dict[str, Attestation] = {}
    credentials: list[StoredCredential] = []  # checked by s3-credentials-stored (names and metadata, never values)

    _g = field_validator("tenant_id")(lambda cls, v: _guid(v))

    @field_validator("subscription_ids")
    @classmethod
    def _subs(cls, v: list[str]) -> list[str]:
        out = [_guid(s) for s in v]
        if len(set(out)) != len(out):
            raise ValueError("subscription IDs are listed twice")
        return out

    @field_validator("customer")
    @classmethod
    def _customer(cls, v: str) -> str:
        if not _CUSTOMER.match(v):
            raise ValueError(f"'{v}' is not a valid customer name")
        return v

    @model_validator(mode="after")
    def _budget_subscriptions(self) -> Parameters:
        if self.budget is not None:
            extra = sorted(set(self.budget.amounts) - set(self.subscription_ids))
            if extra:
                raise ValueError(f"budget.amounts names subscription(s) not in subscription_ids: {', '.join(extra)}")
        return self

    @model_validator(mode="after")
    def _handover_contacts(self) -> Parameters:
        named = [self.handover.licence_admin] if self.handover.licence_admin else []
        for who in named + list(self.handover.insight or []):
            if self.contact(who) is None:
                raise ValueError(
                    f"handover names '{who}', who is not in contacts; name a contact by its name or e-mail address"
                )
        return self

    @model_validator(mode="after")
    def _report_recipients(self) -> Parameters:
        for who in self.report.recipients if self.report is not None else []:
            if self.contact(who) is None:
                raise ValueError(
                    f"report.recipients names '{who}', who is not in contacts; name a contact by its name or e-mail address"
                )
        return self

    def contact(self, who: str) -> Contact | None:
        """The contact a name or an e-mail address names (case and spacing do not matter)."""
        key = " ".join(who.split()).casefold()
        return next(
            (c for c in self.contacts if key in (" ".join(c.name.split()).casefold(), c.email.casefold())), None
        )

    @model_validator(mode="after")
    def _exemption_scopes(self) -> Parameters:
        subs = {s.lower() for s in self.subscription_ids}
        for e in self.policy.exemptions:
            m = _SCOPE.match(e.scope)
            if m and m.group(1).lower() not in subs:
                raise ValueError(
                    f"policy.exemptions '{e.name}': scope {e.scope} is not in one of subscription_ids; "
                    "exempt only within the customer's subscriptions"
                )
        return self

    @field_validator("attestations")
    @classmethod
    def _known_items(cls, v: dict) -> dict:
        cat = load_catalogue()
        known = {it.id for it in cat.items + cat.offboarding + cat.tier_change}  # stage, offboarding, tier lines
        unknown = sorted(set(v) - known)
        if unknown:
            raise ValueError(
                f"unknown checklist item(s) {', '.join(unknown)}; use an id from `runbook status <customer>`"
            )
        return v

    @property
    def approval_required(self) -> bool:
        """Whether an apply needs a second person's approval of the reviewed plan (msp.require_approval; unset: on for
        a real tenant, off for the sandbox)."""
        if self.msp.require_approval is not None:
            return self.msp.require_approval
        return self.target != "sandbox"

    def secret_refs(self) -> tuple[SecretRef, ...]:
        """Every secret reference these parameters hold (their values are never archived)."""
        c = self.msp.connectors
        refs = (
            self.app_registration.secret_store if self.app_registration else None,
            self.credential.client_secret if self.credential else None,
            c.hubspot.token if c.hubspot else None,
            c.topdesk.application_password if c.topdesk else None,
            c.exact.client_secret if c.exact else None,
            c.exact.refresh_token if c.exact else None,
            c.partner_center.client_secret if c.partner_center else None,
        )
        return tuple(r for r in refs if r is not None)

    def connector_unavailable(self, system: str) -> str:
        """Why a connector's check cannot run for this customer ('' when it can): the MSP's settings for the system
        (msp.yml) or the customer's record in it (the customer file) are not given."""
        shown = display_path(resolve_path(self.customer))
        msp = getattr(self.msp.connectors, system, None)
        if msp is None:
            return f"no msp.connectors.{system} in parameters/{MSP_FILE} (its URL and credential)"
        if system == "hubspot" and self.crm is None:
            return f"no crm.hubspot_company_id in {shown} (the customer's company card)"
        if system == "topdesk" and self.topdesk is None:
            return f"no topdesk.branch_id in {shown} (the customer's branch)"
        if system == "exact" and self.exact is None:
            return f"no exact.account_code in {shown} (the customer's account)"
        return ""


def _field_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def _fix_for(path: str) -> str:
    for key in sorted(FIXES, key=len, reverse=True):
        if path == key or path.startswith(key + "."):
            return FIXES[key]
    return "see parameters/template.yml for the expected form"


def find_literal_secrets(data: object, path: str = "") -> list[str]:
    """Field paths whose key looks like a secret and whose value is a literal, not a reference."""
    found = []
    if isinstance(data, dict):
        for k, v in data.items():
            p = f"{path}.{k}" if path else str(k)
            is_reference = str(k) in ("env", "file", "keyvault", "passwordstate")  # a SecretRef's own kinds
            if _SECRET_KEY.search(str(k)) and not is_reference and isinstance(v, (str, int)) and str(v).strip():
                found.append(p)
            found += find_literal_secrets(v, p)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += find_literal_secrets(v, f"{path}.{i}")
    return found


PLACEHOLDER_GUID = "00000000-0000-0000-0000-000000000000"
# values copied from parameters/template.yml that must be replaced before a run
TEMPLATE_SAMPLES = {
    "Your Name",
    "CSM Name",
    "Full Name",
    "link to the signed SLA",
    "SLA-2026-0000",
    "name@example.com",
    "alerts@example.com",
    "1234567890",  # the template's HubSpot company id
    "000000",  # the template's Exact Online account code
}


def find_secret_values(data: object, known: tuple[str, ...] = (), path: str = "") -> list[tuple[str, str]]:
    """(field path, kind) of every value shaped like a secret (the archive's detector) or equal to a secret this
    machine holds, whatever its key is called."""
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            found += find_secret_values(v, known, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += find_secret_values(v, known, f"{path}.{i}")
    elif isinstance(data, str):
        kinds = [kind for kind, pat in SECRET_PATTERNS.items() if kind != "absolute home path" and pat.search(data)]
        if any(v and len(v) >= 8 and v in data for v in known):
            kinds.append("a secret this machine holds for the runbook")
        found += [(path, kind) for kind in kinds]
    return found


def find_placeholders(data: object, path: str = "") -> list[str]:
    """Field paths still holding the template's placeholders (all-zero GUIDs, sample names, the sample attestation)."""
    found: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            found += find_placeholders(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += find_placeholders(v, f"{path}.{i}")
    elif isinstance(data, str) and (data.strip().lower() == PLACEHOLDER_GUID or data.strip() in TEMPLATE_SAMPLES):
        found.append(path)
    return found


def parameters_hash(customer: str) -> str:
    """SHA-256 of what a run's parameters are read from (recorded in its evidence; '' when there is no file): the
    customer's file, and the MSP's shared settings beside it when there are any."""
    path = resolve_path(customer)
    if not path.exists():
        return ""
    digest = hashlib.sha256(path.read_bytes())
    shared = path.parent / MSP_FILE
    if shared.exists():
        digest.update(b"\0" + shared.read_bytes())
    return digest.hexdigest()


def resolve_path(customer_or_path: str | Path) -> Path:
    """parameters/<customer>.yml, or a path given directly."""
    p = Path(customer_or_path)
    if p.suffix in (".yml", ".yaml"):
        return p if p.is_absolute() else (Path.cwd() / p)
    return parameters_dir() / f"{customer_or_path}.yml"


def parameters_dir() -> Path:
    """Where customer parameter files live ($RUNBOOK_PARAMETERS_DIR or <project>/parameters)."""
    return Path(os.environ.get(PARAMETERS_ENV) or PROJECT_ROOT / "parameters")


def display_path(path: Path) -> str:
    """A path relative to the project root when inside it (never a home path in messages)."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return path.name


def load(customer_or_path: str | Path) -> Parameters:
    """Read and validate a parameter file; ParameterError lists every problem with its fix."""
    path = resolve_path(customer_or_path)
    shown = display_path(path)
    if not path.exists():
        raise ParameterError(
            f"{shown}: no such parameter file. Fix: copy parameters/template.yml to {shown} and fill it in."
        )
    if path.name == MSP_FILE:
        raise ParameterError(
            f"{shown}: holds the MSP's settings shared by the customer files beside it, not a customer. Fix: name a customer (parameters/<customer>.yml)."
        )
    data = _read_mapping(path, shown)
    msp_path = path.parent / MSP_FILE
    if msp_path.exists():
        data = _with_msp_settings(data, msp_path)
    unresolved = _resolve_vault_names(data, shown)
    problems = [
        f"{shown}: field '{p}' holds a literal secret. Fix: secrets never live in parameters; give a reference such as {{env: NAME}}, {{keyvault: URL}} or {{passwordstate: ID}}."
        for p in find_literal_secrets(data)
    ]
    problems += [
        f"{shown}: field '{p}' holds what looks like a secret ({kind}). Fix: remove it; parameters hold only references ({{env: NAME}}, {{keyvault: URL}}, {{passwordstate: ID}}) and the value goes to the secret store."
        for p, kind in find_secret_values(data, known_secret_values())
    ]
    if problems:
        raise ParameterError("\n".join(dict.fromkeys(problems)))
    problems += list(unresolved.values())
    problems += [
        f"{shown}: field '{p}' still holds the template's placeholder '{_at(data, p)}'. Fix: put the customer's real value (see parameters/template.yml)."
        for p in find_placeholders(data)
    ]
    if data.get("customer") != path.stem:
        problems.append(
            f"{shown}: field 'customer' is '{data.get('customer')}' but the file is {path.name}. Fix: {FIXES['customer']}."
        )
    try:
        params = Parameters.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            p = _field_path(err["loc"])
            if any(p == u or p.startswith(u + ".") for u in unresolved):
                continue  # said above: the secret's name with no vault to find it in
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                msg = "is missing"
            elif err["type"] == "extra_forbidden":
                msg = "is not a known field (a typo?)"
            sep = " " if msg.startswith(("is ", "holds ")) else ": "
            problems.append(f"{shown}: field '{p}'{sep}{msg}. Fix: {_fix_for(p)}.")
        raise ParameterError("\n".join(problems)) from None
    if problems:
        raise ParameterError("\n".join(problems))
    return params


def check_sign_in_refs(params: Parameters) -> None:
    """The references a run reads before it can do anything (the runbook's own client secret, the Passwordstate API
    key) resolve: an environment variable that is set, a file that exists. ParameterError (exit 2) names each one
    that does not, before any call; stores the run writes to, and credentials Stage 3 only looks up, are not read."""
    shown = display_path(resolve_path(params.customer))
    uses_passwordstate = any(r.passwordstate for r in (*params.secret_refs(), *(c.store for c in params.credentials)))
    refs = [
        ("credential.client_secret", params.credential.client_secret if params.credential else None),
        (
            "msp.passwordstate.api_key",
            params.msp.passwordstate.api_key if params.msp.passwordstate and uses_passwordstate else None,
        ),
    ]
    problems = []
    for field, ref in refs:
        if ref is None:
            continue
        if ref.env and not os.environ.get(ref.env):
            problems.append(
                f"{shown}: field '{field}' names the environment variable {ref.env}, which is not set. Fix: export {ref.env} (from the MSP's vault) before the run, or give another reference."
            )
        if ref.file:
            from ..adapters.secrets import file_path

            if not file_path(ref).exists():
                problems.append(
                    f"{shown}: field '{field}' names the file {ref.file}, which does not exist. Fix: put the secret there (mode 0600) or give another reference."
                )
    if problems:
        raise ParameterError("\n".join(problems))


def _read_mapping(path: Path, shown: str) -> dict:
    try:
        data = yaml.load(path.read_text(), Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ParameterError(f"{shown}: not valid YAML ({exc}). Fix: check indentation and quoting.") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{shown}: expected a mapping of fields. Fix: start from parameters/template.yml.")
    return data


def _with_msp_settings(data: dict, msp_path: Path) -> dict:
    """The customer's data over the MSP's shared settings: msp.yml's `msp:` block, each field the customer file's
    own `msp:` block gives replacing it. msp.yml is checked on its own first, its problems named in it."""
    shown = display_path(msp_path)
    settings = _read_mapping(msp_path, shown)
    unknown = sorted(set(settings) - {"msp"})
    problems = [
        f"{shown}: field '{k}' is not a known field (msp.yml holds only the msp: block). Fix: move it to the customer files."
        for k in unknown
    ]
    block = settings.get("msp")
    if not isinstance(block, dict):
        problems.append(f"{shown}: field 'msp' is missing. Fix: {FIXES['msp']}.")
    else:
        problems += [
            f"{shown}: field '{p}' holds a literal secret. Fix: give a reference."
            for p in find_literal_secrets(settings)
        ]
        try:
            Msp.model_validate(block)
        except ValidationError as exc:
            for err in exc.errors():
                p = _field_path(("msp", *err["loc"]))
                msg = "is missing" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = "is not a known field (a typo?)"
                sep = " " if msg.startswith(("is ", "holds ")) else ": "
                problems.append(f"{shown}: field '{p}'{sep}{msg}. Fix: {_fix_for(p)}.")
    if problems:
        raise ParameterError("\n".join(problems))
    own = data.get("msp")
    return {**data, "msp": {**(block if isinstance(block, dict) else {}), **(own if isinstance(own, dict) else {})}}


def _resolve_vault_names(data: dict, shown: str) -> dict[str, str]:
    """`{keyvault: <secret name>}` names a secret in the MSP's vault (msp.key_vault): rewritten to its URL in place;
    when no vault is set, the problem per reference (by the reference's field path)."""
    msp = data.get("msp") if isinstance(data.get("msp"), dict) else {}
    vault = str((msp or {}).get("key_vault") or "").rstrip("/")
    problems: dict[str, str] = {}

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            ref = node.get("keyvault")
            if isinstance(ref, str) and len(node) == 1 and _SECRET_NAME.match(ref):
                if vault:
                    node["keyvault"] = f"{vault}/secrets/{ref}"
                else:
                    problems[path] = (
                        f"{shown}: field '{path}.keyvault' names the secret '{ref}' but no vault is set. Fix: set msp.key_vault (https://<vault>.vault.azure.net) in parameters/{MSP_FILE}, or give the secret's full URL."
                    )
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")

    walk(data, "")
    return problems


def _at(data: object, path: str) -> object:
    node = data
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
    return node


def check_sandbox_tenant(params: Parameters, connection_file: Path) -> None:
    """A sandbox target's tenant must be the running sandbox's (else the run would talk to the wrong tenant)."""
    import json as _json

    try:
        tenant = _json.loads(connection_file.read_text())["tenant_id"]
    except (OSError, ValueError, KeyError):
        return  # no readable sandbox: the run reports that when it connects
    if params.target == "sandbox" and tenant.lower() != params.tenant_id.lower():
        raise ParameterError(
            f"parameters/{params.customer}.yml: field 'tenant_id' is {params.tenant_id} but the running sandbox serves tenant {tenant}. Fix: use the sandbox's tenant for a sandbox customer, or set target: azure for a real tenant."
        )
