"""The stage notebooks as files: generated from the catalogue, stripped of outputs by the git filter, the named
kernel and the warm kernel a batch of stages shares (kernels), engineers' working copies. May import: customer, adapters,
errors."""
