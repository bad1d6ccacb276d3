"""Unit tests of the passes that build and tidy generated sweeps, each on small hand-built input.

- ir.py: what IR statements read and write, and their atoms as fresh ast nodes;
- cleanup.py: prune_inits, propagate_copies, remove_dead_stores, inline_single_uses,
  merge_accumulations, inline_handles, drop_orphan_comments, init_statements (where each must act,
  and where it must not), and a property test: random functions over floats compute the same
  result, pop the same tape entries and make the same calls after every pass;
- cleanup_exprs.py: merge_repeated_products, fold_negations, drop_default_arguments;
- cleanup_none.py: nest_guarded_chains, drop_settled_none_tests;
- sweep_state.py: merging adjoint states;
- liveness.py: the call-tree liveness solve on small programs (tests/passes_models.py);
- plans.py: what reversing each statement of a small program contributes and reads.
"""

import ast
import math
import random
import re
import textwrap

import numpy as np
import pytest

from nbadjoint.transform import cleanup, cleanup_exprs, cleanup_none, ir
from nbadjoint.transform.sweep_ast import Comment
from nbadjoint.transform.sweep_state import DEAD, LIVE, UNKNOWN, _int_literal, _merge, _single_index


def generated(name: str) -> bool:
    return name.endswith("_b")


def fdef(src: str, inits: int = 0) -> ast.FunctionDef:
    """The function of ``src``; its first ``inits`` statements marked as a sweep's initialisations."""
    f = ast.parse(textwrap.dedent(src)).body[0]
    for st in f.body[:inits]:
        st.init = True
    return f


def unparse(node) -> str:
    """``ast.unparse`` of a node that may lack locations (built, not parsed)."""
    return ast.unparse(ast.fix_missing_locations(node))


def body(f) -> str:
    return "\n".join(unparse(st) for st in f.body)


def run(f, *args, ns=None):
    """Compile and call the FunctionDef ``f`` (without its Comment statements)."""
    f = _without_comments(f)
    module = ast.fix_missing_locations(ast.Module([f], []))
    namespace = dict(ns or {})
    exec(compile(module, "<test>", "exec"), namespace)
    return namespace[f.name](*args)


def _without_comments(node):
    from nbadjoint.transform.templates import clone
    node = clone(node)          # (never copy.deepcopy: see test_trees_are_copied_without_deepcopy)

    def strip(stmts):
        out = [s for s in stmts if not isinstance(s, Comment)]
        for s in out:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(s, field, strip(inner) or ([ast.Pass()] if field == "body" else []))
        return out
    node.body = strip(node.body) or [ast.Pass()]
    return node


# == ir.py ==========================================================================================

def test_operands_of_getitem_are_the_base_not_the_index_but_the_statement_reads_both():
    e = ir.GetItem(ir.Name("a"), ir.Index("i + 1", ["i"]))
    assert ir.operands(e) == {"a"}
    assert ir.reads(ir.Assign("t", e)) == {"a", "i"}


def test_operands_skip_constants_and_include_keyword_arguments():
    p = ir.Prim(func=None, name="np.sum", args=[ir.Name("a"), ir.Const("2")], kwargs={"axis": ir.Name("k")})
    assert ir.operands(p) == {"a", "k"}
    assert ir.operands(ir.BinOp(ast.Add, ir.Const("1.0"), ir.Name("b"))) == {"b"}
    assert ir.operands(ir.UnOp(ast.USub, ir.Const("1.0"))) == set()
    assert ir.operands(ir.Build("tuple", [ir.Name("a"), ir.Const("3"), ir.Name("b")])) == {"a", "b"}
    assert ir.operands(ir.BuildDict(["'k'"], [ir.Name("v")])) == {"v"}
    assert ir.operands(ir.Opaque("a < b", ["a", "b"])) == {"a", "b"}
    assert ir.operands(ir.UserCall("g", "f:3:g", [ir.Name("u"), ir.Const("0")])) == {"u"}


def test_setitem_and_append_read_and_write_their_target():
    s = ir.SetItem("x", ir.Index("i", ["i"]), ir.Name("v"))
    assert ir.reads(s) == {"x", "i", "v"}
    assert ir.written(s) == {"x"}
    a = ir.Append("lst", ir.Const("1.0"))
    assert ir.reads(a) == {"lst"}
    assert ir.written(a) == {"lst"}
    assert ir.written(ir.Assign("y", ir.Copy(ir.Name("x")))) == set()


def test_reads_of_compound_statements_are_their_heads_only():
    inner = [ir.Assign("y", ir.Copy(ir.Name("z")))]
    assert ir.reads(ir.If(ir.Name("c"), inner, inner)) == {"c"}
    assert ir.reads(ir.ForRange("i", [ir.Const("0"), ir.Name("n")], inner)) == {"n"}
    assert ir.reads(ir.Loop(inner)) == set()
    assert ir.reads(ir.LoopExit(ir.Name("done"))) == {"done"}
    assert ir.reads(ir.Return(ir.Name("r"))) == {"r"}
    assert ir.reads(ir.Effect("print(a, b)", ["a", "b"])) == {"a", "b"}


def test_assigned_includes_nested_bindings_but_not_container_writes():
    body = [
        ir.Assign("a", ir.Copy(ir.Const("1.0"))),
        ir.If(ir.Name("c"), [ir.Unpack(["p", "q"], ir.Name("t"))], [ir.Assign("r", ir.Copy(ir.Name("a")))]),
        ir.ForRange("i", [ir.Const("3")], [ir.Loop([ir.Assign("w", ir.Copy(ir.Name("a"))),
                                                   ir.LoopExit(ir.Name("c"))])]),
        ir.SetItem("x", ir.Index("0", []), ir.Name("a")),
        ir.Append("lst", ir.Name("a")),
    ]
    assert ir.assigned(body) == {"a", "p", "q", "r", "i", "w"}
    assert [type(s).__name__ for s in ir.walk(body)] == [
        "Assign", "If", "Unpack", "Assign", "ForRange", "Loop", "Assign", "LoopExit", "SetItem", "Append"]


def test_node_of_atoms():
    n = ir.node(ir.Name("u"))
    assert isinstance(n, ast.Name) and n.id == "u" and isinstance(n.ctx, ast.Load)
    c = ir.node(ir.Const("1.5"))
    assert isinstance(c, ast.Constant) and c.value == 1.5
    assert unparse(ir.node(ir.Const("_K[3]"))) == "_K[3]"


def test_parsed_nodes_are_fresh_copies_each_time():
    """The parses are cached: a caller changing its node must not change the next caller's."""
    first = ir.src_node("a + 1")
    first.left.id = "changed"
    assert unparse(ir.src_node("a + 1")) == "a + 1"
    s = ir.stmt_nodes("print(x)\nassert y")
    assert [type(x) for x in s] == [ast.Expr, ast.Assert]
    s[0].value.args[0].id = "changed"
    assert unparse(ir.stmt_nodes("print(x)\nassert y")[0]) == "print(x)"
    index = ir.Index("_t1:-1, None", ["_t1"])
    sl = ir.slice_node(index)
    assert isinstance(sl, ast.Tuple) and isinstance(sl.elts[0], ast.Slice)
    sl.elts[0].lower.id = "changed"
    assert unparse(ir.slice_node(index)) == "(_t1:-1, None)"


def test_slice_node_is_the_index_between_brackets():
    sub = ast.Subscript(ast.Name("a", ast.Load()), ir.slice_node(ir.Index("1:, ::2", [])), ast.Load())
    assert unparse(sub) == "a[1:, ::2]"
    sub = ast.Subscript(ast.Name("a", ast.Load()), ir.slice_node(ir.Index("i", ["i"])), ast.Load())
    assert unparse(sub) == "a[i]"


# == sweep_state.py =================================================================================

@pytest.mark.parametrize("a, b, merged", [
    (LIVE, LIVE, LIVE), (DEAD, DEAD, DEAD), (UNKNOWN, UNKNOWN, UNKNOWN),
    (LIVE, DEAD, UNKNOWN), (DEAD, LIVE, UNKNOWN), (LIVE, UNKNOWN, UNKNOWN), (UNKNOWN, DEAD, UNKNOWN),
])
def test_merge_of_two_states(a, b, merged):
    assert _merge({"x": a}, {"x": b}) == {"x": merged}


def test_merge_treats_a_missing_name_as_dead():
    assert _merge({"x": LIVE, "y": DEAD}, {"z": UNKNOWN}) == {"x": UNKNOWN, "y": DEAD, "z": UNKNOWN}
    assert _merge({}, {}) == {}


def test_merge_leaves_its_inputs_unchanged():
    a, b = {"x": LIVE}, {"x": DEAD}
    _merge(a, b)
    assert a == {"x": LIVE} and b == {"x": DEAD}


@pytest.mark.parametrize("src, single", [
    ("i", True), ("3", True), ("-1", True), ("(-1)", True), ("i:j", False), ("i, j", False),
    ("...", False), ("i + 1", False), ("None", True),
])
def test_single_index(src, single):
    assert bool(_single_index(ir.Index(src, []))) is single


