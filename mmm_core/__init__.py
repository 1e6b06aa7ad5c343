"""DeepCausalMMM-style marketing mix modelling in torch, usable on its own (no Dagster, no DuckDB).

    from mmm_core import MMM, load_panel
    panel = load_panel("data/sample/spec.yaml")
    mmm = MMM().fit(panel)

The public names below are imported on first use (PEP 562), so ``import mmm_core.figures`` or
``mmm_core.io`` stays light and never loads torch.
"""

from importlib import import_module

_PUBLIC = {
    "MMM": "mmm_core.estimator", "NotFittedError": "mmm_core.estimator",
    "ModelConfig": "mmm_core.model", "TrainConfig": "mmm_core.training",
    "Panel": "mmm_core.contract", "DataContractError": "mmm_core.contract",
    "DatasetSpec": "mmm_core.spec", "ChannelSpec": "mmm_core.spec",
    "Decomposition": "mmm_core.decomposition", "load_panel": "mmm_core.io",
    "simulate": "mmm_core.simulate", "SimulationConfig": "mmm_core.simulate", "PRESETS": "mmm_core.simulate",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'mmm_core' has no attribute {name!r}")
