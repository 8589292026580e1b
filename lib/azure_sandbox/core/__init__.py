"""The protocol core of the sandbox: HTTP values, identity, routing, authorization, validation, state, server."""