def test_int_literal():
    assert _int_literal("12") and _int_literal("-3") and _int_literal("(-3)")
    assert not _int_literal("1.5") and not _int_literal("i")


# == cleanup.init_statements =======================================================================

def test_init_statements_six_names_each_marked_init():
    sts = cleanup.init_statements([f"a{k}_b" for k in range(7)])
    assert [unparse(s) for s in sts] == ["a0_b = a1_b = a2_b = a3_b = a4_b = a5_b = None", "a6_b = None"]
    assert all(s.init for s in sts)
    assert cleanup.init_statements([]) == []


# == cleanup.prune_inits ===========================================================================

def pruned(src, inits=1) -> str:
    f = fdef(src, inits)
    cleanup.prune_inits(f)
    return body(f)


def test_prune_inits_drops_names_assigned_before_every_read():
    assert pruned("""
        def f(x):
            a_b = b_b = None
            a_b = x * 2.0
            b_b = a_b + 1.0
            return b_b
    """) == "a_b = x * 2.0\nb_b = a_b + 1.0\nreturn b_b"


def test_prune_inits_keeps_a_name_read_before_its_assignment():
    assert pruned("""
        def f(x):
            a_b = b_b = None
            c = a_b
            a_b = x
            b_b = x
            return c
    """).splitlines()[0] == "a_b = None"


def test_prune_inits_keeps_a_name_assigned_in_one_branch_only():
    src = """
        def f(x):
            a_b = b_b = None
            if x > 0.0:
                a_b = x
                b_b = x
            else:
                b_b = 1.0
            return (a_b, b_b)
    """
    assert pruned(src).splitlines()[0] == "a_b = None"


def test_prune_inits_keeps_a_name_read_in_the_branch_that_did_not_assign_it():
    src = """
        def f(x):
            a_b = None
            if x > 0.0:
                a_b = x
            else:
                y = a_b
            a_b = 2.0
            return a_b
    """
    assert pruned(src).splitlines()[0] == "a_b = None"


def test_prune_inits_keeps_a_name_read_in_an_if_test():
    assert pruned("""
        def f(x):
            a_b = None
            if a_b is not None:
                x = 1.0
            a_b = x
            return a_b
    """).splitlines()[0] == "a_b = None"


def test_prune_inits_keeps_a_name_assigned_only_in_a_loop_body_that_may_not_run():
    assert pruned("""
        def f(x, n):
            a_b = None
            for i in range(n):
                a_b = x
            return a_b
    """).splitlines()[0] == "a_b = None"
    assert pruned("""
        def f(x, n):
            a_b = None
            while x < n:
                a_b = x
                x = x + 1.0
            return a_b
    """).splitlines()[0] == "a_b = None"


def test_prune_inits_drops_a_name_assigned_before_its_reads_inside_a_loop_body():
    assert pruned("""
        def f(x, n):
            a_b = None
            y = 0.0
            for i in range(n):
                a_b = x * i
                y = y + a_b
            return y
    """).splitlines()[0] == "y = 0.0"


def test_prune_inits_keeps_a_name_read_first_in_a_later_loop_iteration():
    assert pruned("""
        def f(x, n):
            a_b = None
            y = 0.0
            for i in range(n):
                if i > 0:
                    y = y + a_b
                a_b = x * i
            return y
    """).splitlines()[0] == "a_b = None"


def test_prune_inits_keeps_a_name_whose_loop_reads_it_in_its_header():
    assert pruned("""
        def f(n):
            a_b = None
            for i in a_b:
                a_b = [1.0]
            return n
    """).splitlines()[0] == "a_b = None"


def test_prune_inits_keeps_a_subscript_target_and_an_augmented_assignment():
    assert pruned("""
        def f(x):
            a_b = b_b = None
            a_b[0] = x
            b_b += x
            return (a_b, b_b)
    """).splitlines()[0] == "a_b = b_b = None"


def test_prune_inits_treats_parameters_as_assigned_and_ignores_comments():
    f = fdef("""
        def f(x):
            a_b = None
            y = x
            a_b = y
            return a_b
    """, 1)
    f.body.insert(1, Comment("line 2: y = x"))
    cleanup.prune_inits(f)
    assert isinstance(f.body[0], Comment) and body(f).endswith("y = x\na_b = y\nreturn a_b")
    assert not any(getattr(st, "init", False) for st in f.body)


def test_prune_inits_keeps_the_place_of_the_first_init_and_regroups_the_names():
    names = [f"n{k}_b" for k in range(8)]
    src = "def f(x):\n    y = x\n    " + " = ".join(names[:4]) + " = None\n    " + \
        " = ".join(names[4:]) + " = None\n    n0_b = x\n    return (" + ", ".join(names) + ")\n"
    f = fdef(src)
    for st in f.body[1:3]:
        st.init = True
    cleanup.prune_inits(f)
    assert body(f).splitlines()[:3] == [
        "y = x", "n1_b = n2_b = n3_b = n4_b = n5_b = n6_b = None", "n7_b = None"]
    assert all(getattr(st, "init", False) for st in f.body[1:3])


def test_prune_inits_without_inits_changes_nothing():
    src = """
        def f(x):
            a_b = None
            return a_b
    """
    assert pruned(src, inits=0) == "a_b = None\nreturn a_b"


# == cleanup.propagate_copies ======================================================================

def propagated(src) -> str:
    f = fdef(src)
    cleanup.propagate_copies(f, generated)
    return body(f)


def test_propagate_copies_reads_the_source_and_drops_the_copy():
    assert propagated("""
        def f(u_b):
            t_b = u_b
            y = t_b * 2.0
            return y + t_b
    """) == "y = u_b * 2.0\nreturn y + u_b"


def test_propagate_copies_follows_a_chain_of_copies():
    assert propagated("""
        def f(u_b):
            t_b = u_b
            s_b = t_b
            return s_b
    """) == "return u_b"


def test_propagate_copies_renames_reads_in_nested_statements_of_the_block():
    assert propagated("""
        def f(u_b, c):
            t_b = u_b
            if c:
                return t_b
            return 0.0
    """) == "if c:\n    return u_b\nreturn 0.0"


def test_propagate_copies_keeps_a_copy_whose_source_is_reassigned_before_a_later_read():
    src = """
        def f(u_b):
            t_b = u_b
            u_b = 3.0
            return t_b
    """
    assert propagated(src) == "t_b = u_b\nu_b = 3.0\nreturn t_b"
    src = """
        def f(u_b):
            t_b = u_b
            u_b += 1.0
            return t_b
    """
    assert propagated(src) == "t_b = u_b\nu_b += 1.0\nreturn t_b"


def test_propagate_copies_keeps_a_copy_whose_source_is_reassigned_in_a_nested_if():
    src = """
        def f(u_b, c):
            t_b = u_b
            if c:
                u_b = 0.0
            return t_b
    """
    assert propagated(src) == "t_b = u_b\nif c:\n    u_b = 0.0\nreturn t_b"


def test_propagate_copies_keeps_a_copy_read_in_a_loop_that_reassigns_its_source():
    """In the second iteration ``t_b`` still holds the first ``u_b``."""
    src = """
        def f(u_b, n):
            y = 0.0
            t_b = u_b
            for i in range(n):
                y = y + t_b
                u_b = y
            return y
    """
    assert "t_b = u_b" in propagated(src)
    f = fdef(src)
    cleanup.propagate_copies(f, generated)
    assert run(f, 1.0, 3) == run(fdef(src), 1.0, 3) == 3.0


def test_propagate_copies_leaves_user_names_and_names_assigned_twice():
    assert propagated("""
        def f(u_b):
            t = u_b
            return t
    """) == "t = u_b\nreturn t"
    assert propagated("""
        def f(u_b, c):
            t_b = u_b
            y = t_b
            if c:
                t_b = 1.0
            return y + t_b
    """).startswith("t_b = u_b")


def test_propagate_copies_keeps_a_copy_read_outside_its_block():
    src = """
        def f(u_b, c):
            if c:
                t_b = u_b
            else:
                return 0.0
            return t_b
    """
    assert "t_b = u_b" in propagated(src)


def test_propagate_copies_keeps_a_copy_read_before_it_in_a_loop_body():
    src = """
        def f(u_b, n):
            y = 0.0
            for i in range(n):
                if i > 0:
                    y = y + t_b
                t_b = u_b
                u_b = u_b * 2.0
            return y
    """
    assert "t_b = u_b" in propagated(src)
    assert run(fdef(src), 1.0, 3) == 3.0


# == cleanup.remove_dead_stores ====================================================================

def undead(src) -> str:
    f = fdef(src)
    cleanup.remove_dead_stores(f, generated)
    return body(f)


def test_remove_dead_stores_drops_a_pure_store_nothing_reads():
    assert undead("""
        def f(x):
            t_b = x * 2.0
            return x
    """) == "return x"


