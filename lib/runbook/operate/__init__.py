"""What runs across the checklist for a customer, outside one stage: the preflight before any change (and, to come,
drift, the monthly report, the portfolio, batches). May import: steps, evidence, customer, adapters, errors."""
