"""DeepCausalMMM-style marketing mix modelling in torch, usable on its own (no Dagster, no DuckDB).

    from mmm_core import MMM, load_panel, response_curves, plan_scenarios
    panel = load_panel("data/sample/spec.yaml")
    mmm = MMM().fit(panel)

The layers are sub-packages: ``data`` (contract, spec, io, calendar) <- ``model`` (transforms, components,
network, priors, training, estimator, persistence) <- ``analysis`` (metrics, backtest, curves) <-
``planning`` (budget optimiser, constraints, scenarios); ``simulation`` (simulator with ground truth,
outside generator, recovery scores) and ``report`` (figures, dashboard) sit beside them. The public
names below are imported on first use (PEP 562), so ``import mmm_core.report.figures`` or
``mmm_core.data.io`` stays light and never loads torch.
"""

from importlib import import_module

_PUBLIC = {
    "Panel": "mmm_core.data.contract", "DataContractError": "mmm_core.data.contract",
    "DatasetSpec": "mmm_core.data.spec", "ChannelSpec": "mmm_core.data.spec", "load_panel": "mmm_core.data.io",
    "MMM": "mmm_core.model.estimator", "NotFittedError": "mmm_core.model.estimator",
    "ModelConfig": "mmm_core.model.network", "TrainConfig": "mmm_core.model.training",
    "Decomposition": "mmm_core.model.decomposition",
    "forecast_report": "mmm_core.analysis.metrics", "fit_with_holdout": "mmm_core.analysis.backtest",
    "response_curves": "mmm_core.analysis.curves",
    "optimise_budget": "mmm_core.planning.budget", "BudgetScenario": "mmm_core.planning.constraints",
    "SpendBounds": "mmm_core.planning.constraints", "plan_scenarios": "mmm_core.planning.scenarios",
    "simulate": "mmm_core.simulation.simulator", "SimulationConfig": "mmm_core.simulation.simulator",
    "PRESETS": "mmm_core.simulation.simulator",
    "build_report": "mmm_core.report.dashboard", "write_report": "mmm_core.report.dashboard",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'mmm_core' has no attribute {name!r}")