def test_remove_dead_stores_drops_a_store_overwritten_before_any_read():
    assert undead("""
        def f(x):
            t_b = x * 2.0
            t_b = x + 1.0
            return t_b
    """) == "t_b = x + 1.0\nreturn t_b"


def test_remove_dead_stores_drops_chains_and_pure_runtime_calls():
    assert undead("""
        def f(x, y):
            a_b = _rt.add(x, y)
            b_b = a_b * 2.0
            return x
    """) == "return x"


def test_remove_dead_stores_never_drops_user_names_or_impure_calls():
    assert undead("""
        def f(x):
            t = x * 2.0
            t_b = g(x)
            s_b = [g(x)]
            return x
    """) == "t = x * 2.0\nt_b = g(x)\ns_b = [g(x)]\nreturn x"


def test_remove_dead_stores_keeps_a_temporary_read_in_a_later_loop_iteration():
    src = """
        def f(x, n):
            y = 0.0
            t_b = 0.0
            for i in range(n):
                y = y + t_b
                t_b = x * i
            return y
    """
    assert undead(src) == body(fdef(src))


def test_remove_dead_stores_keeps_a_name_read_after_a_loop():
    src = """
        def f(x, n):
            t_b = 0.0
            for i in range(n):
                t_b = x * i
            return t_b
    """
    assert undead(src) == body(fdef(src))


def test_remove_dead_stores_drops_a_store_in_a_loop_nothing_reads():
    assert undead("""
        def f(x, n):
            y = 0.0
            for i in range(n):
                t_b = x * i
                y = y + x
            return y
    """) == "y = 0.0\nfor i in range(n):\n    y = y + x\nreturn y"


def test_remove_dead_stores_keeps_a_store_inside_a_nested_if_read_later():
    src = """
        def f(x, c):
            t_b = 0.0
            if c:
                if x > 1.0:
                    t_b = x
            return t_b
    """
    assert undead(src) == body(fdef(src))


def test_remove_dead_stores_empties_a_branch_to_pass():
    assert undead("""
        def f(x, c):
            if c:
                t_b = x
            else:
                s_b = x
            return x
    """) == "if c:\n    pass\nreturn x"


def test_remove_dead_stores_keeps_names_read_by_if_tests_and_augmented_or_subscript_writes():
    src = """
        def f(x):
            c_b = x > 0.0
            a_b = x
            s_b = [0.0]
            if c_b:
                a_b += 1.0
                s_b[0] = a_b
            return x
    """
    out = undead(src)
    assert "c_b = x > 0.0" in out and "a_b = x" in out and "s_b = [0.0]" in out


def test_remove_dead_stores_keeps_a_store_read_by_the_test_of_its_while_loop():
    src = """
        def f(x):
            c_b = True
            n = 0
            while c_b:
                n = n + 1
                c_b = n < 3
            return n
    """
    assert "c_b = n < 3" in undead(src)


# == cleanup.inline_single_uses ====================================================================

def inlined(src, fits=lambda st: True) -> str:
    f = fdef(src)
    cleanup.inline_single_uses(f, generated, fits)
    return body(f)


def test_inline_single_uses_moves_the_expression_to_its_one_read():
    assert inlined("""
        def f(x):
            t_b = x * 2.0
            y = t_b + 1.0
            return y
    """) == "y = x * 2.0 + 1.0\nreturn y"


def test_inline_single_uses_keeps_the_same_tree_so_the_same_arithmetic():
    src = """
        def f(a, b, c):
            t_b = a + b
            return c + t_b
    """
    out = inlined(src)
    assert out == "return c + (a + b)"
    f = fdef(src)
    cleanup.inline_single_uses(f, generated, lambda st: True)
    assert run(f, 1e16, -1e16, 1.0) == run(fdef(src), 1e16, -1e16, 1.0) == 1.0


def test_inline_single_uses_into_a_return_and_an_expression_statement():
    assert inlined("""
        def f(x):
            t_b = x - 1.0
            print(t_b)
            s_b = x * x
            return s_b
    """) == "print(x - 1.0)\nreturn x * x"


def test_inline_single_uses_never_moves_an_expression_past_a_store_of_what_it_reads():
    src = """
        def f(x):
            t_b = x * 2.0
            x = 5.0
            return t_b
    """
    assert inlined(src) == "t_b = x * 2.0\nx = 5.0\nreturn t_b"
    src = """
        def f(x, c):
            t_b = x * 2.0
            if c:
                x = 5.0
            return t_b
    """
    assert inlined(src).startswith("t_b = x * 2.0")
    src = """
        def f(x, n):
            t_b = x * 2.0
            for i in range(n):
                x = x + 1.0
            return t_b
    """
    assert inlined(src).startswith("t_b = x * 2.0")


def test_inline_single_uses_never_moves_a_read_of_a_container_past_a_write_into_it():
    src = """
        def f(a):
            t_b = a[0]
            a[0] = 5.0
            return t_b
    """
    f = fdef(src)
    cleanup.inline_single_uses(f, generated, lambda st: True)
    assert run(f, [1.0]) == run(fdef(src), [1.0]) == 1.0


def test_inline_single_uses_never_moves_into_a_loop_or_an_if():
    for src in ("""
        def f(x, n):
            y = 0.0
            t_b = x * 2.0
            for i in range(n):
                y = y + t_b
            return y
    """, """
        def f(x, c):
            y = 0.0
            t_b = x * 2.0
            if c:
                y = t_b
            return y
    """, """
        def f(x):
            t_b = x > 2.0
            if t_b:
                return 1.0
            return 0.0
    """):
        assert "t_b = x" in inlined(src)


def test_inline_single_uses_never_moves_across_a_loop_or_if_that_reads_the_operands():
    src = """
        def f(x, n):
            t_b = x * 2.0
            y = 0.0
            for i in range(n):
                y = y + x
            return t_b + y
    """
    assert inlined(src).startswith("t_b = x * 2.0")


def test_inline_single_uses_leaves_names_read_twice_user_names_impure_values_and_long_results():
    assert inlined("""
        def f(x):
            t_b = x * 2.0
            return t_b + t_b
    """) == "t_b = x * 2.0\nreturn t_b + t_b"
    assert inlined("""
        def f(x):
            t = x * 2.0
            return t
    """) == "t = x * 2.0\nreturn t"
    assert inlined("""
        def f(x):
            t_b = g(x)
            return t_b
    """) == "t_b = g(x)\nreturn t_b"
    assert inlined("""
        def f(x):
            t_b = x * 2.0
            return t_b
    """, fits=lambda st: False) == "t_b = x * 2.0\nreturn t_b"


def test_inline_single_uses_leaves_a_temporary_assigned_twice():
    src = """
        def f(x, c):
            t_b = x * 2.0
            y = t_b
            t_b = 1.0
            return y
    """
    assert inlined(src).startswith("t_b = x * 2.0")


def test_inline_single_uses_moves_a_temporary_into_a_read_that_is_in_the_same_loop_body():
    assert inlined("""
        def f(x, n):
            y = 0.0
            for i in range(n):
                t_b = x * i
                y = y + t_b
            return y
    """) == "y = 0.0\nfor i in range(n):\n    y = y + x * i\nreturn y"


def test_inline_single_uses_writes_a_tape_read_at_its_one_read():
    assert inlined("""
        def f(_c, g):
            _m1 = _c.tape.pop()
            t_b = _rt.add(g, _m1)
            return t_b
    """) == "return _rt.add(g, _c.tape.pop())"
    assert inlined("""
        def f(_c, g, u):
            _m1 = _pop()
            t_b = h_bwd(_c, g, _m1)
            return t_b
    """) == "t_b = h_bwd(_c, g, _pop())\nreturn t_b"      # (the call runs after its arguments)


def test_inline_single_uses_keeps_a_tape_read_where_the_tape_is_read_in_between():
    src = """
        def f(_c, g):
            _m1 = _pop()
            u = _pop()
            t_b = _rt.add(g, _m1)
            return t_b + u
    """
    assert inlined(src).startswith("_m1 = _pop()\nu = _pop()")
    src = """
        def f(_c, g):
            _m1 = _pop()
            u = h_bwd(_c, g)
            return _rt.add(g, _m1) + u
    """
    assert inlined(src).startswith("_m1 = _pop()\nu = h_bwd(_c, g)")


def test_inline_single_uses_keeps_a_tape_read_its_statement_may_not_reach_or_reaches_late():
    for use in ("g if g is None else _m1", "g is None or _m1", "[_m1 for i in range(2)]",
                "h_bwd(_c, g) + _m1", "_rt.add(h_bwd(_c, g), _m1)"):
        src = f"""
            def f(_c, g):
                _m1 = _pop()
                t_b = {use}
                return t_b
        """
        assert inlined(src).startswith("_m1 = _pop()"), use
    assert inlined("""
        def f(_c, g):
            _m1 = _pop()
            t_b = 1.0 if _m1 is None else g
            return t_b
    """) == "return 1.0 if _pop() is None else g"       # (an if's test always runs)


