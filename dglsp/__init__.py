"""dglsp: fill code with a text-diffusion model."""

import os

# dglsp never talks to a model hub: every model is a local directory. Set before transformers is imported.
for _switch in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_switch, "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
