"""Balanced partitions of a graph into connected regions.

A multi-source Dijkstra (graph Voronoi) with additive seed offsets tuned to even the regions'
weights, Lloyd moves of the seeds between rounds, then boundary moves from heavy to light
neighbours that keep both regions connected; and the repair that moves stray pieces of a region
to a neighbour. The layout uses it for towns, grids, villages and level-2 grids.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

# --------------------------------------------------------------------------------------------
# graph tools


def graph_regions(adj: sparse.csr_matrix, seeds: np.ndarray, offsets: np.ndarray | None = None):
    """Multi-source Dijkstra: the seed (index into ``seeds``) each node is closest to, or -1.

    ``offsets`` (>= 0) are added to each seed's start distance. Regions are connected in the
    graph, because every node's shortest path comes through a node of the same region.
    """
    n = adj.shape[0]
    k = len(seeds)
    if offsets is None:
        offsets = np.zeros(k)
    super_row = sparse.csr_matrix((offsets + 1e-3, (np.zeros(k, int), seeds)), shape=(1, n + 1))
    big = sparse.vstack([sparse.hstack([adj, sparse.csr_matrix((n, 1))]), super_row]).tocsr()
    dist, pred = csgraph.dijkstra(big, directed=True, indices=n, return_predecessors=True)
    pred = pred[:n].copy()
    reached = np.isfinite(dist[:n])
    # pointer jumping to the seed each node's path starts from
    p = np.where(reached, pred, -9999)
    p[seeds] = seeds
    p = np.where(p == n, np.arange(n), p)
    p = np.where(p < 0, np.arange(n), p)
    for _ in range(64):
        q = p[p]
        if np.array_equal(q, p):
            break
        p = q
    seed_index = np.full(n, -1)
    seed_index[seeds] = np.arange(k)
    root = np.where(reached, seed_index[p], -1)
    return root, dist[:n]


def balanced_partition(rng, adj, xy, weight, k, *, seeds=None, rounds=3, iterations=12, refine_passes=10):
    """Partition a connected graph into ``k`` connected regions of about equal ``weight``.

    A graph Voronoi diagram with additive seed offsets, tuned to even the weights, with Lloyd
    moves of the seeds between rounds; then boundary nodes are moved from heavy regions to
    light neighbours where that keeps both connected.
    """
    n = len(xy)
    if k >= n:
        return np.arange(n)
    if seeds is None:
        p = weight / weight.sum() if weight.sum() > 0 else None
        seeds = rng.choice(n, size=k, replace=False, p=_nonzero_p(p, n))
    seeds = np.asarray(seeds, int).copy()
    target = weight.sum() / k
    best = None
    for rnd in range(rounds):
        offsets = np.zeros(k)
        for _ in range(iterations):
            region, _ = graph_regions(adj, seeds, offsets)
            if (region < 0).any():
                region = _attach_unreached(region, xy)
            w = np.bincount(region, weights=weight, minlength=k)
            score = np.abs(w / target - 1).max()
            if best is None or score < best[0]:
                best = (score, region.copy())
            area = np.bincount(region, minlength=k)
            spread = np.sqrt(
                np.bincount(region, weights=((xy - xy[seeds][region]) ** 2).sum(1), minlength=k) / np.maximum(area, 1)
            )
            offsets += 0.25 * np.maximum(spread, 1.0) * np.clip(w / target - 1, -0.5, 0.5)
            offsets -= offsets.min()
        if rnd < rounds - 1:
            seeds = _lloyd(best[1], xy, weight, k, seeds)
    region = best[1]
    if refine_passes:
        region = _refine(adj, region, weight, xy, k, refine_passes)
    return region


def _refine(adj, region, weight, xy, k, passes):
    """Move boundary nodes from heavier to lighter neighbouring regions, keeping regions connected."""
    region = region.copy()
    indptr, indices = adj.indptr, adj.indices
    w = np.bincount(region, weights=weight, minlength=k)
    target = w.sum() / k
    members = [set() for _ in range(k)]
    for i, r in enumerate(region):
        members[r].add(i)
    coo = adj.tocoo()
    for _ in range(passes):
        a, b = coo.row, coo.col
        ra, rb = region[a], region[b]
        cand = (ra != rb) & (w[ra] > w[rb] + weight[a])
        if not cand.any():
            break
        a, rb = a[cand], rb[cand]
        gain = (w[region[a]] - w[rb]) - weight[a]
        order = np.lexsort((a, -gain))
        moved = 0
        seen = set()
        for i in order:
            node, dst = int(a[i]), int(rb[i])
            if node in seen:
                continue
            src = region[node]
            if src == dst or len(members[src]) <= 1:
                continue
            if not (
                w[src] - weight[node] >= w[dst] + weight[node] - 1e-9
                or abs(w[src] - weight[node] - target) + abs(w[dst] + weight[node] - target)
                < abs(w[src] - target) + abs(w[dst] - target) - 1e-9
            ):
                continue
            if not any(region[j] == dst for j in indices[indptr[node] : indptr[node + 1]]):
                continue
            if not _stays_connected(indptr, indices, members[src], node):
                continue
            seen.add(node)
            members[src].discard(node)
            members[dst].add(node)
            region[node] = dst
            w[src] -= weight[node]
            w[dst] += weight[node]
            moved += 1
        if not moved:
            break
    return region


def _stays_connected(indptr, indices, members, node):
    """Whether ``members`` without ``node`` is still connected (graph given in CSR form)."""
    nbrs = [j for j in indices[indptr[node] : indptr[node + 1]] if j in members and j != node]
    if not nbrs:
        return False
    if len(nbrs) == 1:
        return True
    need = len(members) - 1
    start = nbrs[0]
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for v in indices[indptr[u] : indptr[u + 1]]:
            if v != node and v in members and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == need


def _nonzero_p(p, n):
    if p is None:
        return None
    p = np.maximum(p, 1e-12)
    return p / p.sum()


def _lloyd(region, xy, weight, k, seeds):
    """Move each seed to the node of its region nearest the region's weighted centroid."""
    wsum = np.bincount(region, weights=weight, minlength=k)
    cnt = np.bincount(region, minlength=k)
    wx = np.bincount(region, weights=weight * xy[:, 0], minlength=k)
    wy = np.bincount(region, weights=weight * xy[:, 1], minlength=k)
    ux = np.bincount(region, weights=xy[:, 0], minlength=k) / np.maximum(cnt, 1)
    uy = np.bincount(region, weights=xy[:, 1], minlength=k) / np.maximum(cnt, 1)
    cx = np.where(wsum > 0, wx / np.where(wsum > 0, wsum, 1), ux)
    cy = np.where(wsum > 0, wy / np.where(wsum > 0, wsum, 1), uy)
    d2 = (xy[:, 0] - cx[region]) ** 2 + (xy[:, 1] - cy[region]) ** 2
    order = np.lexsort((d2, region))
    first = np.unique(region[order], return_index=True)[1]
    new = seeds.copy()
    new[region[order][first]] = order[first]
    return new