def test_inline_single_uses_moves_a_value_that_reads_the_tape_only_where_the_tape_is_untouched():
    assert inlined("""
        def f(_c, g, d):
            _t2_b = _vjp.mean_grad(g, _c.tape.pop())
            d_b = 2.0 * (_t2_b * d)
            return d_b
    """) == "return 2.0 * (_vjp.mean_grad(g, _c.tape.pop()) * d)"
    assert inlined("""
        def f(_c, g, d):
            _t2_b = _vjp.mean_grad(g, _c.tape.pop())
            e = _pop()
            d_b = 2.0 * (_t2_b * d)
            return d_b + e
    """).startswith("_t2_b = _vjp.mean_grad(g, _c.tape.pop())\ne = _pop()")


def test_inline_single_uses_writes_a_plain_adjoint_at_its_one_read():
    def inline_plain(src):
        f = fdef(src)
        cleanup.inline_single_uses(f, generated, lambda st: True, plain=lambda n: n.endswith("_a"))
        return body(f)
    assert inline_plain("""
        def f(d_a, dx):
            advective_a = -d_a
            t = _vjp.div(advective_a, 2.0 * dx)
            return t
    """) == "t = _vjp.div(-d_a, 2.0 * dx)\nreturn t"
    assert inline_plain("""
        def f(d_a, dx):
            advective_a = d_a * 2.0
            t = _vjp.div(advective_a, 2.0 * dx)
            return t
    """).startswith("advective_a = d_a * 2.0")          # (a computed adjoint keeps its name)
    assert inline_plain("""
        def f(d_a, dx):
            advective_a = -d_a
            d_a = dx
            return advective_a + d_a
    """).startswith("advective_a = -d_a")


# == cleanup.merge_accumulations =====================================================================

def merged(src, fits=lambda st, depth: True) -> str:
    f = fdef(src)
    cleanup.merge_accumulations(f, fits, generated)
    return body(f)


def test_merge_accumulations_joins_a_copy_and_later_sums_in_order():
    src = """
        def f(r, a, b, c, t):
            u_b = r
            x_b = t * 2.0
            u_b = u_b + a + b
            u_b = u_b - c
            return u_b + x_b
    """
    assert merged(src) == "x_b = t * 2.0\nu_b = r + a + b - c\nreturn u_b + x_b"
    f = fdef(src)
    cleanup.merge_accumulations(f, lambda st, depth: True, generated)
    args = (0.1, 1e16, -1e16, 0.3, 2.0)
    assert run(f, *args) == run(fdef(src), *args)


def test_merge_accumulations_moves_only_adjoints_past_other_statements():
    src = """
        def f(r, a, t):
            u = r
            x_b = t * 2.0
            u = u + a
            return u + x_b
    """
    assert merged(src).startswith("u = r\nx_b = t * 2.0\n")
    assert merged(src.replace("            x_b = t * 2.0\n", "")) == "u = r + a\nreturn u + x_b"


def test_merge_accumulations_stops_at_a_read_or_write_of_the_sum_or_of_what_it_moves():
    for between in ("y = u_b * 2.0", "r = 3.0", "u_b = r", "r[0] = 1.0", "y = h(r)"):
        src = f"""
            def f(r, a):
                u_b = r
                {between}
                u_b = u_b + a
                return u_b
        """
        assert merged(src).startswith("u_b = r\n"), between


def test_merge_accumulations_moves_only_pure_values_and_never_across_a_branch_or_loop():
    assert merged("""
        def f(r, a):
            u_b = h(r)
            y = a * 2.0
            u_b = u_b + a
            return u_b + y
    """).startswith("u_b = h(r)\n")
    assert merged("""
        def f(r, a):
            u_b = h(r)
            u_b = u_b + a
            return u_b
    """) == "u_b = h(r) + a\nreturn u_b"           # (adjacent: nothing moves)
    assert merged("""
        def f(r, a, c):
            u_b = r
            if c:
                y = 1.0
            u_b = u_b + a
            return u_b
    """).startswith("u_b = r\nif c:")


def test_merge_accumulations_leaves_a_sum_that_reads_the_name_twice_and_asks_fits_with_the_depth():
    assert merged("""
        def f(r, a):
            u_b = r
            u_b = u_b + u_b * a
            return u_b
    """).startswith("u_b = r\n")
    depths = []
    merged("""
        def f(r, a, n):
            for i in range(n):
                u_b = r
                u_b = u_b + a
            return u_b
    """, fits=lambda st, depth: depths.append(depth) or False)
    assert depths == [2]


# == cleanup_exprs ==================================================================================

def exprs(src, fn) -> str:
    f = fdef(src)
    fn(f)
    return body(f)


def adjoint_value(expr, fn, params="a, b, c, g, s, u, v, w") -> str:
    """``expr`` assigned to an adjoint, after the pass ``fn``: its value as printed."""
    f = fdef(f"def f({params}):\n    x_b = {expr}\n    return x_b")
    fn(f, generated)
    return unparse(f.body[0].value)


def test_merge_repeated_products_writes_twice_an_equal_term_once():
    pass_ = cleanup_exprs.merge_repeated_products
    assert adjoint_value("g * (0.5 * u) + g * u * 0.5 + s", pass_) == "g * u + s"
    assert adjoint_value("g * (2.0 * u) + u * g * 2.0", pass_) == "g * u * 4.0"
    for src in ("g * (3.0 * u) + g * u * 3.0",      # (3 u is rounded: the two terms differ)
                "s + g * (0.5 * u) + g * u * 0.5",   # ((s + t) + t is not s + 2 t bit for bit)
                "g * (0.5 * u) + g * v * 0.5", "g * (0.5 * u) - g * u * 0.5",
                "g * (0.5 * u * w) + g * u * w * 0.5", "g * (0.5 * h(u)) + g * h(u) * 0.5"):
        assert adjoint_value(src, pass_) == src


def test_merge_repeated_products_leaves_the_users_arithmetic_alone():
    src = "def f(g, u):\n    y = g * (0.5 * u) + g * u * 0.5\n    return y"
    f = fdef(src)
    cleanup_exprs.merge_repeated_products(f, generated)
    assert body(f) == body(fdef(src))


def test_merge_repeated_products_is_bitwise_the_sum_of_the_two_terms():
    import numpy as np
    rng = np.random.default_rng(3)
    g, u = rng.standard_normal(2000) * 1e3, rng.standard_normal(2000)
    src = "def f(g, u):\n    x_b = g * (0.5 * u) + g * u * 0.5\n    return x_b"
    f = fdef(src)
    cleanup_exprs.merge_repeated_products(f, generated)
    assert "x_b = g * u" in body(f)
    assert np.array_equal(run(f, g, u), run(fdef(src), g, u))


def test_fold_negations_subtracts_instead_of_adding_a_negation_bitwise_equal():
    import numpy as np
    pass_ = cleanup_exprs.fold_negations
    assert adjoint_value("a + -b * c + -b + -b / c", pass_) == "a - b * c - b - b / c"
    src = "def f(a, b, c):\n    x_b = a + -b * c + -b + -b / c\n    return x_b"
    rng = np.random.default_rng(4)
    args = [rng.standard_normal(500) for _ in range(3)]
    f = fdef(src)
    pass_(f, generated)
    assert np.array_equal(run(f, *args), run(fdef(src), *args))
    assert adjoint_value("a * -b + -1.0 * b", pass_) == "a * -b + -1.0 * b"
    assert exprs("def f(a, b):\n    y = a + -b\n    return y", lambda f: pass_(f, generated)) == \
        "y = a + -b\nreturn y"                 # (the user's objects: left as written)


def test_drop_default_arguments_leaves_out_trailing_defaults_of_runtime_helpers():
    pass_ = cleanup_exprs.drop_default_arguments
    assert exprs("def f(g, m):\n    return _vjp.mean_grad(g, m, None, False)", pass_) == \
        "return _vjp.mean_grad(g, m)"
    assert exprs("def f(g, m):\n    return _vjp.mean_grad(g, m, 0, False)", pass_) == \
        "return _vjp.mean_grad(g, m, 0)"
    assert exprs("def f(g):\n    return _vjp.roll_grad(g, 1, None)", pass_) == "return _vjp.roll_grad(g, 1)"
    for src in ("return _vjp.mean_grad(g, m, None, 0)", "return np.roll(g, 1, None)",
                "return _vjp.mean_grad(g, m, axis=None)", "return _vjp.no_such_helper(g, None)"):
        assert exprs(f"def f(g, m):\n    {src}", pass_) == src


# == cleanup.inline_handles ========================================================================

def handles(src, most=3) -> str:
    f = fdef(src)
    cleanup.inline_handles(f, {"_pop", "_ck"}, most)
    return body(f)


