"""Recorded dynamic call trees of an adjoint run, and their aggregation.

A profiled adjoint run is summarised as a tree of `CallNode`s: one node per dynamic call instance
of a user function, the root being the differentiated function itself.  Each node records the
bytes its *own* forward sweep pushes onto the tape between its child calls, the bytes of the
snapshot its caller takes when its call site is checkpointed, and four times.

Checkpointing semantics (what the runtime does)
-----------------------------------------------
A placement ``P`` maps call-site ids to ``True`` (checkpointed, "joint") or ``False`` (split);
missing ids are checkpointed.  The root always runs as one forward sweep followed by one backward
sweep.  For a node ``v`` with children ``c_0 .. c_{n-1}`` and ``gaps[0..n]``:

* forward sweep of ``v``: push ``gaps[0]``; then for each child ``c_i``: if ``P[site(c_i)]`` push
  the snapshot (``snapshot_bytes(c_i)``) and run the primal of ``c_i`` (pushes nothing), else run
  the forward sweep of ``c_i`` (which leaves ``Total(c_i)`` bytes on the stack); then push
  ``gaps[i+1]``.
* backward sweep of ``v``: pops in exactly the reverse order.  When it reaches ``c_i``: if
  checkpointed, pop the snapshot, rerun the forward sweep of ``c_i`` (same placement), then its
  backward sweep; if split, run the backward sweep of ``c_i`` on the tape left by its forward sweep.

Hence, with ``contrib(c) = snapshot_bytes(c) if P[site(c)] else Total(c)``:

    Total(v)  = sum(gaps(v)) + sum_i contrib(c_i)                 (bytes v leaves on the stack)
    pre_i(v)  = sum_{j<=i} gaps[j] + sum_{j<i} contrib(c_j)         (stack above v's base just
                                                                     before c_i's contribution)
    X_i       = max(snapshot_bytes(c_i), Pk(c_i)) if P[site(c_i)] else Pk(c_i)
    Pk(v)     = max(Total(v), max_i (pre_i(v) + X_i))               (peak above v's base over
                                                                     v's forward and backward sweep)

and the whole-run peak is ``Pk(root)``.  Derivation: forward sweeps only push, so during v's
forward sweep the stack rises monotonically to ``Total(v)`` (a split child's forward sweep is part
of it, a checkpointed child's primal run pushes nothing).  In v's backward sweep, when c_i is
reached the stack is back to ``pre_i + contrib(c_i)``; for a split child the backward sweep of c_i
starts on top of ``pre_i`` with c_i's own tape, reaching at most ``pre_i + Pk(c_i)`` (``Pk(c_i)``
covers both its forward sweep and its backward sweep); for a checkpointed child the stack holds
``pre_i + snapshot``, the snapshot is popped, and the recomputed forward sweep plus backward sweep
of c_i reach ``pre_i + Pk(c_i)``.  Between children only pops happen.  Note that the snapshot term
in ``X_i`` never decides the maximum: ``pre_i + snapshot_bytes(c_i) <= Total(v)``.

Time: ``T(P) = sum_v (t_fwd(v) + t_bwd(v)) + sum_{v != root, P[site(v)]} (t_primal(v) + t_snapshot(v) - t_saved(v))``.
``t_saved`` is nonzero only for a call whose recomputation was skipped because its tape would
have been empty (see `nbadjoint.transform.shapes`): its forward sweep is then estimated by its
primal run, and a checkpointed instance does not spend it.
Each checkpointed instance adds one primal run of its whole subtree; ``t_primal`` is inclusive, so
nested checkpointed levels multiply naturally.  T is separable: splitting a site saves the summed
``t_primal + t_snapshot`` of its instances whatever else is chosen.  (A run that split a site
never ran those instances' primal; whoever builds the tree must fill ``t_primal`` from a primal
run, or that site's saving reads as zero.)

Aggregation
-----------
`aggregate` turns a `CallNode` tree into an `AggregatedTree`: structurally identical subtrees
(same site, gaps, snapshot bytes and children) are stored once (hash-consing), and runs of
consecutive identical ``(child, gap after it)`` pairs are stored once with a repeat count, so a
time loop of 10^4 identical steps costs a handful of nodes.  A periodic sequence of children (say
nine plain steps, then one step that also writes output, a thousand times) is stored as a *group*
node (site ``"<group>"``) holding one period, repeated: a group is not a call, it is always
transparent (contributes its Total, peaks at its Pk), which is exactly the inlined sequence.
Times of merged instances are summed per unique node, so every per-site time total, and therefore
``T``, is exactly the sum over the recorded instances.  All traversals are iterative: trees may be
10^5 nodes deep.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from nbadjoint.ids import ROOT_ID as ROOT_SITE      # the root's id (it is not a call site)

GROUP_SITE = "<group>"      # a repeated block of children, not a call: see `aggregate`
MAX_BLOCK = 16              # longest block of segments searched for periodic repetition

TIME_FIELDS = ("t_primal", "t_snapshot", "t_fwd", "t_bwd", "t_saved")   # the times of a call-tree node


@dataclass(eq=False)
class CallNode:
    site: str                 # call-site id "caller:lineno:callee"; ROOT_SITE for the root
    gaps: list[int]           # bytes this instance's OWN forward sweep pushes: before child 0, between children, after the last child (len == len(children)+1)
    children: list["CallNode"]
    snapshot_bytes: int = 0   # bytes its snapshot takes when its site is checkpointed (pushed by the caller in the caller's forward sweep, popped just before the recomputation)
    t_primal: float = 0.0     # inclusive primal run time of this instance (s)
    t_snapshot: float = 0.0   # snapshot write + read time (s), paid only when checkpointed
    t_fwd: float = 0.0        # exclusive forward-sweep time (children excluded)
    t_bwd: float = 0.0        # exclusive backward-sweep time (children excluded)
    t_saved: float = 0.0      # forward-sweep time a checkpointed instance does not spend (its recomputation was skipped: nothing to tape)

    def iter_nodes(self):
        """Yield every node of the tree in pre-order (iteratively)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def validate(self) -> None:
        """Raise ValueError if any node breaks the shape rules (gaps length, negative bytes)."""
        for node in self.iter_nodes():
            _check_node(node)

    def to_dict(self) -> dict:
        """Nested plain-dict form, JSON-serialisable (built iteratively)."""
        out = _node_dict(self)
        stack = [(self, out)]
        while stack:
            node, d = stack.pop()
            for child in node.children:
                cd = _node_dict(child)
                d["children"].append(cd)
                stack.append((child, cd))
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "CallNode":
        """Inverse of `to_dict` (built iteratively); validates every node."""
        root = _node_from_dict(data)
        stack = [(root, data)]
        while stack:
            node, d = stack.pop()
            for cd in d.get("children", ()):
                child = _node_from_dict(cd)
                node.children.append(child)
                stack.append((child, cd))
        root.validate()
        return root


