"""Probe recorder: turns the call-site events of a probed run into a dynamic call tree.

The probed variant of the generated module brackets every call site with
``rec.enter(site, phase)`` / ``rec.leave(site, phase)``; phases are

- ``'P'`` primal run of the callee (in a checkpointed forward sweep the snapshot
  pushes happen inside the bracket, before the call),
- ``'F'`` forward sweep of the callee (a split call in a forward sweep, or the
  recomputation of a checkpointed call inside the caller's backward sweep),
- ``'S'`` snapshot read of a checkpointed call, just before its recomputation,
- ``'B'`` backward sweep of the callee.

The engine brackets the root with ``'<root>'``: ``F`` then ``B`` for an adjoint
run, ``P`` for a primal run.

One :class:`CallNode` is built per dynamic call.  Forward-sweep executions
define the nodes and the tape pushed between child calls (``gaps``); a
checkpointed call is created by its ``P`` bracket (primal time, snapshot bytes)
and filled in by its recomputation, which the backward sweep of its caller
reaches in exactly the reverse order of the forward sweep.

Bytes are counted as pushed.  Only forward sweeps push and backward sweeps only
pop, so the stack size is monotone between two consecutive events and the
largest size seen at an event is the exact peak of the run.
"""

from time import perf_counter

import numpy as np

from nbadjoint.profiling.calltree import ROOT_SITE as ROOT, CallNode
from nbadjoint.runtime.tape import nbytes_of


# Frame kinds.  A frame is a list [kind, node, t_enter, t_children, next_child].
_FWD = 0      # forward sweep of node (pushes go to node.gaps[-1])
_PRIMAL = 1   # primal run of node at a call site (pushes are its snapshot)
_SNAP = 2     # snapshot read of node (pops)
_BWD = 3      # backward sweep of node (pops); frame[4] = index of the next child to reverse

_ndarray = np.ndarray
_float = float
_int = int


class ProbeError(RuntimeError):
    """The probe events of a run do not follow the bracketing protocol."""


