"""Channel graph: NOTEARS acyclicity, pruning to an exact DAG, counterfactual propagation, and that
the structure loss finds the direction of an edge from data (not from column order)."""

import numpy as np
import pytest
import torch

from mmm_core.model.dag import (ChannelDag, acyclicity, lasso_rate, own_activity, prune_to_dag, remove_channel,
                          within_covariance)
from mmm_core.model.training import TrainConfig


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


def test_removing_a_parent_removes_what_it_caused_in_its_child_only():
    adj = torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    own = torch.tensor([[[2.0, 1.0, 3.0]]], dtype=torch.float64)  # [R=1, T=1, C]
    observed = own + own @ adj  # child 1 gets 0.5 * 2 = 1 induced unit
    np.testing.assert_allclose(own_activity(observed, adj), own)
    without_parent = remove_channel(observed, adj, channel=0)
    np.testing.assert_allclose(without_parent, [[[0.0, 1.0, 3.0]]])
    without_child = remove_channel(observed, adj, channel=1)
    np.testing.assert_allclose(without_child, [[[2.0, 1.0, 3.0]]])  # only the child's own unit goes
    doubled = remove_channel(observed, adj, channel=0, multiplier=2.0)
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
