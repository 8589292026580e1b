"""The automated checklist items: one module per item over one base (inspect, plan, apply, verify), registered by
item id in REGISTRY. May import: evidence, customer, adapters, errors."""

from __future__ import annotations

from .access import MspAccess
from .advisor import AdvisorEverythingEnabled
from .app_registration import AppRegistration
from .backup import BackupDeployed
from .base import Step
from .budget import BudgetAlert
from .credentials import CredentialsStored
from .defender import DefenderEnabled
from .documentation import CustomerDocumentation
from .exact import FirstInvoice, InvoiceRun
from .handover import AdvisorInsight, LicenceAdmin, PolicyDashboardInsight
from .hubspot import HubSpotContacts
from .iac import IacPushed
from .lighthouse import LighthouseOffer
from .monitoring import MonitoringAlerting
from .parc_report import ParcReport
from .partner_center import CspContract, PartnerCenterBudget
from .patching import PatchingDeployed
from .policy import PolicyBaseline
from .tagging import TagManagedResources, TagSheetResources
from .topdesk import TopdeskContacts, TopdeskSla

#: Automated steps (and connector checks) by checklist item id; items not listed here are attested by a person.
REGISTRY: dict[str, type[Step]] = {
    cls.item_id: cls
    for cls in (
        MspAccess,
        AppRegistration,
        TagManagedResources,
        MonitoringAlerting,
        InvoiceRun,
        BudgetAlert,
        HubSpotContacts,
        TopdeskContacts,
        TopdeskSla,
        CspContract,
        PartnerCenterBudget,
        AdvisorEverythingEnabled,
        DefenderEnabled,
        TagSheetResources,
        LighthouseOffer,
        PolicyBaseline,
        PatchingDeployed,
        BackupDeployed,
        IacPushed,
        CredentialsStored,
        PolicyDashboardInsight,
        AdvisorInsight,
        LicenceAdmin,
        FirstInvoice,
        CustomerDocumentation,
        ParcReport,
    )
}
