"""Channel graph: NOTEARS acyclicity, pruning to an exact DAG, counterfactual propagation, that the
structure loss finds the direction of an edge from data (not from column order), and that only edges the
bootstrap supports are kept."""

import numpy as np
import pytest
import torch

from mmm_core.model.dag import (BLOCK_WEEKS, MIN_SUPPORT, ChannelDag, acyclicity, edge_support, fit_structures,
                                lasso_rate, own_activity, prune_to_dag, resample_weights, supported, within_covariance)
from mmm_core.model.estimator import DAG_THRESHOLD
from mmm_core.model.training import TrainConfig
from mmm_core.model.transforms import scale_own_activity


def test_acyclicity_is_zero_for_a_dag_and_positive_for_a_cycle():
    dag = torch.tensor([[0.0, 0.5, 0.2], [0.0, 0.0, 0.7], [0.0, 0.0, 0.0]])
    cycle = dag.clone()
    cycle[2, 0] = 0.3
    assert acyclicity(dag).item() == pytest.approx(0.0, abs=1e-6)
    assert acyclicity(cycle).item() > 1e-3


def test_prune_removes_small_edges_and_the_weakest_edge_of_a_cycle():
    adj = np.array([[0.0, 0.5, 0.05], [0.0, 0.0, 0.6], [0.2, 0.0, 0.0]])
    pruned = prune_to_dag(adj, threshold=0.1)
    assert pruned[0, 2] == 0.0  # below threshold
    assert pruned[2, 0] == 0.0  # weakest edge of the cycle 0 -> 1 -> 2 -> 0
    assert pruned[0, 1] == 0.5 and pruned[1, 2] == 0.6
    assert acyclicity(torch.as_tensor(pruned)).item() == pytest.approx(0.0, abs=1e-9)


def _scale_channel(observed: torch.Tensor, adj: torch.Tensor, channel: int, multiplier: float = 0.0) -> torch.Tensor:
    """``observed`` with one channel's own activity × ``multiplier``, through the model's counterfactual."""
    factor = torch.ones(adj.shape[0], dtype=observed.dtype)
    factor[channel] = multiplier
    return scale_own_activity(observed, own_activity(observed, adj), adj, factor)


def test_removing_a_parent_removes_what_it_caused_in_its_child_only():
    adj = torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    own = torch.tensor([[[2.0, 1.0, 3.0]]], dtype=torch.float64)  # [R=1, T=1, C]
    observed = own + own @ adj  # child 1 gets 0.5 * 2 = 1 induced unit
    np.testing.assert_allclose(own_activity(observed, adj), own)
    without_parent = _scale_channel(observed, adj, channel=0)
    np.testing.assert_allclose(without_parent, [[[0.0, 1.0, 3.0]]])
    without_child = _scale_channel(observed, adj, channel=1)
    np.testing.assert_allclose(without_child, [[[2.0, 1.0, 3.0]]])  # only the child's own unit goes
    doubled = _scale_channel(observed, adj, channel=0, multiplier=2.0)
    np.testing.assert_allclose(doubled, [[[4.0, 3.0, 3.0]]])


def test_upper_triangular_mask():
    dag = ChannelDag(3, upper_triangular=True)
    assert torch.equal(dag.mask, torch.triu(torch.ones(3, 3), diagonal=1))