def _node_dict(node: CallNode) -> dict:
    d = {"site": node.site, "gaps": [int(g) for g in node.gaps],
         "snapshot_bytes": int(node.snapshot_bytes)}
    for name in TIME_FIELDS:
        d[name] = float(getattr(node, name))
    d["children"] = []
    return d


def _node_from_dict(d: dict) -> CallNode:
    try:
        return CallNode(site=str(d["site"]), gaps=[int(g) for g in d["gaps"]], children=[],
                        snapshot_bytes=int(d.get("snapshot_bytes", 0)),
                        **{name: float(d.get(name, 0.0)) for name in TIME_FIELDS})
    except KeyError as exc:
        raise ValueError(f"call-tree node dict is missing the key {exc.args[0]!r}; "
                         f"expected keys site, gaps, children (and optional bytes/times)") from None


def _check_node(node: CallNode) -> None:
    if len(node.gaps) != len(node.children) + 1:
        raise ValueError(
            f"call-tree node {node.site!r} has {len(node.children)} children but {len(node.gaps)} "
            f"gaps; gaps must hold one entry before each child plus one after the last "
            f"(len(gaps) == len(children) + 1)")
    if node.snapshot_bytes < 0 or any(g < 0 for g in node.gaps):
        raise ValueError(f"call-tree node {node.site!r} has negative byte counts "
                         f"(gaps={node.gaps}, snapshot_bytes={node.snapshot_bytes})")


class UniqueNode:
    """One distinct subtree of an `AggregatedTree`.

    ``segments`` is a tuple of ``(child index, gap after it, repeat count)``: the children sequence
    ``gap0, c_0, g_1, c_1, g_2, ...`` with runs of identical consecutive ``(c_i, g_{i+1})`` pairs
    stored once.  A child may be a group (site ``"<group>"``): one period of a repeated block of
    segments, transparent to the cost model.  ``count`` is the number of recorded instances merged
    into this node (0 for a group) and the four times are summed over them.
    """

    __slots__ = ("site", "snapshot_bytes", "gap0", "segments", "count") + TIME_FIELDS

    def __init__(self, site, snapshot_bytes, gap0, segments, count=0,
                 t_primal=0.0, t_snapshot=0.0, t_fwd=0.0, t_bwd=0.0, t_saved=0.0):
        self.site = site
        self.snapshot_bytes = snapshot_bytes
        self.gap0 = gap0
        self.segments = segments
        self.count = count
        self.t_primal = t_primal
        self.t_snapshot = t_snapshot
        self.t_fwd = t_fwd
        self.t_bwd = t_bwd
        self.t_saved = t_saved

    def to_dict(self) -> dict:
        return {"site": self.site, "snapshot_bytes": self.snapshot_bytes, "gap0": self.gap0,
                "segments": [list(s) for s in self.segments], "count": self.count,
                **{name: getattr(self, name) for name in TIME_FIELDS}}

    def __repr__(self):
        return (f"UniqueNode(site={self.site!r}, count={self.count}, gap0={self.gap0}, "
                f"segments={self.segments!r})")


