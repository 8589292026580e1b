"""What talks to the outside: Azure SDK clients and endpoints, ARM pacing, the resource inventory, secret stores,
the customer's git repository, Bicep text, progress output. May import: errors only (never the emulator)."""
