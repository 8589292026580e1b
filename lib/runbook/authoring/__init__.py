"""The stage notebooks as files: generated from the catalogue, stripped of outputs by the git filter, the named
kernel, engineers' working copies. May import: customer, adapters, errors."""