@dataclass
class SiteTotals:
    """Placement-independent figures of one call site, summed over its recorded instances."""
    id: str
    calls: int = 0
    t_primal: float = 0.0
    t_snapshot: float = 0.0
    t_fwd_excl: float = 0.0
    t_bwd_excl: float = 0.0
    t_saved: float = 0.0           # recomputation time checkpointed instances do not spend
    snapshot_bytes: int = 0        # summed over instances (snapshot traffic when checkpointed)
    snapshot_bytes_max: int = 0    # largest single snapshot

    @property
    def delta_t(self) -> float:
        """Run time saved by splitting this site: its summed primal and snapshot time, less the
        recomputations a checkpointed call skips."""
        return self.t_primal + self.t_snapshot - self.t_saved


@dataclass(eq=False)
class AggregatedTree:
    """A call tree with identical subtrees shared and repeated children run-length encoded.

    ``nodes`` is in topological order, children before parents; ``root`` is the root's index
    (always the last one).  ``sites`` lists the distinct non-root site ids in order of first
    completion.
    """
    nodes: list[UniqueNode]
    root: int
    sites: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.sites:
            seen = {}
            for u in self.nodes:
                if u.site not in (ROOT_SITE, GROUP_SITE):
                    seen.setdefault(u.site, None)
            self.sites = list(seen)

    @property
    def instances(self) -> int:
        """Number of recorded call instances (root included)."""
        return sum(u.count for u in self.nodes)

    def site_totals(self) -> dict[str, SiteTotals]:
        """Per-site calls, summed times and snapshot bytes (placement independent)."""
        out = {s: SiteTotals(id=s) for s in self.sites}
        for u in self.nodes:
            if u.site in (ROOT_SITE, GROUP_SITE):
                continue
            st = out[u.site]
            st.calls += u.count
            st.t_primal += u.t_primal
            st.t_snapshot += u.t_snapshot
            st.t_fwd_excl += u.t_fwd
            st.t_bwd_excl += u.t_bwd
            st.t_saved += u.t_saved
            st.snapshot_bytes += u.count * u.snapshot_bytes
            st.snapshot_bytes_max = max(st.snapshot_bytes_max, u.snapshot_bytes)
        return out

    def expand(self) -> CallNode:
        """Rebuild a plain `CallNode` tree; merged instances get the mean of their times."""
        def make(u: UniqueNode) -> CallNode:
            n = max(u.count, 1)
            return CallNode(site=u.site, gaps=[u.gap0], children=[], snapshot_bytes=u.snapshot_bytes,
                            **{name: getattr(u, name) / n for name in TIME_FIELDS})

        root = make(self.nodes[self.root])
        stack = [(root, self.nodes[self.root])]
        while stack:
            node, u = stack.pop()
            uids: list[int] = []
            self._inline(u, uids, node.gaps)
            for c in uids:
                child = make(self.nodes[c])
                node.children.append(child)
                stack.append((child, self.nodes[c]))
        return root

    def _inline(self, u: UniqueNode, uids: list, gaps: list) -> None:
        """Append u's children (groups inlined) to ``uids`` and the gaps after them to ``gaps``."""
        for c, gap, k in u.segments:
            cu = self.nodes[c]
            for _ in range(k):
                if cu.site == GROUP_SITE:
                    gaps[-1] += cu.gap0
                    self._inline(cu, uids, gaps)
                    gaps[-1] += gap
                else:
                    uids.append(c)
                    gaps.append(gap)

    def to_dict(self) -> dict:
        return {"format": "nbadjoint.aggregated-call-tree", "version": 1, "root": self.root,
                "nodes": [u.to_dict() for u in self.nodes]}

    @classmethod
    def from_dict(cls, data: dict) -> "AggregatedTree":
        try:
            nodes = []
            for i, d in enumerate(data["nodes"]):
                segs = tuple((int(c), int(g), int(k)) for c, g, k in d["segments"])
                for c, _g, k in segs:
                    if not 0 <= c < i or k < 1:
                        raise ValueError(f"aggregated call-tree node {i} has an invalid segment "
                                         f"(child {c}, count {k}); children must come before "
                                         f"their parents and counts must be >= 1")
                nodes.append(UniqueNode(str(d["site"]), int(d["snapshot_bytes"]), int(d["gap0"]),
                                        segs, int(d["count"]),
                                        *(float(d[name] if name != "t_saved" else d.get(name, 0.0))
                                          for name in TIME_FIELDS)))
            root = int(data["root"])
        except KeyError as exc:
            raise ValueError(f"aggregated call-tree dict is missing the key {exc.args[0]!r}") from None
        if root != len(nodes) - 1:
            raise ValueError(f"aggregated call-tree root index {root} must be the last node "
                             f"({len(nodes) - 1})")
        return cls(nodes=nodes, root=root)