def _attach_unreached(region, xy):
    bad = region < 0
    if bad.all():
        raise ValueError("no region reached")
    tree = cKDTree(xy[~bad])
    _, j = tree.query(xy[bad])
    out = region.copy()
    out[np.flatnonzero(bad)] = region[np.flatnonzero(~bad)[j]]
    return out


def subgraph(adj, nodes):
    return adj[nodes][:, nodes].tocsr()


# --------------------------------------------------------------------------------------------
# splitting parents into parts


def _split_each(rng, graph, parents, members, xy, weight, counts, labels, start=0):
    """Split each parent's member nodes into its count of balanced, connected parts.

    Writes each part's number (from ``start`` on) into ``labels`` at its nodes; returns the parent
    of every new part, in order, and the next free number.
    """
    owners = []
    next_id = start
    for parent, nodes, k in zip(parents, members, counts):
        lab = _partition_components(rng, subgraph(graph, nodes), xy[nodes], weight[nodes], k)
        labels[nodes] = lab + next_id
        owners += [parent] * (lab.max() + 1)
        next_id += lab.max() + 1
    return owners, next_id


def _partition_components(rng, adj, xy, weight, k):
    """Balanced partition of a graph that should be connected (small stray pieces are attached)."""
    n_comp, comp = csgraph.connected_components(adj, directed=False)
    if n_comp > 1:
        big = np.argmax(np.bincount(comp))
        keep = comp == big
        lab_main = balanced_partition(rng, subgraph(adj, np.flatnonzero(keep)), xy[keep], weight[keep], k)
        lab = np.full(len(xy), -1)
        lab[keep] = lab_main
        return _attach_unreached(lab, xy)
    return balanced_partition(rng, adj, xy, weight, k)


def repair_contiguity(adj, labels, within):
    """Move every stray piece of a region (not its largest) to the neighbouring region, in the
    same ``within`` group, sharing the longest edge with it; atoms touching nothing stay."""
    labels = labels.copy()
    for _ in range(10):
        coo = adj.tocoo()
        same = labels[coo.row] == labels[coo.col]
        g = sparse.csr_matrix((np.ones(same.sum()), (coo.row[same], coo.col[same])), shape=adj.shape)
        n_comp, comp = csgraph.connected_components(g, directed=False)
        valid = labels >= 0
        # largest component of each label (by atom count, ties by lowest component id)
        size = np.bincount(comp, minlength=n_comp)
        comp_label = np.full(n_comp, -1)
        comp_label[comp[valid]] = labels[valid]
        order = np.lexsort((np.arange(n_comp), -size, comp_label))
        keep = np.zeros(n_comp, bool)
        first = np.unique(comp_label[order], return_index=True)[1]
        keep[order[first]] = True
        stray = ~keep[comp] & valid
        isolated = np.asarray(adj.sum(1)).ravel() == 0
        stray &= ~isolated
        if not stray.any():
            break
        # shared edge from each stray component to neighbouring labels
        r, c, w = coo.row, coo.col, coo.data
        m = stray[r] & (labels[c] != labels[r]) & (labels[c] >= 0) & (within[c] == within[r])
        if not m.any():
            break
        key_comp, key_lab = comp[r[m]], labels[c[m]]
        pairs = sparse.coo_matrix((w[m], (key_comp, key_lab)), shape=(n_comp, labels.max() + 1)).tocsr()
        best = np.asarray(pairs.argmax(axis=1)).ravel()
        has = np.asarray(pairs.max(axis=1).todense()).ravel() > 0
        move = stray & has[comp]
        labels[move] = best[comp[move]]
    return labels