def test_inline_handles_writes_a_handle_read_a_few_times_outside_loops_at_its_reads():
    assert handles("""
        def f(_c, n):
            _pop = _c.tape.pop
            u = _pop()
            for i in reversed(_pop()):
                n = n + i
            return u + n
    """) == "u = _c.tape.pop()\nfor i in reversed(_c.tape.pop()):\n    n = n + i\nreturn u + n"


def test_inline_handles_keeps_a_handle_read_in_a_loop_or_read_often():
    src = """
        def f(_c, n):
            _pop = _c.tape.pop
            u = _pop()
            for i in range(n):
                u = u + _pop()
            return u
    """
    assert handles(src).startswith("_pop = _c.tape.pop")
    src = """
        def f(_c):
            _ck = _c.ck
            return _ck['a'] + _ck['b'] + _ck['c'] + _ck['d']
    """
    assert handles(src).startswith("_ck = _c.ck")
    assert handles(src, most=4) == "return _c.ck['a'] + _c.ck['b'] + _c.ck['c'] + _c.ck['d']"
    assert handles("""
        def f(_c):
            _ck = CONTEXT.ck
            return _ck['a']
    """).startswith("_ck = CONTEXT.ck")        # (not read from a parameter: a call may rebind it)


# == cleanup_none ===================================================================================

def _never_none_call(call) -> bool:
    return cleanup._dotted(call.func).startswith("_vjp.")


def nested(src) -> str:
    f = fdef(src, inits=1)
    cleanup_none.nest_guarded_chains(f, _never_none_call, generated)
    return body(f)


def settled(src, inits=0) -> str:
    f = fdef(src, inits=inits)
    cleanup_none.drop_settled_none_tests(f, _never_none_call, generated)
    return body(f)


def test_nest_guarded_chains_runs_a_test_that_follows_from_the_one_before_inside_it():
    out = nested("""
        def f(r_b, dx):
            t_b = s_b = None
            if r_b is not None:
                t_b = -_vjp.div(r_b, dx)
            if t_b is not None:
                s_b = t_b * 2.0
            if s_b is not None:
                u_b = s_b + 1.0
            return s_b
    """)
    assert out == ("t_b = s_b = None\nif r_b is not None:\n    t_b = -_vjp.div(r_b, dx)\n    s_b = t_b * 2.0\n"
                   "    u_b = s_b + 1.0\nreturn s_b")


def test_nest_guarded_chains_leaves_a_test_the_first_block_does_not_decide():
    for value in ("g(r_b)", "r_b if dx else None", "q_b", "_vjp.f(q_b)"):      # (may be None)
        src = f"""
            def f(r_b, q_b, dx):
                t_b = None
                if r_b is not None:
                    t_b = {value}
                if t_b is not None:
                    dx = 2.0
                return dx
        """
        assert "\nif t_b is not None:" in nested(src), value
    for src in ("""
        def f(r_b, dx):
            t_b = None
            t_b = dx
            if r_b is not None:
                t_b = -r_b
            if t_b is not None:
                dx = 2.0
            return dx
    """, """
        def f(r_b, dx):
            t_b = None
            if r_b is not None:
                t_b = -r_b
                t_b = g(dx)
            if t_b is not None:
                dx = 2.0
            return dx
    """, """
        def f(r_b, t_b, dx):
            if r_b is not None:
                t_b = -r_b
            if t_b is not None:
                dx = 2.0
            return dx
    """, """
        def f(r_b, dx):
            t_b = None
            if r_b is not None:
                if dx:
                    t_b = -r_b
            if t_b is not None:
                dx = 2.0
            return dx
    """, """
        def f(r_b, dx):
            t_b = None
            if r_b is not None:
                t_b = -r_b
            else:
                dx = 1.0
            if t_b is not None:
                dx = 2.0
            return dx
    """):
        assert "\nif t_b is not None:" in nested(src), src


def test_nest_guarded_chains_keeps_the_result_of_both_paths():
    src = """
        def f(r_b, dx):
            t_b = s_b = None
            if r_b is not None:
                t_b = -_vjp.div(r_b, dx)
            if t_b is not None:
                s_b = t_b * 2.0
            return s_b
    """
    ns = {"_vjp": type("V", (), {"div": staticmethod(lambda a, b: a / b)})}
    f = fdef(src, inits=1)
    cleanup_none.nest_guarded_chains(f, _never_none_call, generated)
    for r in (None, 3.0):
        assert run(f, r, 2.0, ns=ns) == run(fdef(src, inits=1), r, 2.0, ns=ns)


def test_nest_guarded_chains_in_a_loop_needs_the_reset_that_makes_the_name_none_again():
    src = """
        def f(r_b, n):
            t_b = s_b = None
            for i in range(n):
                if r_b is not None:
                    t_b = -r_b
                if t_b is not None:
                    s_b = t_b * 2.0 if s_b is None else s_b + t_b
                    t_b = None
                r_b = None if i == 1 else r_b
            return s_b
    """
    out = nested(src)
    assert "    if r_b is not None:\n        t_b = -r_b\n        s_b = " in out and out.count("is not None") == 1
    f = fdef(src, inits=1)
    cleanup_none.nest_guarded_chains(f, _never_none_call, generated)
    for r in (None, 1.5):
        assert run(f, r, 4) == run(fdef(src, inits=1), r, 4)
    set_line = "                    t_b = -r_b\n"
    for src in (src.replace("                    t_b = None\n", ""),          # (set in one pass, tested in the next)
                src.replace(set_line, set_line + "                    continue\n")):
        assert nested(src).count("is not None") == 2, src


def test_drop_settled_none_tests_decides_tests_of_adjoints_set_before():
    assert settled("""
        def f(r_b, c):
            x_b = -r_b
            y_b = c if x_b is None else x_b + c
            if x_b is not None:
                y_b = y_b * 2.0
            if x_b is None:
                y_b = 0.0
            x_b = x_b
            return y_b
    """) == "x_b = -r_b\ny_b = x_b + c\ny_b = y_b * 2.0\nreturn y_b"
    assert settled("""
        def f(r_b, c):
            if r_b is None:
                c = 0.0 if r_b is None else c
            else:
                c = c if r_b is None else r_b
            return c
    """) == "if r_b is None:\n    c = 0.0 if r_b is None else c\nelse:\n    c = r_b\nreturn c"


def test_drop_settled_none_tests_drops_a_copy_of_a_set_adjoint_to_itself_in_a_loop():
    src = """
        def f(r_b, xs):
            t_b = -r_b
            out = 0.0
            for x in xs:
                t_b = t_b
                out = out + (0.0 if t_b is None else t_b * x)
            return out
    """
    assert settled(src) == "t_b = -r_b\nout = 0.0\nfor x in xs:\n    out = out + t_b * x\nreturn out"
    f = fdef(src)
    cleanup_none.drop_settled_none_tests(f, _never_none_call, generated)
    assert run(f, 2.0, [1.0, 3.0]) == run(fdef(src), 2.0, [1.0, 3.0])


def test_drop_settled_none_tests_forgets_what_is_rebound_or_may_be_none():
    for src in ("""
        def f(r_b, c):
            x_b = -r_b
            x_b = g(c)
            return 1.0 if x_b is None else x_b
    """, """
        def f(r_b, c):
            x_b = -r_b
            if c:
                x_b = None
            return 1.0 if x_b is None else x_b
    """, """
        def f(r_b, c, n):
            x_b = -r_b
            for i in range(n):
                y = 1.0 if x_b is None else x_b
                x_b = None
            return y
    """, """
        def f(r_b, c):
            x = -r_b
            return 1.0 if x is None else x
    """, """
        def f(r_b, q_b):
            x_b = _vjp.f(q_b)
            return 1.0 if x_b is None else x_b
    """):
        assert "is None" in settled(src), src


# == cleanup.drop_orphan_comments ==================================================================

def texts(stmts):
    return [("# " + s.text) if isinstance(s, Comment) else unparse(s) for s in stmts]


def test_drop_orphan_comments_drops_line_comments_with_no_code_under_them():
    stmts = [Comment("line 1: a = b"), Comment("adjoint of line 2: c = d"), ast.parse("x = 1").body[0],
             Comment("line 3: e = f")]
    assert texts(cleanup.drop_orphan_comments(stmts)) == ["# adjoint of line 2: c = d", "x = 1"]


def test_drop_orphan_comments_keeps_other_comments_and_empties_blocks_to_pass():
    f = fdef("""
        def f(c):
            if c:
                pass
            else:
                pass
            return c
    """)
    f.body[0].body = [Comment("line 2: y = 1")]
    f.body[0].orelse = [Comment("line 3: y = 2")]
    out = cleanup.drop_orphan_comments([Comment("recompute"), f.body[0], Comment("note"), f.body[1]])
    assert texts(out)[0] == "# recompute" and texts(out)[2] == "# note"
    assert [type(s) for s in out[1].body] == [ast.Pass] and out[1].orelse == []