def aggregate(tree: "CallNode | AggregatedTree") -> AggregatedTree:
    """Hash-cons identical subtrees and run-length encode repeated children (iterative).

    An `AggregatedTree` is returned unchanged, so callers may pass either form.
    """
    if isinstance(tree, AggregatedTree):
        return tree
    if not isinstance(tree, CallNode):
        raise TypeError(f"expected a CallNode or AggregatedTree, got {type(tree).__name__}")
    interned: dict = {}
    nodes: list[UniqueNode] = []
    stack = [(tree, [])]
    root_uid = -1
    while stack:
        node, uids = stack[-1]
        if len(uids) < len(node.children):
            stack.append((node.children[len(uids)], []))
            continue
        stack.pop()
        _check_node(node)
        segments = []
        for uid, gap in zip(uids, node.gaps[1:]):
            gap = int(gap)
            if segments and segments[-1][0] == uid and segments[-1][1] == gap:
                segments[-1][2] += 1
            else:
                segments.append([uid, gap, 1])
        segs = _compress_blocks([tuple(s) for s in segments], interned, nodes)
        key = (node.site, int(node.snapshot_bytes), int(node.gaps[0]), segs)
        uid = interned.get(key)
        if uid is None:
            uid = len(nodes)
            interned[key] = uid
            nodes.append(UniqueNode(key[0], key[1], key[2], key[3]))
        u = nodes[uid]
        u.count += 1
        # the TIME_FIELDS, written out: this runs once per recorded call
        u.t_primal += node.t_primal
        u.t_snapshot += node.t_snapshot
        u.t_fwd += node.t_fwd
        u.t_bwd += node.t_bwd
        u.t_saved += node.t_saved
        if stack:
            stack[-1][1].append(uid)
        else:
            root_uid = uid
    # The root is completed last, so it is the last interned node unless an identical subtree
    # was interned before (impossible: a tree cannot contain a copy of itself).
    assert root_uid == len(nodes) - 1
    for u in nodes:
        if not math.isfinite(sum(getattr(u, name) for name in TIME_FIELDS)):
            raise ValueError(f"call-tree node {u.site!r} has a non-finite time")
    return AggregatedTree(nodes=nodes, root=root_uid)


def _compress_blocks(segments: list, interned: dict, nodes: list) -> tuple:
    """Replace runs of a repeated block of segments by one group node repeated (left to right)."""
    n = len(segments)
    if n < 4:
        return tuple(segments)
    out = []
    i = 0
    while i < n:
        best_len, best_reps = 0, 0
        for length in range(2, MAX_BLOCK + 1):
            if i + 2 * length > n:
                break
            block = segments[i:i + length]
            reps = 1
            while segments[i + reps * length:i + (reps + 1) * length] == block:
                reps += 1
            if reps >= 2 and reps * length > best_len * best_reps:
                best_len, best_reps = length, reps
        if not best_reps:
            out.append(segments[i])
            i += 1
            continue
        block = tuple(segments[i:i + best_len])
        key = (GROUP_SITE, 0, 0, block)
        gid = interned.get(key)
        if gid is None:
            gid = len(nodes)
            interned[key] = gid
            nodes.append(UniqueNode(GROUP_SITE, 0, 0, block))
        out.append((gid, 0, best_reps))
        i += best_len * best_reps
    return tuple(out)


def tree_from_dict(data: dict) -> AggregatedTree:
    """Read either JSON form (nested `CallNode.to_dict` or `AggregatedTree.to_dict`)."""
    if data.get("format") == "nbadjoint.aggregated-call-tree":
        return AggregatedTree.from_dict(data)
    return aggregate(CallNode.from_dict(data))
