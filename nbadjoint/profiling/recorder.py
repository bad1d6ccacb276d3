"""Probe recorder: turns the call-site events of a probed run into a dynamic call tree.

The probed variant of the generated module brackets every call site with
``rec.enter(site, phase)`` / ``rec.leave(site, phase)``; phases are

- ``'P'`` primal run of the callee (in a checkpointed forward sweep the snapshot
  pushes happen inside the bracket, before the call),
- ``'F'`` forward sweep of the callee (a split call in a forward sweep, or the
  recomputation of a checkpointed call inside the caller's backward sweep),
- ``'S'`` snapshot read of a checkpointed call, just before its recomputation,
- ``'B'`` backward sweep of the callee;
- ``'K'`` (an empty bracket) the recomputation of a checkpointed call skipped because the
  callee would tape nothing: its forward sweep is taken to cost its primal run, which the
  checkpointed call does not spend again (``t_saved``).

The engine brackets the root with `nbadjoint.ids.ROOT_ID`: ``F`` then ``B`` for an adjoint
run, ``P`` for a primal run.

During the run the probes only log events; afterwards one :class:`CallNode` is
built per dynamic call.  Forward-sweep executions
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

from nbadjoint.errors import ProbeError
from nbadjoint.ids import ROOT_ID as ROOT
from nbadjoint.profiling.calltree import CallNode
from nbadjoint.runtime.tape import nbytes_of


# Frame kinds of the tree builder.  A frame is a list [kind, node, t_enter, t_children, next_child].
_FWD = 0      # forward sweep of node (pushes go to node.gaps[-1])
_PRIMAL = 1   # primal run of node at a call site (pushes are its snapshot)
_SNAP = 2     # snapshot read of node (pops)
_BWD = 3      # backward sweep of node (pops); frame[4] = index of the next child to reverse
_SKIP = 4     # a skipped recomputation of node (nothing happens inside)

_ndarray = np.ndarray
_float = float
_int = int


def _size(value):
    """`nbytes_of` with fast paths for the entries generated code pushes most."""
    cls = type(value)
    if cls is tuple or cls is list:
        total = 0
        for item in value:
            if item is None:
                continue
            kind = type(item)
            if kind is _ndarray:
                total += item.nbytes
            elif kind is tuple or kind is list or kind is dict:
                total += _size(item)
            else:
                total += 8
        return total
    if cls is _ndarray:
        return value.nbytes
    if value is None:
        return 0
    return nbytes_of(value)


class Recorder:
    """Records one probed run (adjoint or primal) on ``tape``; builds its call tree afterwards.

    During the run ``enter`` / ``leave`` only log ``(phase, site, stack bytes, time)`` and keep
    the byte count of the tape up to date (each entry is sized once, when it first appears).
    After the run: ``tree`` is the root `CallNode` (built on first access), ``mode`` is
    ``"adjoint"`` or ``"primal"``, ``peak_bytes`` the exact peak of the stack,
    ``tape_traffic_bytes`` the total bytes pushed, ``events`` the number of probe events.
    """

    __slots__ = ("tape", "_cum", "_n", "_log", "_tree", "_mode", "_start_bytes")

    def __init__(self, tape=None):
        self._log = []
        self._tree = None
        self._mode = None
        self.attach([] if tape is None else tape)

    def attach(self, tape):
        """Watch ``tape`` (the run's tape list); call before the first event of the run."""
        if self._log:
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
        self._start_bytes = total

    # -- events (hot path) -----------------------------------------------------------------

    # The log is one flat list, four items per event: (phase, site, stack bytes, time), phase
    # None for a leave.  Extending a flat list allocates nothing the garbage collector tracks,
    # which keeps the probes cheap on runs with many calls.

    def enter(self, site, phase, _clock=perf_counter):
        self._log.extend((phase, site, self._stack_bytes(), _clock()))

    def leave(self, site, phase, _clock=perf_counter):
        t = _clock()           # before the byte count: the bracket closes when the call returns
        self._log.extend((None, site, self._stack_bytes(), t))

    def _stack_bytes(self):
        """Bytes on the tape now: the running sums are extended over new entries, or cut back."""
        tape = self.tape
        n = len(tape)
        m = self._n
        cum = self._cum
        if n > m:
            total = cum[m]
            append = cum.append
            for value in tape[m:n]:
                if value is not None:
                    cls = type(value)
                    if cls is _ndarray:
                        total += value.nbytes
                    elif cls is _float or cls is _int:
                        total += 8
                    else:
                        total += _size(value)
                append(total)
            self._n = n
        elif n < m:
            del cum[n + 1:]
            self._n = n
        return cum[n]

    # -- results ---------------------------------------------------------------------------

    @property
    def events(self):
        return len(self._log) // 4

    @property
    def peak_bytes(self):
        """Exact peak of the stack: the stack is monotone between events, so the largest
        size seen at an event."""
        return max([self._start_bytes] + self._log[2::4])

    @property
    def tape_traffic_bytes(self):
        """Total bytes pushed: the increases of the stack between consecutive events."""
        sizes = self._log[2::4]
        return sum(b - a for a, b in zip([self._start_bytes] + sizes, sizes) if b > a)

    @property
    def tree(self):
        """The root `CallNode` of the run (None before the first event)."""
        if self._tree is None and self._log:
            self._tree, self._mode = _build(self._log)
        return self._tree

    @property
    def mode(self):
        self.tree
        return self._mode

    @property
    def finished(self):
        """True when the run's brackets all closed (building the tree checks the protocol)."""
        return bool(self._log) and self.tree is not None


def _build(log):
    """Replay an event log into a call tree; returns (root, mode).  Raises ProbeError."""
    frames = []
    root = None
    mode = None
    reversed_root = False
    primal_depth = 0            # nesting inside a checkpointed primal run of an adjoint run
    prev_bytes = log[2]
    items = iter(log)
    for phase, site, nbytes, t in zip(items, items, items, items):
        is_enter = phase is not None
        if primal_depth > 1 or (primal_depth == 1 and is_enter):
            primal_depth += 1 if is_enter else -1
            continue
        pushed = nbytes - prev_bytes
        prev_bytes = nbytes
        if pushed > 0 and frames:
            frame = frames[-1]
            kind = frame[0]
            if kind == _FWD:
                frame[1].gaps[-1] += pushed
            elif kind == _PRIMAL:
                frame[1].snapshot_bytes += pushed
            else:
                raise ProbeError(
                    f"{pushed} tape bytes pushed inside a backward sweep or snapshot read of "
                    f"{frame[1].site!r}; only forward sweeps may push")
        if not is_enter:
            primal_depth = 0
            if not frames:
                raise ProbeError(f"leave({site!r}) without a matching enter")
            frame = frames.pop()
            node = frame[1]
            if node.site != site:
                raise ProbeError(f"leave({site!r}) closes the bracket of {node.site!r}")
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
            elif kind == _SKIP:
                # nothing to tape: its forward sweep would cost what its primal run did
                node.t_fwd += node.t_primal
                node.t_saved += node.t_primal
            else:
                node.t_snapshot += elapsed
            if frames:
                frames[-1][3] += elapsed
            continue
        if not frames:
            if site != ROOT:
                raise ProbeError(f"first event is {site!r}; the engine must open the run with {ROOT!r}")
            if phase == "P" and root is None:
                mode = "primal"
                root = CallNode(ROOT, [0], [])
                frames.append([_PRIMAL, root, t, 0.0, 0])
            elif phase == "F" and root is None:
                mode = "adjoint"
                root = CallNode(ROOT, [0], [])
                frames.append([_FWD, root, t, 0.0, 0])
            elif phase == "B" and mode == "adjoint" and not reversed_root:
                reversed_root = True
                frames.append([_BWD, root, t, 0.0, len(root.children) - 1])
            elif root is not None:
                raise ProbeError("two runs on the same Recorder; use a fresh Recorder per run")
            else:
                raise ProbeError(f"{ROOT!r} opened with phase {phase!r}; expected 'F' or 'P'")
            continue
        frame = frames[-1]
        kind = frame[0]
        parent = frame[1]
        if kind == _FWD:
            node = CallNode(site, [0], [])
            parent.children.append(node)
            parent.gaps.append(0)
            if phase == "F":
                frames.append([_FWD, node, t, 0.0, 0])
            elif phase == "P":
                frames.append([_PRIMAL, node, t, 0.0, 0])
                primal_depth = 1
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
                frames.append([_BWD, node, t, 0.0, len(node.children) - 1])
            elif phase == "F":
                frames.append([_FWD, node, t, 0.0, 0])
            elif phase == "S":
                frames.append([_SNAP, node, t, 0.0, 0])
            elif phase == "K":
                frames.append([_SKIP, node, t, 0.0, 0])
            else:
                raise ProbeError(f"phase {phase!r} of {site!r} inside the backward sweep of "
                                 f"{parent.site!r}; expected 'S', 'F', 'K' or 'B'")
        elif kind == _PRIMAL:
            # a plain primal run: every call is a node
            node = CallNode(site, [0], [])
            parent.children.append(node)
            parent.gaps.append(0)
            frames.append([_PRIMAL, node, t, 0.0, 0])
        else:
            raise ProbeError(f"call {site!r} inside the snapshot read of {parent.site!r}")
    if frames or primal_depth:
        open_sites = ", ".join(repr(f[1].site) for f in frames)
        raise ProbeError(f"the run ended with open probe brackets ({open_sites})")
    return root, mode


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
