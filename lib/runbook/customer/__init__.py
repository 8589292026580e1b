"""The customer and the checklist: the catalogue of checklist items, a customer's parameters, the Manageable Resource
Sheet, the agreed schedules, and the SDK clients its parameters name. May import: adapters, errors."""