def _learn(activity: np.ndarray, steps: int = 400) -> np.ndarray:
    torch.manual_seed(0)
    observed = np.ones(activity.shape[:2], bool)
    cov = torch.as_tensor(within_covariance(activity, observed), dtype=torch.float32)
    rows = torch.as_tensor(activity.reshape(-1, activity.shape[-1]), dtype=torch.float32)
    dag = ChannelDag(activity.shape[-1])
    opt = torch.optim.Adam(dag.parameters(), lr=0.03)
    for _ in range(steps):
        opt.zero_grad()
        dag.penalty(cov, rows, l1=0.01, acyclicity_weight=10.0, nonnegativity_weight=10.0).backward()
        opt.step()
        dag.project()
    return dag.adjacency().detach().numpy()


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0)], ids=["parent_first", "parent_last"])
def test_structure_loss_finds_the_edge_direction_whatever_the_column_order(order):
    rng = np.random.default_rng(0)
    R, T = 10, 80
    flighted = rng.gamma(2.0, 0.5, (R, T)) * (rng.random((R, T)) < 0.6)  # parent with dark weeks
    always_on = rng.gamma(8.0, 0.125, (R, T))
    other = rng.gamma(4.0, 0.25, (R, T))
    child = always_on + 0.8 * flighted
    activity = np.stack([flighted, child, other], axis=-1)
    activity = activity / activity.mean(axis=(0, 1))
    perm = list(order)
    adj = _learn(activity[..., perm])
    parent, kid, absent = perm.index(0), perm.index(1), perm.index(2)
    assert adj[parent, kid] > 0.2  # true weight in scaled units: 0.8 * 0.6 / 1.48 = 0.32
    assert abs(adj[kid, parent]) < 0.1
    assert abs(adj[parent, absent]) < 0.1 and abs(adj[absent, kid]) < 0.1


def test_the_graph_penalty_weakens_at_the_lasso_rate_as_rows_grow():
    benchmark = TrainConfig().dag_l1 * lasso_rate(190 * 94, 13)
    large = TrainConfig().dag_l1 * lasso_rate(1000 * 143, 20)
    assert benchmark == pytest.approx(0.01, rel=0.05)  # where the fixed 0.01 was set
    assert large < 0.5 * benchmark  # 7.5x the rows: true edges on big panels are not shrunk away
    assert lasso_rate(4 * 5000, 13) == pytest.approx(lasso_rate(5000, 13) / 2)