class Recorder:
    """Builds the dynamic call tree of one probed run (adjoint or primal) on ``tape``.

    After the run: ``tree`` is the root :class:`CallNode`, ``mode`` is
    ``"adjoint"`` or ``"primal"``, ``peak_bytes`` the exact peak of the stack,
    ``tape_traffic_bytes`` the total bytes pushed, ``events`` the number of
    probe events.
    """

    def __init__(self, tape=None):
        self.tree = None
        self.mode = None
        self.events = 0
        self.peak_bytes = 0
        self.tape_traffic_bytes = 0
        self._frames = []
        self._primal_depth = 0      # nesting depth inside a checkpointed primal run (adjoint mode)
        self._reversed_root = False
        self.attach([] if tape is None else tape)

    def attach(self, tape):
        """Watch ``tape`` (the run's tape list); call before the first event of the run."""
        if self.events:
            raise ProbeError("a Recorder records one run: attach() came after its first event; "
                             "use a fresh Recorder per run and attach the tape before the run")
        self.tape = tape
        cum = [0]
        total = 0
        for value in tape:
            total += nbytes_of(value)
            cum.append(total)
        self._cum = cum             # _cum[i] = bytes of tape[:i]
        self._n = len(tape)
        self.peak_bytes = total

    # -- byte accounting -------------------------------------------------------------------

    def _account(self):
        """Bytes pushed since the previous event, attributed to the innermost open bracket."""
        tape = self.tape
        n = len(tape)
        m = self._n
        if n == m:
            return
        cum = self._cum
        if n > m:
            start = total = cum[m]
            append = cum.append
            for value in tape[m:n]:
                cls = type(value)
                if cls is _ndarray:
                    total += value.nbytes
                elif cls is _float or cls is _int:
                    total += 8
                else:
                    total += nbytes_of(value)
                append(total)
            pushed = total - start
            self.tape_traffic_bytes += pushed
            if total > self.peak_bytes:
                self.peak_bytes = total
            frames = self._frames
            if frames:
                frame = frames[-1]
                kind = frame[0]
                if kind == _FWD:
                    frame[1].gaps[-1] += pushed
                elif kind == _PRIMAL:
                    frame[1].snapshot_bytes += pushed
                elif pushed:
                    raise ProbeError(
                        f"{pushed} tape bytes pushed inside a backward sweep or snapshot read of "
                        f"{frame[1].site!r}; only forward sweeps may push")
        else:
            del cum[n + 1:]
        self._n = n

    # -- events ----------------------------------------------------------------------------

    def enter(self, site, phase):
        if self._primal_depth:
            self._primal_depth += 1
            return
        self.events += 1
        self._account()
        frames = self._frames
        if not frames:
            self._enter_root(site, phase)
            frames[-1][2] = perf_counter()
            return
        frame = frames[-1]
        kind = frame[0]
        parent = frame[1]
        if kind == _FWD:
            node = CallNode(site, [0], [])
            parent.children.append(node)
            parent.gaps.append(0)
            if phase == "F":
                frames.append([_FWD, node, 0.0, 0.0, 0])
            elif phase == "P":
                frames.append([_PRIMAL, node, 0.0, 0.0, 0])
                if self.mode == "adjoint":
                    self._primal_depth = 1
            else:
                raise ProbeError(f"phase {phase!r} of {site!r} inside the forward sweep of "
                                 f"{parent.site!r}; expected 'F' or 'P'")
        elif kind == _BWD:
            index = frame[4]
            if index < 0:
                raise ProbeError(f"{phase!r} event of {site!r} in the backward sweep of "
                                 f"{parent.site!r} after all its calls were reversed")
            node = parent.children[index]
            if node.site != site:
                raise ProbeError(f"the backward sweep of {parent.site!r} reverses {site!r} where "
                                 f"the forward sweep called {node.site!r}")
            if phase == "B":
                frames.append([_BWD, node, 0.0, 0.0, len(node.children) - 1])
            elif phase == "F":
                frames.append([_FWD, node, 0.0, 0.0, 0])
            elif phase == "S":
                frames.append([_SNAP, node, 0.0, 0.0, 0])
            else:
                raise ProbeError(f"phase {phase!r} of {site!r} inside the backward sweep of "
                                 f"{parent.site!r}; expected 'S', 'F' or 'B'")
        elif kind == _PRIMAL:
            # primal mode (a plain primal run): every call is a node
            node = CallNode(site, [0], [])
            parent.children.append(node)
            parent.gaps.append(0)
            frames.append([_PRIMAL, node, 0.0, 0.0, 0])
        else:
            raise ProbeError(f"call {site!r} inside the snapshot read of {parent.site!r}")
        frames[-1][2] = perf_counter()

    def _enter_root(self, site, phase):
        if site != ROOT:
            raise ProbeError(f"first event is {site!r}; the engine must open the run with {ROOT!r}")
        if phase == "P":
            if self.tree is not None:
                raise ProbeError("a primal run after an adjoint run on the same Recorder")
            self.mode = "primal"
            self.tree = CallNode(ROOT, [0], [])
            self._frames.append([_PRIMAL, self.tree, 0.0, 0.0, 0])
        elif phase == "F":
            if self.tree is not None:
                raise ProbeError("two runs on the same Recorder; use one Recorder per run")
            self.mode = "adjoint"
            self.tree = CallNode(ROOT, [0], [])
            self._frames.append([_FWD, self.tree, 0.0, 0.0, 0])
        elif phase == "B":
            if self.mode != "adjoint" or self._reversed_root:
                raise ProbeError(f"{ROOT!r} backward sweep without its forward sweep")
            self._reversed_root = True
            self._frames.append([_BWD, self.tree, 0.0, 0.0, len(self.tree.children) - 1])
        else:
            raise ProbeError(f"unknown phase {phase!r} for {ROOT!r}")

    def leave(self, site, phase):
        t = perf_counter()
        depth = self._primal_depth
        if depth > 1:
            self._primal_depth = depth - 1
            return
        self._primal_depth = 0
        self.events += 1
        self._account()
        frames = self._frames
        frame = frames.pop()
        node = frame[1]
        elapsed = t - frame[2]
        kind = frame[0]
        if kind == _FWD:
            node.t_fwd += elapsed - frame[3]
        elif kind == _BWD:
            node.t_bwd += elapsed - frame[3]
            if frames:
                frames[-1][4] -= 1
        elif kind == _PRIMAL:
            node.t_primal += elapsed
        else:
            node.t_snapshot += elapsed
        if node.site != site:
            raise ProbeError(f"leave({site!r}, {phase!r}) closes the bracket of {node.site!r}")
        if frames:
            frames[-1][3] += elapsed

    # -- results ---------------------------------------------------------------------------

    @property
    def finished(self):
        return self.tree is not None and not self._frames and self._primal_depth == 0


def merge_primal(adjoint_tree, primal_tree, placement):
    """Give split calls of ``adjoint_tree`` the primal times measured in a primal run.

    A checkpointed call already has its primal time (and snapshot bytes) from its
    ``P`` bracket in the forward sweep.  A split call never ran as a primal in the
    adjoint run; its inclusive primal time comes from the instance at the same
    pre-order position of the primal run (the control flow is deterministic).
    """
    adjoint_nodes = list(adjoint_tree.iter_nodes())
    primal_nodes = list(primal_tree.iter_nodes())
    if len(adjoint_nodes) != len(primal_nodes):
        raise ProbeError(
            f"the primal run made {len(primal_nodes) - 1} calls and the adjoint run "
            f"{len(adjoint_nodes) - 1}; the call tree must not depend on anything but the arguments")
    for a, p in zip(adjoint_nodes, primal_nodes):
        if a.site != p.site:
            raise ProbeError(f"the primal run called {p.site!r} where the adjoint run called {a.site!r}")
        if a.site == ROOT or not placement.get(a.site, True):
            a.t_primal = p.t_primal
            if p.snapshot_bytes:
                a.snapshot_bytes = p.snapshot_bytes
    return adjoint_tree
