"""Training StyleGAN2 on your own images: datasets, losses, augmentation, the loop, snapshots.

Start at `loop.train` (or `stylegan-explorer train`); `command` holds the CLI glue and
`monitor` runs and watches a trainer from another process (the app's Train panel uses it).
"""
