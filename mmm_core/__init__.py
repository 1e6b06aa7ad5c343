"""DeepCausalMMM-style marketing mix modelling in torch, usable on its own (no Dagster, no DuckDB).

    from mmm_core import MMM, load_panel
    panel = load_panel("data/sample/spec.yaml")
    mmm = MMM().fit(panel)

The public names below are imported on first use (PEP 562), so ``import mmm_core.report.figures`` or
``mmm_core.data.io`` stays light and never loads torch.
"""

from importlib import import_module

_PUBLIC = {
    "MMM": "mmm_core.model.estimator", "NotFittedError": "mmm_core.model.estimator",
    "ModelConfig": "mmm_core.model.network", "TrainConfig": "mmm_core.model.training",
    "Panel": "mmm_core.data.contract", "DataContractError": "mmm_core.data.contract",
    "DatasetSpec": "mmm_core.data.spec", "ChannelSpec": "mmm_core.data.spec",
    "Decomposition": "mmm_core.model.decomposition", "load_panel": "mmm_core.data.io",
    "simulate": "mmm_core.simulate.simulator", "SimulationConfig": "mmm_core.simulate.simulator", "PRESETS": "mmm_core.simulate.simulator",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'mmm_core' has no attribute {name!r}")
