"""Training StyleGAN2 on your own images: datasets, losses, augmentation, the loop, snapshots.

Start at `loop.train` (or `stylegan-explorer train`, parsed in `explorer.cli.train`);
`monitor` runs and watches a trainer from another process (the app's Train panel uses it).
"""