def test_drop_orphan_comments_keeps_a_comment_followed_by_a_nested_block():
    f = fdef("""
        def f(c):
            if c:
                return 1
            return 0
    """)
    f.body[0].body.insert(0, Comment("line 5: return 1"))
    out = cleanup.drop_orphan_comments([Comment("line 4: if c:"), f.body[0], f.body[1]])
    assert texts(out[:1]) == ["# line 4: if c:"]
    assert texts(out[1].body) == ["# line 5: return 1", "return 1"]


# == all passes on random functions =================================================================

class _Runtime:
    """The runtime helpers the passes treat as pure (on floats)."""

    @staticmethod
    def add(a, b):
        return a + b

    @staticmethod
    def ub(a, b):
        return a * 1.0


class _Generator:
    """A random function of floats: user variables ``v*``, generated ``*_b`` (some read only where
    they may be unassigned, behind ``is not None``), branches, short loops, an impure call that logs,
    one that pops the tape, tape reads, negated copies, repeated products and ``+ -``."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.generated = [f"t{k}_b" for k in range(6)]
        self.user = [f"v{k}" for k in range(3)]
        self.results = 0
        self.chained = []                   # names set once, behind a test (initialised to None)

    def atom(self, defined):
        rng = self.rng
        if defined and rng.random() < 0.8:
            return rng.choice(sorted(defined))
        return repr(rng.choice([0.5, 1.0, 2.0, -1.5, 3.0]))

    def expr(self, defined, maybe, depth=0):
        rng = self.rng
        r = rng.random()
        if depth > 2 or r < 0.25:
            if maybe and rng.random() < 0.2:
                n = rng.choice(sorted(maybe))
                return f"({n} if {n} is not None else 0.25)"
            return self.atom(defined)
        if r < 0.75:
            op = rng.choice(["+", "-", "*"])
            return f"({self.expr(defined, maybe, depth + 1)} {op} {self.expr(defined, maybe, depth + 1)})"
        if r < 0.85:
            return f"_rt.add({self.expr(defined, maybe, depth + 1)}, {self.expr(defined, maybe, depth + 1)})"
        if r < 0.92:
            return f"log({self.expr(defined, maybe, depth + 1)})"
        return f"(-{self.expr(defined, maybe, depth + 1)})"

    def block(self, defined: set, maybe: set, depth: int, n: int, lines: list, pad: str):
        """Append ``n`` statements; returns the names certainly assigned after them."""
        rng = self.rng
        for _ in range(n):
            r = rng.random()
            if r < 0.15 and depth < 2:
                test = f"{self.atom(defined)} > {self.atom(defined)}"
                lines.append(f"{pad}COMMENT('line {rng.randint(1, 99)}: if ...')")
                lines.append(f"{pad}if {test}:")
                a = self.block(set(defined), maybe, depth + 1, rng.randint(1, 3), lines, pad + "    ")
                lines.append(f"{pad}else:")
                b = self.block(set(defined), maybe, depth + 1, rng.randint(1, 3), lines, pad + "    ")
                maybe |= {n for n in (a | b) - (a & b) if n in self.generated}     # (initialised to None)
                defined = a & b
            elif r < 0.25 and depth < 2:
                i = f"i{depth}"
                lines.append(f"{pad}for {i} in range({rng.choice([0, 1, 3])}):")
                inner = self.block(set(defined) | {i}, maybe, depth + 1, rng.randint(1, 3), lines, pad + "    ")
                maybe |= {n for n in inner - defined if n in self.generated}
            elif r < 0.3:
                lines.append(f"{pad}COMMENT('adjoint of line {rng.randint(1, 99)}: ...')")
            elif r < 0.4 and defined:
                target = rng.choice(self.generated + self.user)
                lines.append(f"{pad}{target} = {rng.choice(sorted(defined))}")
                defined = defined | {target}
            elif r < 0.5 and defined & set(self.generated + self.user):
                target = rng.choice(sorted(defined & set(self.generated + self.user)))   # x = x + ...
                lines.append(f"{pad}{target} = {target} + {self.expr(defined - {target}, maybe)}")
            elif r < 0.6:
                self.results += 1                                   # w_b = ...; later u = w_b (names used once)
                temp, user = f"w{self.results}_b", f"u{self.results}"
                lines.append(f"{pad}{temp} = {self.expr(defined, maybe)}")
                if rng.random() < 0.5:
                    lines.append(f"{pad}{rng.choice(self.user)} = {self.expr(defined | {temp}, maybe)}")
                lines.append(f"{pad}{user} = {temp}")
                defined = defined | {temp, user}
            elif r < 0.65:
                self.results += 1                                   # _r = pair(...); x = _r[k]
                r_name, target = f"_r{self.results}", rng.choice(self.generated + self.user)
                lines.append(f"{pad}{r_name} = pair({self.expr(defined, maybe)}, {self.expr(defined, maybe)})")
                lines.append(f"{pad}{target} = {r_name}[{rng.choice([0, 1])}]")
                defined = defined | {target}
            elif r < 0.72:
                self.results += 1                                   # _m = _pop(); ...; x = <reads _m once>
                m, target = f"_m{self.results}", rng.choice(self.generated + self.user)
                lines.append(f"{pad}{m} = {rng.choice(['_pop()', '_c.tape.pop()'])}")
                between = rng.random()
                if between < 0.3:
                    lines.append(f"{pad}{rng.choice(self.user)} = {self.expr(defined, maybe)}")
                elif between < 0.4:
                    lines.append(f"{pad}{rng.choice(self.user)} = _pop()")
                lines.append(f"{pad}{target} = {self.tape_read(m, defined, maybe)}")
                defined = defined | {target}
            elif r < 0.76 and defined:
                target = rng.choice(self.generated + self.user)      # a_b = -b_b
                lines.append(f"{pad}{target} = -{rng.choice(sorted(defined))}")
                defined = defined | {target}
            elif r < 0.8 and defined:
                a, b = rng.choice(sorted(defined)), rng.choice(sorted(defined))      # g * (c * u) + g * u * c
                c = rng.choice(["0.5", "2.0", "0.25", "3.0"])
                target = rng.choice(self.generated + self.user)
                lines.append(f"{pad}{target} = {a} * ({c} * {b}) + {rng.choice([f'{a} * {b}', f'{b} * {a}'])} * {c}")
                defined = defined | {target}
            elif r < 0.84 and defined & set(self.generated + self.user):
                target = rng.choice(sorted(defined & set(self.generated + self.user)))   # x = x + -a * c
                lines.append(f"{pad}{target} = {target} + -{self.atom(defined - {target})} * "
                             f"{self.atom(defined - {target})}")
            elif r < 0.88 and depth < 2:
                a = rng.choice(self.generated)                      # if a_b is not None: c_b = -a_b
                self.results += 1                                   # if c_b is not None: ...
                c = f"c{self.results}_b"
                self.chained.append(c)
                lines.append(f"{pad}if {a} is not None:")
                lines.append(f"{pad}    {c} = {rng.choice([f'-{a}', f'{a} * 2.0', f'_rt.add({a}, 1.0)'])}")
                inner = self.block(set(defined) | {a, c}, maybe - {a}, depth + 1, rng.randint(0, 1), lines,
                                   pad + "    ")
                maybe |= {n for n in inner - defined if n in self.generated} | {c}
                lines.append(f"{pad}if {c} is not None:")
                inner = self.block(set(defined) | {c}, maybe - {c}, depth + 1, rng.randint(1, 2), lines,
                                   pad + "    ")
                maybe |= {n for n in inner - defined if n in self.generated}
                if rng.random() < 0.5:
                    lines.append(f"{pad}    {c} = None")            # (reset after use, as in a loop body)
            else:
                target = rng.choice(self.generated + self.user)
                lines.append(f"{pad}{target} = {self.expr(defined, maybe)}")
                defined = defined | {target}
            maybe -= defined
        return defined

    def tape_read(self, m, defined, maybe) -> str:
        """An expression reading ``m`` once: first, after an impure call, or where it may not run."""
        e = self.expr(defined, maybe)
        return self.rng.choice([f"({e} + {m})", f"({m} * {e})", f"log({m})", f"_rt.add({e}, {m})",
                                f"(log({e}) + {m})", f"({m} if {e} > 0.0 else 0.5)",
                                f"(0.5 if {m} > 0.0 else {e})"])

    def function(self) -> str:
        lines = ["def f(_c, x, y):", None, "    _pop = _c.tape.pop"]
        maybe = set()
        defined = self.block({"x", "y"}, maybe, 0, self.rng.randint(2, 10), lines, "    ")
        lines.append(f"    return {self.expr(defined, maybe - defined)}")
        lines[1] = "    " + " = ".join(self.generated + self.chained) + " = None"
        return "\n".join(lines) + "\n"


class _Comments(ast.NodeTransformer):
    """``COMMENT("text")`` statements as Comment statements."""

    def visit_Expr(self, node):
        v = node.value
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "COMMENT":
            return Comment(v.args[0].value)
        return node


def _parse_with_comments(src: str) -> ast.FunctionDef:
    """``src`` parsed, its ``COMMENT(...)`` statements made Comments, its first statement the init."""
    f = _Comments().visit(ast.parse(src)).body[0]
    f.body[0].init = True
    return f


def _tidy(f, backward=False):
    """The passes in the order of sweeps.tidy, every ``*_b`` name generated, ``*_b`` and ``v*``
    adjoints (and, as in a backward sweep, every name droppable when ``backward``)."""
    droppable = (lambda name: True) if backward else generated
    user = lambda name: name.startswith("v")        # noqa: E731 (the user's variables of _Generator)
    adjoint = lambda name: generated(name) or user(name)        # noqa: E731
    fits = lambda st, depth: 4 * depth + len(unparse(st)) <= 100       # noqa: E731
    cleanup.prune_inits(f)
    cleanup.remove_dead_stores(f, droppable)
    cleanup_none.nest_guarded_chains(f, _no_call_is_certain, adjoint)
    cleanup_none.drop_settled_none_tests(f, _no_call_is_certain, adjoint)
    cleanup.prune_inits(f)
    cleanup.propagate_copies(f, generated, returned=user)
    cleanup.name_temporaries(f, generated)
    cleanup.remove_dead_stores(f, droppable)
    cleanup.inline_call_results(f)
    cleanup_exprs.drop_default_arguments(f)
    cleanup.inline_single_uses(f, generated, lambda st: len(unparse(st)) <= 80, plain=user)
    cleanup_exprs.fold_negations(f, adjoint)
    cleanup.merge_accumulations(f, fits, adjoint)
    cleanup_exprs.merge_repeated_products(f, adjoint)
    cleanup.merge_accumulations(f, fits, adjoint)
    cleanup_none.nest_guarded_chains(f, _no_call_is_certain, adjoint)
    cleanup_none.drop_settled_none_tests(f, _no_call_is_certain, adjoint)
    cleanup.prune_inits(f)
    cleanup.remove_dead_stores(f, droppable)
    cleanup.propagate_copies(f, generated, returned=user)
    cleanup.merge_accumulations(f, fits, adjoint)
    cleanup.inline_handles(f, {"_pop"})
    cleanup.prune_inits(f)
    f.body = cleanup.drop_orphan_comments(f.body)


def _no_call_is_certain(call) -> bool:
    return False                    # (log, pair and _rt.add of the random functions may, for all the passes know)


class _Context:
    """The ``_c`` of a generated sweep: a tape to pop."""

    def __init__(self):
        self.tape = [0.25 * k - 3.0 for k in range(48)]


def _outcome(f, x, y):
    calls = []

    def log(v):
        calls.append(v)
        return v * 0.5

    c = _Context()

    def pair(a, b):                         # (as a callee's backward sweep does, it pops the tape)
        calls.append(("pair", a, b))
        return (a * 2.0 + c.tape.pop(), b - 1.0)
    try:
        value = run(f, c, x, y, ns={"_rt": _Runtime, "log": log, "pair": pair})
    except (TypeError, UnboundLocalError, NameError) as e:      # a wrong program fails: report it
        value = f"{type(e).__name__}: {e}"
    return repr(value), [repr(c) for c in calls], len(c.tape)


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_all_passes_keep_the_result_of_random_functions(backward):
    rng = random.Random(20240611)
    changed = 0
    for case in range(400):
        src = _Generator(rng).function()
        original = _parse_with_comments(src)
        before = [_outcome(original, x, y) for x, y in ((1.25, -0.5), (-2.0, 3.0))]
        assert all(not v.strip("'\"").startswith(("TypeError", "UnboundLocalError", "NameError"))
                   for v, _, _ in before), src
        tidied = _parse_with_comments(src)
        _tidy(tidied, backward)
        after = [_outcome(tidied, x, y) for x, y in ((1.25, -0.5), (-2.0, 3.0))]
        assert after == before, f"{src}\n--- after the passes:\n{unparse(_without_comments(tidied))}"
        changed += ast.dump(_without_comments(tidied)) != ast.dump(_without_comments(original))
        for st in tidied.body:
            if getattr(st, "init", False):
                assert isinstance(st.value, ast.Constant) and st.value.value is None
    assert changed > 200        # the passes did act on most of them


def test_the_random_functions_exercise_every_pass():
    """The generator makes inputs on which each pass acts (else the property test proves little)."""
    rng = random.Random(7)
    acted = {"prune_inits": 0, "propagate_copies": 0, "remove_dead_stores": 0, "inline_single_uses": 0,
             "drop_orphan_comments": 0, "name_temporaries": 0, "inline_call_results": 0,
             "merge_accumulations": 0, "fold_negations": 0, "merge_repeated_products": 0, "inline_handles": 0,
             "nest_guarded_chains": 0, "drop_settled_none_tests": 0}
    for _ in range(200):
        f = _parse_with_comments(_Generator(rng).function())
        for name in acted:
            before = ast.dump(ast.Module(f.body, []))
            fn = getattr(cleanup, name, None) or getattr(cleanup_exprs, name, None) or getattr(cleanup_none, name)
            if name in ("nest_guarded_chains", "drop_settled_none_tests"):
                fn(f, _no_call_is_certain, generated)
            elif name in ("fold_negations", "merge_repeated_products"):
                fn(f, generated)
            elif name in ("prune_inits", "inline_call_results"):
                fn(f)
            elif name == "drop_orphan_comments":
                f.body = fn(f.body)
            elif name == "inline_single_uses":
                fn(f, generated, lambda st: True, plain=lambda n: n.startswith("v"))
            elif name == "merge_accumulations":
                fn(f, lambda st, depth: True, generated)
            elif name == "inline_handles":
                fn(f, {"_pop"})
            else:
                fn(f, generated)
            acted[name] += ast.dump(ast.Module(f.body, [])) != before
    assert all(n > 5 for n in acted.values()), sorted(acted.items())


# == liveness.py on small call trees ================================================================

@pytest.fixture(scope="module")
def models():
    from tests import passes_models
    return passes_models


def compiled(f):
    from nbadjoint.transform.program import compile_tree
    program = compile_tree(f, 0)
    text = program.source()
    return program, text


def _function_text(text: str, name: str) -> str:
    start = text.index(f"def {name}(")
    end = text.find("\ndef ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_a_callee_whose_result_every_call_uses_gets_a_set_adjoint(models):
    program, text = compiled(models.used_everywhere)
    assert program.functions["square"].rv_live is True
    assert program.functions["used_everywhere"].rv_live is True
    assert program.functions["square"].returns_live == (True,)
    for name in ("square_bwd", "used_everywhere_bwd"):
        assert "_rv_b is not None" not in _function_text(text, name)
        assert "_rv_b is None" not in _function_text(text, name)
    # the caller adds the callee's certainly set adjoint with a plain +
    assert re.search(r"\n    a_b = a_b \+ _r\d+\[0\]\n", _function_text(text, "used_everywhere_bwd"))


def test_a_call_whose_result_is_discarded_runs_its_primal_and_is_not_reversed(models):
    program, text = compiled(models.discarded_somewhere)
    caller = _function_text(text, "discarded_somewhere_bwd")
    assert caller.count("discard_bwd(") == 1 and "discard_fwd(" not in _function_text(
        text, "discarded_somewhere_fwd").split("discard_primal(")[0]
    # the one call that is reversed passes a live adjoint
    assert program.functions["discard"].rv_live is True
    assert "_rv_b is not None" not in _function_text(text, "discard_bwd")


def test_a_writing_callee_whose_result_is_discarded_somewhere_may_get_none(models):
    program, text = compiled(models.discarded_noting)
    assert program.functions["discard_noting"].rv_live is False
    assert program.functions["discarded_noting"].rv_live is True
    assert "_rv_b is not None" in _function_text(text, "discard_noting_bwd")
    assert "_rv_b is not None" not in _function_text(text, "discarded_noting_bwd")
    # its parameter's adjoint may come back None, so the caller cannot rely on it
    assert program.functions["discard_noting"].returns_live == (False, False)


def test_a_parameter_whose_adjoint_is_set_in_one_branch_only_is_not_returned_live(models):
    program, text = compiled(models.gated)
    assert program.functions["gate"].rv_live is True
    assert program.functions["gate"].returns_live[0] is False
    assert "x_b = None" in _function_text(text, "gate_bwd")
    assert "_rv_b is not None" not in _function_text(text, "gate_bwd")
    # the caller adds an adjoint that may be None with the runtime's None-aware add
    assert re.search(r"x_b = _rt\.add\(x_b, _r\d+\[0\]\)", _function_text(text, "gated_bwd"))


def test_the_root_is_always_rv_live_and_liveness_crosses_two_levels(models):
    program, text = compiled(models.chain)
    assert program.functions[program.root_key].rv_live is True
    assert program.functions["middle"].rv_live is True
    assert program.functions["inner"].rv_live is True
    assert program.functions["inner"].returns_live == (True,)
    assert program.functions["middle"].returns_live == (True,)
    for key in ("inner", "middle", "chain"):
        assert "_rv_b is not None" not in _function_text(text, f"{key}_bwd")


def test_a_discarded_result_two_levels_down_withdraws_liveness_below_it(models):
    program, text = compiled(models.drops_middle_noting)
    assert program.functions["middle_noting"].rv_live is False
    assert program.functions["inner_noting"].rv_live is False          # middle passes on what it got
    assert program.functions["drops_middle_noting"].rv_live is True
    assert "_rv_b is not None" in _function_text(text, "inner_noting_bwd")
    # callees that write into nothing: the discarded call is not reversed at all
    program, text = compiled(models.drops_middle)
    assert program.functions["middle"].rv_live is True and program.functions["inner"].rv_live is True


def test_the_root_discarding_its_own_callees_result_is_still_rv_live(models):
    program, _ = compiled(models.root_only_discards_noting)
    assert program.functions[program.root_key].rv_live is True
    assert program.functions["inner_noting"].rv_live is False
    program, text = compiled(models.root_only_discards)
    assert program.functions[program.root_key].rv_live is True
    assert "square_bwd(" not in _function_text(text, "root_only_discards_bwd")


def test_a_specialised_body_is_split_only_where_the_guards_change_it(models):
    program, text = compiled(models.used_everywhere)
    for key, code in program.functions.items():
        assert code.split is (f"def {key}_bwd_general(" in text)


def test_no_function_of_a_tree_is_cyclic(models):
    from nbadjoint.transform.liveness import _cyclic
    for f in (models.used_everywhere, models.chain, models.discarded_somewhere):
        program, _ = compiled(f)
        assert _cyclic(program) == set()


def test_cyclic_finds_the_functions_on_a_cycle_of_calls():
    """(Recursion is refused when a program is built: a cycle is made by hand on the IR.)"""
    from types import SimpleNamespace
    from nbadjoint.transform.liveness import _cyclic

    def code(*callees):
        return SimpleNamespace(body=[ir.If(ir.Name("c"), [ir.Assign("r", ir.UserCall(k, f"x:1:{k}", []))
                                                         for k in callees], [])])
    program = SimpleNamespace(functions={"a": code("b"), "b": code("c"), "c": code("a", "d"), "d": code(),
                                         "e": code("e"), "f": code("a")})
    assert _cyclic(program) == {"a", "b", "c", "e"}


def test_liveness_keeps_the_gradients_right(models):
    import nbadjoint
    for f, x in ((models.used_everywhere, 0.7), (models.discarded_somewhere, 1.3), (models.chain, 0.4),
                 (models.drops_middle, 0.9), (models.gated, -0.6), (models.gated, 0.6)):
        g = nbadjoint.grad(f)(x)
        h = 1e-6
        numeric = (f(x + h) - f(x - h)) / (2 * h)
        assert math.isclose(float(g), float(numeric), rel_tol=1e-5, abs_tol=1e-7), f.__name__


# == plans.py ======================================================================================

def _plans(program, key):
    """(statement, plan) of every IR statement of function ``key`` that has a plan."""
    code = program.functions[key]
    return [(st, code.plans[id(st)]) for st in ir.walk(code.body) if id(st) in code.plans]


def _contribs(plan):
    return [(n, unparse(t) if isinstance(t, ast.AST) else t, mode) for n, t, mode in plan.contribs]


def test_plans_of_arithmetic_a_primitive_and_a_call(models):
    program, _ = compiled(models.planned)
    code = program.functions["planned"]
    assert "k" not in code.active and "c" not in code.active          # argnums=0: k is not differentiated
    plans = {st.target: plan for st, plan in _plans(program, "planned") if isinstance(st, ir.Assign)}
    # y = x * k: the adjoint of x needs k, not x
    assert _contribs(plans["y"]) == [("x", "y_b * k", "bplus")] and plans["y"].reads == {"k"}
    # z = np.sin(y): reads y for its derivative
    assert _contribs(plans["z"]) == [("y", "z_b * np.cos(y)", "plus")] and plans["z"].reads == {"y"}
    # w = y + 1.0: passes its adjoint on and reads nothing
    assert _contribs(plans["w"]) == [("y", "w_b", "bplus")] and plans["w"].reads == set()
    # c = k * 2.0: inactive, nothing to do
    assert plans["c"].contribs == [] and plans["c"].reads == set()
    # s = square(w): a call site, reversed by the callee's backward sweep, which reads its arguments
    assert plans["s"].call is True and plans["s"].contribs == [] and plans["s"].reads == {"w"}
    assert all(not plan.shape_only and plan.getitem is None for plan in plans.values())


def test_the_plan_of_a_statement_that_rebinds_its_operand_reads_the_old_value(models):
    program, _ = compiled(models.self_update)
    first = next(plan for st, plan in _plans(program, "self_update")
                 if isinstance(st, ir.Assign) and st.target == "x")
    assert _contribs(first) == [("x", "x_b * np.cos(_OLD_)", "plus")]
    assert first.reads == {"x"}          # the value x had before the statement: taped or recomputed


# == copies of trees ===============================================================================

class _RefusesDeepcopy:
    def __deepcopy__(self, memo):
        raise AssertionError("an ast tree was copied with copy.deepcopy")


def test_no_tree_is_deep_copied_so_foreign_attributes_on_shared_nodes_cost_nothing(tmp_path):
    """IPython's tracebacks (through `executing`) set a `parent` attribute on the context and
    operator nodes that all parsed trees share, reaching a whole module's tree; copy.deepcopy of any
    tree then copied that module too, and compiling a small function took 11 s instead of 0.1 s
    after a traceback. Trees are copied with templates.clone, which copies fields only."""
    import importlib.util
    import numpy as np
    import nbadjoint
    src = textwrap.dedent("""
        import numpy as np

        def step(u, k):
            v = u.copy()
            v[1:-1] = u[1:-1] + k * (u[2:] - 2.0 * u[1:-1] + u[:-2])
            return -v if k < 0 else v

        def model(u, k):
            acc = [0.0, 1.0]
            for t in range(3):
                u = step(u, k)
                acc.append(float(np.sum(u * u)))
            return sum(acc) / len(acc) + (not k) * 2.0
        """)
    path = tmp_path / "copies_model.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("copies_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sample = ast.parse("a = -b + c[d] * e < f and not g or h | i")
    shared = {id(n): n for n in ast.walk(sample)
              if isinstance(n, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop))}
    for n in shared.values():
        n.parent = _RefusesDeepcopy()
    try:
        u = np.linspace(0.0, 1.0, 8)
        g = nbadjoint.grad(mod.model)(u, 0.1)
        assert "model_bwd" in nbadjoint.adjoint_source(mod.model)
    finally:
        for n in shared.values():
            del n.parent
    h = 1e-6
    e = np.eye(8)[3]
    numeric = (mod.model(u + h * e, 0.1) - mod.model(u - h * e, 0.1)) / (2 * h)
    assert math.isclose(g[3], numeric, rel_tol=1e-6)


def _views_then_writes(x):
    w = np.zeros(5)
    for j in range(5):
        w[j] = np.sin(x[j]) * x[4]
    w[::2] *= np.cos(x[::2])          # reads w through a view, then writes
    return np.sum(np.tanh(w) * x)


def _own_list(x, c):
    out = [0.0] * len(x)
    for i in range(len(x)):
        out[i] = c * x[i] * x[i]
    return out[0] + out[-1] * c


def test_writes_into_a_list_the_function_built_are_not_undone_unless_something_sees_its_memory():
    from nbadjoint.transform.program import compile_tree
    from gradcheck import check_grad
    x = np.array([0.4, -0.3, 0.8, 0.1, -0.6])
    program = compile_tree(_own_list, 0)
    assert program.functions["_own_list"].no_undo == {"out"}
    assert "restore_item(out" not in program.source()
    check_grad(_own_list, ([0.4, -0.3, 0.8], 1.5), (0, 1))
    program = compile_tree(_views_then_writes, 0)
    assert program.functions["_views_then_writes"].no_undo == set()      # w[::2] is a view of w
    check_grad(_views_then_writes, (x,), 0)


def test_a_recomputed_primal_value_read_once_is_computed_where_it_is_read():
    src = """
        def f(u, w, g):
            d = u - w
            x_b = g * d
            return x_b
    """
    f = fdef(src)
    f.body[0].comment = "recomputed, not taped"
    cleanup.inline_single_uses(f, generated, lambda st: True)
    assert body(f) == "return g * (u - w)"
    f = fdef(src)                                     # a primal value computed once is left alone
    cleanup.inline_single_uses(f, generated, lambda st: True)
    assert body(f).startswith("d = u - w")
    moved = fdef("""
        def f(u, w, g):
            d = u - w
            u = g * 2.0
            x_b = g * d
            return x_b
    """)
    moved.body[0].comment = "recomputed, not taped"
    cleanup.inline_single_uses(moved, generated, lambda st: True)
    assert body(moved).startswith("d = u - w")       # u is assigned before the read: it stays