def _support(activity: np.ndarray, resamples: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(edges of one structure fit on all the data, pruned at DAG_THRESHOLD; their bootstrap support)."""
    config = TrainConfig()
    observed = np.ones(activity.shape[:2], bool)
    C = activity.shape[-1]
    rows = activity[observed]
    l1 = config.dag_l1 * lasso_rate(*rows.shape)
    mask = torch.ones(C, C) - torch.eye(C)
    cov = torch.as_tensor(within_covariance(activity, observed), dtype=torch.float32)[None]
    one = fit_structures(cov, torch.as_tensor(rows, dtype=torch.float32), None, mask, l1, config.dag_acyclicity,
                         config.dag_nonnegativity, 300, config.learning_rate, config.grad_clip)[0]
    support = edge_support(activity, observed, mask, l1, config.dag_acyclicity, config.dag_nonnegativity,
                           config.learning_rate, config.grad_clip, DAG_THRESHOLD, resamples=resamples, steps=300)
    return prune_to_dag(one.double().numpy(), DAG_THRESHOLD), support


def test_a_true_strong_edge_has_high_support_and_is_kept():
    rng = np.random.default_rng(0)
    R, T = 10, 80
    flighted = rng.gamma(2.0, 0.5, (R, T)) * (rng.random((R, T)) < 0.6)
    child = rng.gamma(8.0, 0.125, (R, T)) + 0.8 * flighted
    other = rng.gamma(4.0, 0.25, (R, T))
    activity = np.stack([flighted, child, other], axis=-1)
    activity = activity / activity.mean(axis=(0, 1))
    edges, support = _support(activity)
    assert edges[0, 1] > 0.2
    assert support[0, 1] >= MIN_SUPPORT and support[1, 0] < 0.2
    kept = supported(edges, support)
    assert kept[0, 1] == edges[0, 1] and np.count_nonzero(kept) == 1
    assert ((support >= 0) & (support <= 1)).all()


def test_an_edge_between_unrelated_channels_resting_on_one_region_is_not_published():
    """Noise channels, independent everywhere except one region where both follow the same burst (a joint
    promotion, not a causal link): one fit on all the data learns an edge, the resamples without that region
    do not, so its support stays low. (On fully independent channels the fit learns no edge at all: the
    non-negativity hinge rules out edges into weeks where the child is low and the parent high.)"""
    rng = np.random.default_rng(0)
    R, T = 10, 60
    activity = rng.gamma(4.0, 0.25, (R, T, 3))
    burst = rng.gamma(1.0, 3.0, T)
    activity[0, :, :2] += burst[:, None]
    activity = activity / activity.mean(axis=(0, 1))
    edges, support = _support(activity)
    assert np.count_nonzero(edges), "one fit on all the data should learn the (false) edge"
    assert not np.count_nonzero(supported(edges, support))
    assert support.max() < MIN_SUPPORT


def test_unknown_support_keeps_the_edges_and_a_region_poor_panel_resamples_blocks_of_weeks():
    adjacency = np.array([[0.0, 0.5], [0.0, 0.0]])
    np.testing.assert_array_equal(supported(adjacency, np.full((2, 2), np.nan)), adjacency)
    np.testing.assert_array_equal(supported(adjacency, np.array([[0.0, 0.5], [0.0, 0.0]])), 0.0 * adjacency)
    observed = np.ones((1, 60), bool)
    weights = resample_weights(observed, 4, np.random.default_rng(0))
    assert weights.shape == (4, 1, 60) and (weights.sum(axis=-1) == BLOCK_WEEKS * 5).all()
    regions = resample_weights(np.ones((8, 10), bool), 4, np.random.default_rng(0))
    assert (regions.sum(axis=(1, 2)) == 80).all() and (regions == regions[..., :1]).all()  # whole regions


def test_the_graph_a_full_fit_learns_is_the_structure_only_fit(tiny_simulation):
    """Why resamples need no KPI model: the network never reads the graph while it trains, so the graph
    after a full fit is ``fit_structures`` after the same steps (no early stopping, no refit here)."""
    from mmm_core.model.estimator import MMM

    panel = tiny_simulation.panel
    config = {"epochs": 40, "min_epochs": 1, "validation_weeks": 0, "threads": 1}
    mmm = MMM(overrides={"train": config}).fit(panel)
    train = mmm.train_config_
    activity = mmm.scaler_.media.forward(panel.activity)
    rows = torch.as_tensor(activity[panel.observed], dtype=torch.float32)
    cov = torch.as_tensor(within_covariance(activity, panel.observed), dtype=torch.float32)[None]
    alone = fit_structures(cov, rows, None, mmm.net_.dag.mask, train.dag_l1 * lasso_rate(*rows.shape),
                           train.dag_acyclicity, train.dag_nonnegativity, 40, train.learning_rate, train.grad_clip)
    np.testing.assert_allclose(alone[0].numpy(), mmm.net_.adjacency().detach().numpy(), atol=1e-4)
    assert mmm.net_.adjacency().abs().max() > 0.05  # the graph moved: the comparison is not between zeros


@pytest.mark.parametrize("weighted", [True, False], ids=["resample weights", "all rows"])
def test_the_structure_problems_closed_form_gradient_is_autograds(weighted):
    from mmm_core.model.dag import structure_loss, structure_loss_gradient

    generator = torch.Generator().manual_seed(0)
    B, n, C = 3, 40, 5
    adjacency = (torch.rand(B, C, C, generator=generator, dtype=torch.float64) * 0.4).requires_grad_(True)
    rows = torch.rand(n, C, generator=generator, dtype=torch.float64)
    covariance = torch.stack([rows.T @ rows / n] * B)
    weights = torch.randint(0, 3, (B, n), generator=generator).double() if weighted else None
    loss = structure_loss(adjacency, covariance, rows, weights, 0.01, 10.0, 10.0).sum()
    expected, = torch.autograd.grad(loss, adjacency)
    torch.testing.assert_close(structure_loss_gradient(adjacency.detach(), covariance, rows, weights, 0.01, 10.0, 10.0),
                               expected, rtol=1e-10, atol=1e-10)
